"""The convergence claims: HALP paper Figure 1, and multinomial digits."""

import functools
import warnings

import numpy as np
import pytest
from lpcore import LowPrecisionClassifier, LowPrecisionRegressor, _core, _data
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def eight_bit_data(X):
    """X rounded to the 8-bit per-row grid, as float: the data every solver of Figure 1 sees."""
    data = _data.prepare(X, 8, pad=False)
    return np.multiply(data.rows, data.row_scale[:, None], dtype=np.float32)


def figure1_runs(seed=0):
    X, y = make_regression(n_samples=1000, n_features=100, random_state=seed)
    X8 = eight_bit_data(X)
    common = dict(epoch_length=2000, max_iter=50, tol=0.0, alpha=0.0, fit_intercept=False, random_state=seed)
    runs = {
        "svrg32": dict(solver="svrg", bits=32, eta=5e-3),
        "halp8": dict(solver="halp", bits=8, eta=5e-3, mu=3.0),
        "lpsvrg8": dict(solver="svrg", bits=8, eta=5e-3, mu=3.0),
        "lpsgd8": dict(solver="sgd", bits=8, eta=5e-3, mu=3.0),
    }
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, params in runs.items():
            out[name] = LowPrecisionRegressor(**common, **params).fit(X8, y).history_["grad_norm"]
    return out


def test_figure1_halp_tracks_svrg_and_beats_fixed_grids():
    g = figure1_runs()
    halp, svrg = g["halp8"][-1], g["svrg32"][-1]
    plateau_lpsvrg = np.median(g["lpsvrg8"][-10:])
    plateau_lpsgd = np.median(g["lpsgd8"][-10:])
    assert halp <= 10 * svrg, (halp, svrg)
    assert halp * 100 <= plateau_lpsvrg, (halp, plateau_lpsvrg)
    # "Well above both" HALP and SVRG. (Against LP-SVRG it is a tie here: on a
    # fixed grid both plateau where the rounding noise of 2000 small steps
    # balances the contraction, ~5 grid steps per coordinate.)
    assert plateau_lpsgd > 1000 * max(halp, svrg)
    # HALP follows SVRG's linear rate over the first epochs, before fp32 limits SVRG.
    assert g["halp8"][9] <= 10 * g["svrg32"][9]


def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def penalized_objective(X, y, W, b, alpha):
    M = X @ W.T + b
    M = M - M.max(1, keepdims=True)
    lse = np.log(np.exp(M).sum(1))
    return np.mean(lse - M[np.arange(len(y)), y]) + alpha / 2 * np.sum(W**2)


@functools.cache
def digits_optimum(alpha):
    """The exact optimum of the penalized multinomial objective on digits()."""
    X, y = digits()
    exact = LogisticRegression(C=1 / (alpha * len(y)), tol=1e-12, max_iter=100_000).fit(X, y)
    return penalized_objective(X, y, exact.coef_, exact.intercept_, alpha)


@pytest.mark.parametrize("mu", [0.1, "auto"])
@pytest.mark.parametrize("seed", [0, 1])
def test_digits_multinomial_halp8_reaches_the_optimum(seed, mu):
    # mu=0.1 was chosen on this problem; "auto" has to find a grid that gets
    # within the same tolerance (with a 1% saturation limit it stalled at 2.7e-3).
    X, y = digits()
    alpha = 1e-3
    f_star = digits_optimum(alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LowPrecisionClassifier(solver="halp", bits=8, alpha=alpha, mu=mu, max_iter=100, tol=0,
                                     random_state=seed).fit(X, y)
    f = penalized_objective(X, y, clf.coef_, clf.intercept_, alpha)
    assert (f - f_star) / f_star <= 1e-3
    assert clf.score(X, y) >= 0.98
    assert np.median(clf.history_["saturated"]) < 0.01
