"""What the default estimators do where users start, and how fits fail.

The defaults must converge without a warning on the standardized
scikit-learn datasets; a step that diverges must back off (eta="auto") or
raise (a fixed eta), never return a model worse than the start; an 8-bit
HALP fit that stalls goes on with a 16-bit model; a fit that raises leaves
the estimator as it was. The default is HALP with a 16-bit model on 8-bit
rows (D8M16).
"""

import warnings

import numpy as np
import pytest
from lpcore import DivergenceError, LowPrecisionClassifier, LowPrecisionRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits,
           "diabetes": load_diabetes}


def standardized(name):
    if name == "synthetic":
        X, y = make_regression(n_samples=20000, n_features=8, noise=10.0, random_state=0)
    else:
        X, y = LOADERS[name](return_X_y=True)
    return StandardScaler().fit_transform(X), y


def fit_quietly(estimator, X, y):
    """Fit with every warning an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return estimator.fit(X, y)


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_default_classifier_converges_without_warning(name):
    X, y = standardized(name)
    model = fit_quietly(LowPrecisionClassifier(random_state=0), X, y)
    assert model.n_iter_ < model.max_iter
    assert (model.bits_, model.data_bits_) == (16, 8)
    majority = np.bincount(y).max() / len(y)
    assert model.score(X, y) > max(0.95, majority)


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits", "diabetes", "synthetic"])
def test_default_regressor_converges_without_warning(name):
    X, y = standardized(name)
    model = fit_quietly(LowPrecisionRegressor(random_state=0), X, y)
    assert model.n_iter_ < model.max_iter
    assert (model.bits_, model.data_bits_) == (16, 8)
    # within 1e-3 of the exact ridge solution's R^2 (the zero model's is <= 0)
    alpha = model.alpha * len(X)
    A = np.column_stack([X, np.ones(len(X))])
    reg = alpha * np.eye(A.shape[1])
    reg[-1, -1] = 0
    w = np.linalg.solve(A.T @ A + reg, A.T @ y)
    best = 1 - np.sum((A @ w - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert model.score(X, y) > best - 1e-3


def test_auto_eta_backs_off_where_outlier_rows_diverge():
    """Standardized breast_cancer as a regression: the largest row norm is 14x
    the mean, and 1/(2 L_mean) diverges (the model once came back with R^2 -792)."""
    X, y = standardized("breast_cancer")
    model = fit_quietly(LowPrecisionRegressor(solver="svrg", bits=32, random_state=0), X, y)
    etas = np.unique(model.history_["eta"])
    assert len(etas) >= 2 and model.eta_ == etas.min()
    assert model.score(X, y) > 0.77
    assert len(model.history_["objective"]) > model.n_iter_  # the abandoned runs stay in the history


def test_verbose_says_when_it_backs_off(capsys):
    X, y = standardized("breast_cancer")
    LowPrecisionRegressor(solver="svrg", bits=32, verbose=1, random_state=0).fit(X, y)
    err = capsys.readouterr().err
    assert "diverged after" in err and "restarting from the start with eta=" in err


@pytest.mark.parametrize("solver,bits", [("halp", 8), ("svrg", 32), ("sgd", 16)])
def test_a_fixed_step_that_diverges_raises_even_when_values_stay_finite(solver, bits):
    """eta=1e4 on a 3-class problem took the objective from 1.1 to 7890 and
    returned the model without a word."""
    X, y = standardized("iris")
    with pytest.raises(DivergenceError, match="smaller eta"):
        LowPrecisionClassifier(solver=solver, bits=bits, eta=1e4, tol=0, max_iter=20, random_state=0).fit(X, y)


def test_capped_float_gradients_that_diverge_raise():
    """A float format caps the gradient, so nothing becomes non-finite: the
    objective's growth is what shows the divergence."""
    X, y = standardized("diabetes")
    with pytest.raises(DivergenceError, match="rose above|gave back"):
        LowPrecisionRegressor(solver="sgd", bits=32, grad_format="fp8_e4m3", eta=100.0, max_iter=20,
                              random_state=0).fit(X, y)


def test_data_beyond_float32_arithmetic_names_the_data_not_eta():
    X, y = standardized("diabetes")
    with pytest.raises(DivergenceError, match="rescale X and y"):
        LowPrecisionRegressor(solver="svrg", bits=32, eta=0.01, random_state=0).fit(X, y * 1e40)


