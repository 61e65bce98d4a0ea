"""fp32 SGD / SVRG with gradients in a simulated float format (grad_format)."""

import warnings

import lpcore
import ml_dtypes
import numpy as np
import pytest
import reference
from conftest import output_per_backend
from lpcore import LowPrecisionClassifier, LowPrecisionRegressor
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

KEYS = {"q_min", "q_mean", "norm_ratio_mean", "zero_fraction", "overflow_fraction", "step_multiplier",
        "log2_scale_mean"}


def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X)[:600], y[:600]


def fit(Est, X, y, **kw):
    params = dict(solver="sgd", bits=32, tol=0, max_iter=4, random_state=0)
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Est(**params).fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "svrg"])
def test_fit_records_shrinkage_per_epoch(solver):
    X, y = digits()
    m = fit(LowPrecisionClassifier, X, y, solver=solver, grad_format="fp8_e4m3", grad_scaling="dynamic")
    assert set(m.shrinkage_) == KEYS
    for v in m.shrinkage_.values():
        assert v.shape == (m.n_iter_,) == (4,)
    assert set(m.history_) == {"objective", "grad_norm", "seconds", "inner_seconds", "saturated", "scale", "mu", "eta",
                               "bits", "data_bits"}
    assert np.isnan(m.history_["mu"]).all() and m.mu_ is None
    assert m.score(X, y) > 0.95
    assert (m.shrinkage_["q_min"] <= m.shrinkage_["q_mean"]).all()
    assert (m.shrinkage_["step_multiplier"] == 1).all()
    # dynamic scaling lifts the gradient to the top of the E4M3 range: 2^k with k > 0 here
    assert (m.shrinkage_["log2_scale_mean"] > 0).all()
    assert fit(LowPrecisionClassifier, X, y).shrinkage_ is None


def test_fp4_without_scaling_shrinks_and_flushes():
    X, y = digits()
    fp4 = fit(LowPrecisionClassifier, X, y, grad_format="fp4_e2m1").shrinkage_
    fp16 = fit(LowPrecisionClassifier, X, y, grad_format="fp16").shrinkage_
    assert (fp4["q_min"] < 1).all() and (fp4["zero_fraction"] > 0).all()
    assert (fp4["q_mean"] < fp16["q_mean"]).all() and (fp4["zero_fraction"] > fp16["zero_fraction"]).all()
    assert (fp16["q_mean"] > 0.99).all()


