"""The scikit-learn estimators: API conventions, composition and bad input."""

import pickle
import warnings

import numpy as np
import pytest
from conftest import output_per_backend
from lpcore import (
    DivergenceError,
    LowPrecisionClassifier,
    LowPrecisionRegressor,
    SaturationWarning,
)
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

CONFIGS = [
    dict(solver="halp", bits=8),
    dict(solver="halp", bits=16),
    dict(solver="svrg", bits=8),
    dict(solver="sgd", bits=16),
    dict(solver="svrg", bits=32),
    dict(solver="sgd", bits=32),
    dict(solver="sgd", bits=32, grad_format="fp8_e4m3", grad_scaling="dynamic"),
]


def _estimators():
    for cfg in CONFIGS:
        yield LowPrecisionRegressor(random_state=0, **cfg)
        yield LowPrecisionClassifier(random_state=0, **cfg)


def _expected_failed_checks(estimator):
    return {}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::lpcore.SaturationWarning")
@parametrize_with_checks(list(_estimators()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def regression(n=300, d=8, seed=0):
    X, y = make_regression(n_samples=n, n_features=d, noise=0.5, random_state=seed)
    return X, y


@pytest.mark.parametrize("solver", ["halp", "svrg", "sgd"])
@pytest.mark.parametrize("bits", [8, 16, 32])
def test_regressor_fits(solver, bits):
    X, y = regression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LowPrecisionRegressor(solver=solver, bits=bits, random_state=0).fit(X, y)
    assert model.score(X, y) > 0.99
    assert model.coef_.shape == (8,) and isinstance(model.intercept_, float)
    assert model.n_iter_ == len(model.history_["objective"]) >= 1
    assert set(model.history_) == {"objective", "grad_norm", "seconds", "inner_seconds", "saturated", "scale", "mu"}
    has_mu = solver == "halp" and bits != 32
    assert np.isnan(model.history_["mu"]).all() != has_mu
    assert (model.data_rounding_error_ == 0) == (bits == 32)
    assert (model.scale_ is None) == (bits == 32)


@pytest.mark.filterwarnings("ignore::lpcore.SaturationWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classifier_binary_and_multinomial():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=1)
    labels = np.array(["no", "yes"])[y]
    clf = LowPrecisionClassifier(random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["no", "yes"]
    assert clf.coef_.shape == (1, 6) and clf.intercept_.shape == (1,)
    assert clf.decision_function(X).shape == (300,)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert clf.score(X, labels) > 0.85

    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LowPrecisionClassifier(random_state=0)).fit(X, y)
    clf = pipe[-1]
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    assert clf.decision_function(pipe[0].transform(X)).shape == (150, 3)
    assert pipe.score(X, y) > 0.9


def test_grid_search_over_solver_and_bits():
    X, y = regression(n=200, d=5)
    grid = GridSearchCV(
        make_pipeline(StandardScaler(), LowPrecisionRegressor(random_state=0, max_iter=20)),
        {"lowprecisionregressor__solver": ["halp", "svrg"], "lowprecisionregressor__bits": [8, 16, 32]},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 6
    assert grid.best_score_ > 0.99


def test_clone_and_pickle_round_trip():
    X, y = regression()
    model = LowPrecisionRegressor(bits=16, solver="svrg", random_state=3).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    fresh = clone(model)
    assert fresh.get_params() == model.get_params() and not hasattr(fresh, "coef_")
    np.testing.assert_array_equal(fresh.fit(X, y).coef_, model.coef_)


def test_same_seed_same_model_on_every_backend(tmp_path):
    code = (
        "import numpy as np, lpcore\n"
        "from sklearn.datasets import make_classification\n"
        "X, y = make_classification(n_samples=200, n_features=40, n_classes=3, n_informative=6, random_state=0)\n"
        "out = []\n"
        "for bits in (8, 16):\n"
        "    for solver in ('halp', 'svrg', 'sgd'):\n"
        "        m = lpcore.LowPrecisionClassifier(solver=solver, bits=bits, max_iter=5, tol=0, random_state=5).fit(X, y)\n"
        "        out.append(m.coef_.tobytes().hex() + m.intercept_.tobytes().hex())\n"
        "print(lpcore.backend(), '|'.join(out))\n"
    )
    results = output_per_backend(code, tmp_path)
    assert len(set(results.values())) == 1


def test_warm_start_continues():
    X, y = regression()
    model = LowPrecisionRegressor(max_iter=2, tol=0, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
        first = model.history_["objective"][-1]
        model.fit(X, y)
    assert model.initial_objective_ == pytest.approx(first, rel=1e-6)
    cold = LowPrecisionRegressor(max_iter=2, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(X, y)
    assert cold.initial_objective_ > 2 * first


@pytest.mark.parametrize("Est", [LowPrecisionRegressor, LowPrecisionClassifier])
def test_bad_input_is_rejected_clearly(Est):
    X, y = make_classification(n_samples=50, n_features=4, random_state=0)
    est = Est()
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad, y)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.fit(bad, y)
    with pytest.raises(ValueError, match="0 sample"):
        est.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y[:-1])
    with pytest.raises(ValueError):
        est.fit(np.array([["a", "b"]] * 10, dtype=object), y[:10])
    with pytest.raises(TypeError, match="dense"):
        est.fit(sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="float32"):
        est.fit(X * 1e300, y)
    for params in (dict(bits=4), dict(solver="adam"), dict(eta=-1.0), dict(mu=0), dict(alpha=-1)):
        with pytest.raises(ValueError, match=next(iter(params))):
            Est(**params).fit(X, y)


def test_single_class_is_rejected():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="at least 2 classes"):
        LowPrecisionClassifier().fit(X, np.ones(20))


@pytest.mark.parametrize("solver,bits", [("halp", 8), ("halp", 16), ("svrg", 32), ("sgd", 32)])
def test_divergence_names_eta(solver, bits):
    # (LP-SGD / LP-SVRG cannot diverge: their model is confined to a fixed grid.)
    X, y = regression()
    with pytest.raises(DivergenceError, match="smaller eta"):
        LowPrecisionRegressor(solver=solver, bits=bits, eta=50.0).fit(X, y)


def test_halp_grid_too_coarse_warns_and_names_mu():
    # Least squares with unit-scale features: mu = 0.01 puts the grid 100x
    # coarser than the curvature asks; the rounding noise then outgrows the
    # steps and the gradient norm explodes (it never becomes non-finite in
    # 20 epochs), which must not end as a silently useless model.
    X, y = make_regression(n_samples=2000, n_features=100, noise=1.0, random_state=0)
    with pytest.warns(ConvergenceWarning, match="larger mu"):
        LowPrecisionRegressor(solver="halp", bits=8, mu=0.01, max_iter=20, tol=0, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LowPrecisionRegressor(solver="halp", bits=8, mu=3.0, max_iter=20, random_state=0).fit(X, y)
    assert model.history_["grad_norm"][-1] < 1e-2 * model.history_["grad_norm"][0]


def test_persistent_saturation_warns():
    X, y = regression()
    with pytest.warns(SaturationWarning, match="smaller mu"):
        LowPrecisionRegressor(solver="halp", bits=8, mu=1e4, max_iter=5, tol=0, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SaturationWarning)
        LowPrecisionRegressor(solver="halp", bits=8, max_iter=5, tol=0, random_state=0).fit(X, y)


def test_verbose_prints_epochs(capfd):
    X, y = regression()
    LowPrecisionRegressor(max_iter=3, tol=0, verbose=1, random_state=0).fit(X, y)
    err = capfd.readouterr().err
    assert err.count("lpcore epoch") == 3