def test_a_failed_refit_leaves_the_model_as_it_was():
    X, y = standardized("iris")
    model = LowPrecisionClassifier(random_state=0).fit(X, y)
    before = {k: v for k, v in vars(model).items()}
    coef = model.coef_.copy()
    model.set_params(eta=1e4, tol=0, max_iter=10)
    with pytest.raises(DivergenceError):
        model.fit(X[y > 0], y[y > 0])  # two classes now: classes_ would change
    assert set(vars(model)) == set(before)
    assert np.array_equal(model.classes_, [0, 1, 2]) and np.array_equal(model.coef_, coef)
    assert model.predict_proba(X).shape == (150, 3)
    fresh = LowPrecisionRegressor(eta=1e4, tol=0, max_iter=10, random_state=0)
    with pytest.raises(DivergenceError):
        fresh.fit(*standardized("diabetes"))
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)


def test_an_8bit_stall_goes_on_at_16_bits(capsys):
    """Standardized digits with alpha=1e-4: at 8 bits the gradient norm crept
    down by 1% an epoch for hundreds of epochs (588 to tol); at 16 bits it
    converges as fp32 SVRG does."""
    X, y = standardized("digits")
    model = fit_quietly(LowPrecisionClassifier(bits=8, verbose=1, random_state=0), X, y)
    bits = model.history_["bits"][-model.n_iter_:]
    assert model.bits_ == 16 and bits[0] == 8 and bits[-1] == 16 and np.all(np.diff(bits) >= 0)
    # The 16-bit model goes on from the 8-bit rows already made (D8M16), not from new ones.
    assert model.data_bits_ == 8 and set(model.history_["data_bits"]) == {8}
    assert "stalled after" in capsys.readouterr().err
    fp32 = fit_quietly(LowPrecisionClassifier(solver="svrg", bits=32, random_state=0), X, y)
    assert model.n_iter_ < 1.25 * fp32.n_iter_
    # A fixed mu is the user's choice: no change of width.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fixed = LowPrecisionClassifier(bits=8, mu=0.2, max_iter=40, random_state=0).fit(X, y)
    assert fixed.bits_ == 8 and set(fixed.history_["bits"]) == {8}


class _Diverged:
    """A solver result read as diverged (objective above its start), all else as it was."""

    diverged, divergence = True, 2

    def __init__(self, result):
        self._result = result

    def __getattr__(self, name):
        return getattr(self._result, name)


def test_a_backoff_after_the_move_to_16_bits_restarts_the_fit_as_it_began(monkeypatch):
    """eta="auto"'s restart after a divergence goes back to the start: the
    8-bit model with its stall rule and the 8-bit mu start, not the 16-bit
    model it had moved on to (which it kept, with mu 3, before)."""
    from lpcore import _solver

    real_fit, calls = _solver._core.fit, []

    def fit(*args):
        cfg = args[5]
        calls.append((cfg.bits, cfg.stop_on_stall, cfg.mu))
        result = real_fit(*args)
        return _Diverged(result) if len(calls) == 2 else result  # the run after the stall diverges

    monkeypatch.setattr(_solver._core, "fit", fit)
    X, y = standardized("digits")
    model = fit_quietly(LowPrecisionClassifier(bits=8, random_state=0), X, y)
    assert calls[0] == (8, True, 3.0) and calls[1][:2] == (16, False)
    assert calls[2] == (8, True, 3.0)  # the restart, with half the step
    assert model.history_["eta"][-1] == model.history_["eta"][0] / 2
    assert model.bits_ == 16  # it stalled again and moved on again


def test_running_out_of_epochs_advises_more_epochs_not_a_larger_step():
    X, y = standardized("digits")
    with pytest.warns(ConvergenceWarning, match=r"increase max_iter \(to about \d+\)") as caught:
        LowPrecisionClassifier(solver="svrg", bits=32, max_iter=20, random_state=0).fit(X, y)
    assert not any("eta" in str(w.message) for w in caught)


def test_n_jobs_does_not_change_the_model():
    X, y = standardized("digits")
    a = LowPrecisionClassifier(max_iter=5, tol=0, n_jobs=1, random_state=0).fit(X, y)
    b = LowPrecisionClassifier(max_iter=5, tol=0, n_jobs=2, random_state=0).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_) and a.data_rounding_error_ == b.data_rounding_error_
    with pytest.raises(ValueError, match="n_jobs=0"):
        LowPrecisionClassifier(n_jobs=0).fit(X, y)


def test_an_fp32_fit_that_stopped_moving_says_so():
    # Below about 1e-7 of its start the steps of fp32 SVRG no longer move a
    # float32 coefficient: more epochs cannot help, and the warning says so.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :8]
    est = LowPrecisionClassifier(solver="svrg", bits=32, alpha=1e-2, tol=1e-12, max_iter=300, random_state=0)
    with pytest.warns(ConvergenceWarning, match="stopped moving") as caught:
        est.fit(X, y)
    assert "increase max_iter" not in str(caught[0].message)
    grad = est.history_["grad_norm"]
    assert grad[-1] == grad[-2] == grad[-3]
