"""Sample weights, class weights and multi-output regression: the solvers
against their twins in tests/reference.py, the estimators against
scikit-learn on the same objective, and the edge cases of the weights."""

import math

import numpy as np
import pytest
import reference
from conftest import BACKENDS
from sklearn import config_context
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import AdaBoostClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from lpcore import LowPrecisionClassifier, LowPrecisionRegressor, _core, _data, _solver

ARGS = dict(eta=0.05, alpha=0.01, mu=0.5, delta=0.01, epoch_length=40, max_iter=2, fit_intercept=True, seed=7)
LOSSES = [("squared", 1), ("squared", 2), ("logistic", 1), ("multinomial", 3)]


def problem(bits, loss, K, n=30, d=40, seed=0, extreme=False):
    """Data at `bits`, targets (2-D for squared K > 1) and weights with zeros
    (extreme: spanning 1e-300 to 1e300 as well)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    if loss == "squared":
        y = X @ rng.normal(size=(d, K)) + 0.1 * rng.normal(size=(n, K))
        y = np.ascontiguousarray(y if K > 1 else y[:, 0])
    elif loss == "logistic":
        y = np.where(X[:, 0] + 0.5 * rng.normal(size=n) > 0, 1.0, -1.0)
    else:
        y = rng.integers(0, K, n).astype(np.float64)
    v = rng.integers(0, 4, n).astype(np.float64)  # a quarter of the rows weigh 0
    v[0] = 0.0
    if extreme:
        v *= 10.0 ** rng.choice([-300, 0, 300], n)
    if bits == 32:
        return X, None, y, v
    data = _data.prepare(X, bits, pad=False)
    return data.rows, data.row_scale, y, v


def run(Xq, rs, y, K, v, backend=None, method="halp", loss="squared", **kw):
    cfg = _solver.config(method, loss, **dict(dict(tol=0.0, verbose=0), **kw))
    return _core.fit(Xq, rs, y, np.zeros((K, Xq.shape[1]), np.float32), np.zeros(K), cfg, backend, v)


# ---- the sampler ---------------------------------------------------------------


@pytest.mark.parametrize("weights", [[1, 1, 1, 1], [0, 1, 0, 3, 5, 0, 0.5], [1e-300, 1, 1e300], [2.0**-1074, 0, 1]])
def test_alias_table_draws_each_row_in_proportion_to_its_weight(weights):
    w = np.asarray(weights, dtype=np.float64)
    table = reference.alias_table(w)
    n = len(w)
    p = np.zeros(n)
    for col, (threshold, alias) in enumerate(table):
        keep = threshold / 2.0**64
        p[col] += keep / n
        p[alias] += (1.0 - keep) / n
    np.testing.assert_allclose(p, w / w.sum(), atol=1e-15)
    assert all(p[i] == 0 for i in range(n) if w[i] == 0)  # a zero weight is never drawn


def test_weighted_draws_follow_the_weights():
    w = np.array([0.0, 1.0, 2.0, 0.0, 5.0])
    sampler = reference.RowSampler(123, len(w), w)
    counts = np.bincount([sampler.next() for _ in range(40000)], minlength=len(w))
    assert counts[0] == counts[3] == 0
    np.testing.assert_allclose(counts / counts.sum(), w / w.sum(), atol=0.01)


# ---- the solver against its twin --------------------------------------------------


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("loss,K", LOSSES)
@pytest.mark.parametrize("method", ["sgd", "svrg", "halp"])
@pytest.mark.parametrize("extreme", [False, True])
def test_weighted_solver_matches_reference_exactly(bits, loss, K, method, extreme, backend):
    Xq, rs, y, v = problem(bits, loss, K, extreme=extreme)
    r = run(Xq, rs, y, K, v, backend=backend, method=method, loss=loss, **ARGS)
    ref = reference.fit_reference(Xq, rs, y, K, method=method, loss=loss, bits=bits, sample_weight=v, **ARGS)
    assert np.any(ref["coef"] != 0)
    np.testing.assert_array_equal(r.coef, ref["coef"])
    np.testing.assert_array_equal(r.offset, ref["offset"])
    np.testing.assert_allclose(r.intercept, ref["intercept"], rtol=1e-12)
    np.testing.assert_allclose(r.history["objective"], ref["objective"], rtol=1e-12)


@pytest.mark.parametrize("loss,K", LOSSES)
@pytest.mark.parametrize("method", ["sgd", "svrg"])
def test_weighted_fp32_solver_matches_float64_reference(loss, K, method, backend):
    X, _, y, v = problem(32, loss, K)
    args = dict(ARGS, eta=0.02)
    r = run(X, None, y, K, v, backend=backend, method=method, loss=loss, **args)
    ref = reference.fit_reference(X, None, y, K, method=method, loss=loss, bits=32, sample_weight=v, **args)
    np.testing.assert_allclose(r.coef, ref["coef"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(r.history["objective"], ref["objective"], rtol=1e-5)


@pytest.mark.parametrize("bits", [8, 16, 32])
@pytest.mark.parametrize("loss,K", LOSSES)
@pytest.mark.parametrize("method", ["sgd", "svrg", "halp"])
def test_weighted_backends_train_identical_models(bits, loss, K, method):
    Xq, rs, y, v = problem(bits, loss, K, n=60, d=100, seed=3)
    fits = [run(Xq, rs, y, K, v, backend=be, method=method, loss=loss, **dict(ARGS, max_iter=3)) for be in BACKENDS]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.coef, fits[0].coef)
        np.testing.assert_array_equal(other.intercept, fits[0].intercept)


@pytest.mark.parametrize("method", ["sgd", "svrg"])
def test_fp32_multi_output_is_the_single_output_fits_side_by_side(method, backend):
    # At 32 bits nothing is random but the rows drawn, which do not depend on
    # the targets: K outputs trained together are the K fits, bit for bit.
    X, _, Y, v = problem(32, "squared", 3)
    together = run(X, None, Y, 3, v, backend=backend, method=method, **ARGS)
    for k in range(3):
        alone = run(X, None, np.ascontiguousarray(Y[:, k]), 1, v, backend=backend, method=method, **ARGS)
        np.testing.assert_array_equal(together.coef[k], alone.coef[0])
        np.testing.assert_array_equal(together.intercept[k], alone.intercept[0])


def test_float_grad_solver_with_weights_matches_reference():
    X, _, y, v = problem(32, "logistic", 1)
    fmt = (7, -126, 3.3895313892515355e38)  # bf16
    cfg = _solver.config("sgd", "logistic", eta=0.05, alpha=1e-3, epoch_length=50, max_iter=2, seed=7, tol=0.0)
    grad = _core.FloatGradConfig()
    grad.format = 1  # bf16
    out = _core.fit_float_grad(X, y, np.zeros((1, X.shape[1]), np.float32), np.zeros(1), cfg, grad, None, v)
    w, b, _ = reference.fit_float_grad_reference(X, y, 1, "logistic", 0.05, 1e-3, 50, 2, True, 7, fmt,
                                                 sample_weight=v)
    np.testing.assert_allclose(out.fit.coef, w, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(out.fit.intercept, b, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize(
    "weights,match",
    [
        (lambda n: -np.ones(n), "finite and >= 0"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "finite and >= 0"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "finite and >= 0"),
        (lambda n: np.zeros(n), "positive, finite sum"),
        (lambda n: np.full(n, 1e308), "positive, finite sum"),
        (lambda n: np.ones(n - 1), "lengths differ"),
    ],
)
def test_solver_refuses_bad_weights(weights, match):
    Xq, rs, y, _ = problem(8, "logistic", 1)
    with pytest.raises(ValueError, match=match):
        run(Xq, rs, y, 1, np.ascontiguousarray(weights(len(y))), loss="logistic", **ARGS)


def test_solver_refuses_targets_of_the_wrong_shape():
    Xq, rs, Y, v = problem(8, "squared", 2)
    with pytest.raises(ValueError, match="2 value"):
        run(Xq, rs, np.ascontiguousarray(Y[:, 0]), 2, v, **ARGS)
    with pytest.raises(ValueError, match="logistic loss has one output"):
        run(Xq, rs, np.ones(len(v)), 2, v, loss="logistic", **ARGS)


# ---- the estimators ----------------------------------------------------------------


def classification(n=400, d=8, classes=2, seed=0):
    X, y = make_classification(n_samples=n, n_features=d, n_informative=5, n_classes=classes, random_state=seed)
    return StandardScaler().fit_transform(X), y


def rounded(X, bits):
    """X as the fit sees it: rounded per row at `bits` (float32 at 32)."""
    data = _data.prepare(X, bits, pad=False)
    rows = data.rows.astype(np.float64)
    return rows * data.row_scale[:, None] if bits != 32 else rows


def weighted_objective(loss, X, y, v, coef, intercept, alpha):
    m = X @ np.atleast_2d(coef).T + intercept
    if loss == "squared":
        per = 0.5 * ((m - (y if y.ndim == 2 else y[:, None])) ** 2).sum(axis=1)
    elif loss == "logistic":
        per = np.logaddexp(0.0, -np.where(y == 1, 1.0, -1.0) * m[:, 0])
    else:
        top = m.max(axis=1, keepdims=True)
        per = (top[:, 0] + np.log(np.exp(m - top).sum(axis=1))) - m[np.arange(len(y)), y]
    return float(v @ per / v.sum() + 0.5 * alpha * np.sum(np.asarray(coef, dtype=np.float64) ** 2))


# The solver, tol and the gap to scikit-learn's optimum of the same objective
# on the same rounded data: 1e-6 at 32 bits (whose float32 model stops near a
# relative gradient norm of 1e-6), 1e-4 at 8 (HALP, which may go on at 16 bits).
GAPS = {32: ("svrg", 1e-6, 1e-6), 8: ("halp", 1e-7, 1e-4)}


@pytest.mark.parametrize("bits", [32, 8])
@pytest.mark.parametrize("classes", [2, 3])
def test_weighted_classifier_reaches_logistic_regressions_optimum(bits, classes):
    X, y = classification(classes=classes)
    v = np.random.default_rng(1).integers(0, 5, len(y)).astype(np.float64)
    alpha = 1e-3
    solver, tol, gap = GAPS[bits]
    clf = LowPrecisionClassifier(solver=solver, bits=bits, alpha=alpha, tol=tol, max_iter=2000, random_state=0)
    clf.fit(X, y, sample_weight=v)
    Xr = rounded(X, clf.bits_)
    lr = LogisticRegression(C=1.0 / (alpha * v.sum()), tol=1e-12, max_iter=100000).fit(Xr, y, sample_weight=v)
    loss = "logistic" if classes == 2 else "multinomial"
    ours = weighted_objective(loss, Xr, y, v, clf.coef_, clf.intercept_, alpha)
    best = weighted_objective(loss, Xr, y, v, lr.coef_, lr.intercept_, alpha)
    assert (ours - best) / abs(best) < gap, (ours, best)


@pytest.mark.parametrize("bits", [32, 8])
@pytest.mark.parametrize("targets", [1, 3])
def test_weighted_regressor_reaches_ridges_optimum(bits, targets):
    X, y = make_regression(n_samples=400, n_features=8, n_targets=targets, noise=5.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    y = y / y.std()
    v = np.random.default_rng(2).integers(0, 5, len(y)).astype(np.float64)
    alpha = 1e-3
    solver, tol, gap = GAPS[bits]
    reg = LowPrecisionRegressor(solver=solver, bits=bits, alpha=alpha, tol=tol, max_iter=2000, random_state=0)
    reg.fit(X, y, sample_weight=v)
    assert reg.coef_.shape == ((targets, 8) if targets > 1 else (8,))
    Xr = rounded(X, reg.bits_)
    ridge = Ridge(alpha=alpha * v.sum(), tol=1e-12).fit(Xr, y, sample_weight=v)
    ours = weighted_objective("squared", Xr, y, v, reg.coef_, reg.intercept_, alpha)
    best = weighted_objective("squared", Xr, y, v, ridge.coef_, ridge.intercept_, alpha)
    assert (ours - best) / abs(best) < gap, (ours, best)
    assert reg.predict(X).shape == y.shape


@pytest.mark.parametrize("Est", [LowPrecisionClassifier, LowPrecisionRegressor])
def test_integer_weights_fit_the_rows_repeated(Est):
    X, y = classification(n=200, classes=3)
    if Est is LowPrecisionRegressor:
        y = X @ np.arange(1.0, 9.0) + np.random.default_rng(0).normal(size=len(y))
    v = np.random.default_rng(3).integers(0, 4, len(y))
    kw = dict(solver="svrg", bits=32, alpha=1e-2, tol=1e-6, max_iter=3000, random_state=0)
    weighted = Est(**kw).fit(X, y, sample_weight=v)
    repeated = Est(**kw).fit(X.repeat(v, axis=0), y.repeat(v))
    # Both stop at a relative gradient norm of 1e-6 (alpha 1e-2): to about 1e-4 of the same optimum.
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-3, atol=1e-4)


CONFIGS = [dict(solver="halp", bits=8), dict(solver="svrg", bits=16), dict(solver="sgd", bits=32),
           dict(solver="sgd", bits=32, grad_format="fp8_e4m3")]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_equal_weights_are_no_weights_bit_for_bit(cfg):
    X, y = classification(classes=3)
    kw = dict(cfg, max_iter=5, tol=0, random_state=0)
    plain = LowPrecisionClassifier(**kw).fit(X, y)
    for v in (np.full(len(y), 2.5), 7, [1] * len(y)):
        other = LowPrecisionClassifier(**kw).fit(X, y, sample_weight=v)
        np.testing.assert_array_equal(other.coef_, plain.coef_)
        np.testing.assert_array_equal(other.intercept_, plain.intercept_)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_zero_weight_rows_do_not_touch_the_model(cfg):
    # Rows of weight 0 are never drawn and add nothing to the full pass: any
    # values there, even ones a fit would diverge on, leave the model as it is.
    X, y = classification(classes=2)
    v = np.random.default_rng(4).integers(0, 3, len(y)).astype(float)
    zero = v == 0
    X2, y2 = X.copy(), y.copy()
    X2[zero] *= 1e6
    y2[zero] = 1 - y2[zero]
    kw = dict(cfg, max_iter=5, tol=0, random_state=0)
    a = LowPrecisionClassifier(**kw).fit(X, y, sample_weight=v)
    b = LowPrecisionClassifier(**kw).fit(X2, y2, sample_weight=v)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)


@pytest.mark.parametrize(
    "weights,match",
    [
        (lambda n: -np.ones(n), "Negative values"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "infinity"),
        (lambda n: np.zeros(n), "at least one non-zero"),
        (lambda n: np.ones(n + 1), "expected"),
        (lambda n: np.ones((n, 1)), "1D array"),
    ],
)
@pytest.mark.parametrize("Est", [LowPrecisionClassifier, LowPrecisionRegressor])
def test_bad_sample_weight_is_refused_and_the_estimator_kept(Est, weights, match):
    X, y = classification()
    est = Est(random_state=0, max_iter=3).fit(X, y)
    before = est.coef_.copy()
    with pytest.raises(ValueError, match=match):
        est.fit(X, y, sample_weight=weights(len(y)))
    np.testing.assert_array_equal(est.coef_, before)


def test_huge_and_tiny_weights_are_scaled_not_overflowed():
    X, y = classification()
    v = np.random.default_rng(5).integers(1, 4, len(y)).astype(float)
    kw = dict(max_iter=5, tol=0, random_state=0)
    a = LowPrecisionClassifier(**kw).fit(X, y, sample_weight=v)
    for scale in (1e306, 1e-306):  # 400 rows of 1e306 sum beyond float64's range
        b = LowPrecisionClassifier(**kw).fit(X, y, sample_weight=v * scale)
        np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-5, atol=1e-6)


def test_balanced_class_weight_of_a_weightless_class_is_refused():
    X, y = classification(classes=3)
    v = np.where(y == 2, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"cannot weigh class\(es\) \[2\]"):
        LowPrecisionClassifier(class_weight="balanced").fit(X, y, sample_weight=v)


def test_class_weight_is_a_sample_weight_per_class():
    X, y = classification(classes=3)
    kw = dict(max_iter=5, tol=0, random_state=0)
    v = np.random.default_rng(6).integers(1, 4, len(y)).astype(float)
    weights = {0: 2.0, 2: 0.5}
    a = LowPrecisionClassifier(class_weight=weights, **kw).fit(X, y, sample_weight=v)
    b = LowPrecisionClassifier(**kw).fit(X, y, sample_weight=v * np.array([2.0, 1.0, 0.5])[y])
    np.testing.assert_array_equal(a.coef_, b.coef_)
    bal = LowPrecisionClassifier(class_weight="balanced", **kw).fit(X[:300], y[:300])
    ref = LowPrecisionClassifier(**kw).fit(X[:300], y[:300], sample_weight=compute_sample_weight("balanced", y[:300]))
    np.testing.assert_allclose(bal.coef_, ref.coef_, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"class_weight\[0\] must be a finite number >= 0"):
        LowPrecisionClassifier(class_weight={0: -1.0}).fit(X, y)
    with pytest.raises(ValueError, match=r"class_weight\[1\] must be a finite number >= 0"):
        LowPrecisionClassifier(class_weight={1: math.nan}).fit(X, y)


def test_adaboost_trains_on_the_classifier():
    X, y = classification(n=300)
    boost = AdaBoostClassifier(LowPrecisionClassifier(max_iter=20, random_state=0), n_estimators=5, random_state=0)
    boost.fit(X, y)
    assert len(boost.estimators_) >= 2  # the weights changed between rounds
    assert boost.score(X, y) > 0.8


def test_grid_search_routes_sample_weight_to_fit():
    X, y = classification(n=300)
    v = np.random.default_rng(7).integers(0, 3, len(y)).astype(float)
    with config_context(enable_metadata_routing=True):
        est = LowPrecisionClassifier(max_iter=10, tol=0, random_state=0)
        est = est.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        search = GridSearchCV(est, {"alpha": [1e-3, 1e-2]}, cv=3).fit(X, y, sample_weight=v)
    alpha = search.best_params_["alpha"]
    direct = LowPrecisionClassifier(max_iter=10, tol=0, random_state=0, alpha=alpha).fit(X, y, sample_weight=v)
    unweighted = LowPrecisionClassifier(max_iter=10, tol=0, random_state=0, alpha=alpha).fit(X, y)
    np.testing.assert_array_equal(search.best_estimator_.coef_, direct.coef_)
    assert not np.array_equal(direct.coef_, unweighted.coef_)


def test_multi_output_shapes_and_predictions():
    X, Y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    Y = Y / Y.std(axis=0)
    reg = LowPrecisionRegressor(random_state=0).fit(X, Y)
    assert reg.coef_.shape == (2, 5) and reg.intercept_.shape == (2,)
    P = reg.predict(X)
    assert P.shape == (200, 2)
    np.testing.assert_allclose(P, X @ reg.coef_.T + reg.intercept_, rtol=1e-10)
    assert reg.score(X, Y) > 0.99
    one = LowPrecisionRegressor(random_state=0).fit(X, Y[:, :1])  # a 2-D y of one column stays 2-D, as Ridge
    assert one.coef_.shape == (1, 5) and one.predict(X).shape == (200, 1)
    with pytest.raises(ValueError, match="0 feature"):  # scikit-learn's check of y
        LowPrecisionRegressor().fit(X, np.empty((200, 0)))