def test_compensation_restores_progress():
    """Toward-zero FP4 with dynamic scaling shrinks every step (q ~ 0.7); at a small
    step, dividing by the running q makes more progress per epoch."""
    X, y = make_regression(n_samples=400, n_features=10, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    kw = dict(grad_format="fp4_e2m1", grad_rounding="toward_zero", grad_scaling="dynamic", eta=0.001, max_iter=3)
    plain = fit(LowPrecisionRegressor, X, y, **kw)
    comp = fit(LowPrecisionRegressor, X, y, step_compensation="shrinkage", **kw)
    q = plain.shrinkage_["q_mean"]
    assert (q < 0.9).all()
    mult = comp.shrinkage_["step_multiplier"]
    assert (mult > 1).all() and (mult <= 1 / lpcore._solver.SHRINKAGE_Q_FLOOR).all()
    assert (comp.history_["objective"] < plain.history_["objective"]).all()
    # the multiplier tracks 1 / q (after the first epoch's warm-up of the running estimate)
    np.testing.assert_allclose(mult[1:], 1 / comp.shrinkage_["q_mean"][1:], rtol=0.1)


def test_compensated_step_is_capped():
    X, y = digits()
    m = fit(LowPrecisionClassifier, X, y, grad_format="fp4_e2m1", step_compensation="shrinkage", max_iter=3)
    assert m.shrinkage_["q_mean"][-1] < lpcore._solver.SHRINKAGE_Q_FLOOR
    assert m.shrinkage_["step_multiplier"][-1] == pytest.approx(1 / lpcore._solver.SHRINKAGE_Q_FLOOR)


@pytest.mark.parametrize("loss_case", ["multinomial", "logistic", "squared"])
@pytest.mark.parametrize("scaling, compensate", [("none", False), ("dynamic", True)])
def test_matches_numpy_twin(loss_case, scaling, compensate):
    rng = np.random.default_rng(0)
    if loss_case == "squared":
        X, y = make_regression(n_samples=60, n_features=7, noise=0.5, random_state=1)
        X = StandardScaler().fit_transform(X)
        est, target, K = LowPrecisionRegressor, y, 1
    else:
        classes = 3 if loss_case == "multinomial" else 2
        X, y = make_classification(n_samples=60, n_features=7, n_informative=5, n_classes=classes, random_state=1)
        est, K = LowPrecisionClassifier, classes if classes > 2 else 1
        target = y.astype(float) if classes > 2 else np.where(y == 1, 1.0, -1.0)
    X = X + 0.01 * rng.standard_normal(X.shape)
    step_comp = "shrinkage" if compensate else "none"
    m = fit(est, X, y, grad_format="bf16", grad_scaling=scaling, step_compensation=step_comp, eta=0.05, max_iter=2,
            alpha=1e-3, epoch_length=50, random_state=7)
    fi = ml_dtypes.finfo(ml_dtypes.bfloat16)
    w, b, q_means = reference.fit_float_grad_reference(
        X, target, K, loss_case, 0.05, 1e-3, 50, 2, True, 7, (int(fi.nmant), int(fi.minexp), float(fi.max)),
        scaling=scaling, compensate=compensate)
    np.testing.assert_allclose(m._coef, w, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(m._intercept, b, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(m.shrinkage_["q_mean"], q_means, rtol=1e-3)


def test_same_seed_same_model_on_every_backend(tmp_path):
    code = (
        "import numpy as np, lpcore\n"
        "from sklearn.datasets import make_classification\n"
        "X, y = make_classification(n_samples=200, n_features=40, n_classes=3, n_informative=6, random_state=0)\n"
        "out = []\n"
        "for solver in ('sgd', 'svrg'):\n"
        "    for fmt, rounding, scaling in (('fp8_e4m3', 'stochastic', 'dynamic'), ('fp4_e2m1', 'nearest', 'none'),\n"
        "                                   ('bf16', 'toward_zero', 64.0)):\n"
        "        m = lpcore.LowPrecisionClassifier(solver=solver, bits=32, grad_format=fmt, grad_rounding=rounding,\n"
        "            grad_scaling=scaling, step_compensation='shrinkage', max_iter=3, tol=0, random_state=5).fit(X, y)\n"
        "        out.append(m.coef_.tobytes().hex() + m.intercept_.tobytes().hex()\n"
        "                   + m.shrinkage_['q_mean'].tobytes().hex())\n"
        "print(lpcore.backend(), '|'.join(out))\n"
    )
    results = output_per_backend(code, tmp_path)
    assert len(set(results.values())) == 1


def test_stochastic_rounding_depends_on_the_seed():
    X, y = digits()
    a = fit(LowPrecisionClassifier, X, y, grad_format="fp4_e2m1", grad_rounding="stochastic", max_iter=1)
    b = fit(LowPrecisionClassifier, X, y, grad_format="fp4_e2m1", grad_rounding="stochastic", max_iter=1)
    c = fit(LowPrecisionClassifier, X, y, grad_format="fp4_e2m1", grad_rounding="stochastic", max_iter=1,
            random_state=1)
    assert np.array_equal(a.coef_, b.coef_) and not np.array_equal(a.coef_, c.coef_)


def test_bad_combinations_are_rejected_clearly():
    X, y = digits()
    for params in (dict(solver="halp", bits=32), dict(solver="sgd", bits=8)):
        with pytest.raises(ValueError, match="needs solver='sgd' or 'svrg' with bits=32"):
            LowPrecisionClassifier(grad_format="fp16", **params).fit(X, y)
    for params in (dict(grad_scaling="dynamic"), dict(step_compensation="shrinkage"), dict(grad_rounding="stochastic")):
        with pytest.raises(ValueError, match="only apply to quantized gradients"):
            LowPrecisionClassifier(solver="sgd", bits=32, **params).fit(X, y)
    for params in (dict(grad_format="fp32"), dict(grad_rounding="up"), dict(grad_scaling=-1.0),
                   dict(grad_scaling="auto"), dict(step_compensation="yes")):
        with pytest.raises(ValueError, match=next(iter(params))):
            LowPrecisionClassifier(solver="sgd", bits=32, **{"grad_format": "fp16", **params}).fit(X, y)


def test_ieee_overflow_in_a_fixed_loss_scale_is_saturated():
    """A loss scale far too large saturates every entry instead of producing inf."""
    X, y = digits()
    m = fit(LowPrecisionClassifier, X, y, grad_format="fp8_e4m3", grad_scaling=1e30, max_iter=1, eta=1e-4)
    assert m.shrinkage_["overflow_fraction"][0] > 0.5
    assert np.isfinite(m.coef_).all()
