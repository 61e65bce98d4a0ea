"""Fuzz the estimators with whatever a user can pass to ``fit``.

The contract, for every input: ``fit`` either raises a clear error of a
documented type (ValueError or TypeError for bad input or parameters,
DivergenceError for a fit that went wrong) and leaves the estimator as it
was, or returns a finite model whose training objective is no worse than
the zero model's, with finite predictions on its (finite) training data.
Never a crash, a hang or another exception type.

The data are drawn as shapes (0 and 1 included), dtypes, memory orders,
magnitudes from subnormal to beyond float32, NaN and infinity, label types
and several regression targets at once; sample weights (none, integer, with
zeros, spanning 1e-300 to 1e300, or ones fit must refuse); the parameters
at, inside and beyond their bounds (one out-of-bounds parameter at a time,
so that most cases reach the solver). The objective is the weighted one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from fuzz.settings import FUZZ
from isolation import isolated
from scipy.special import logsumexp

from lpcore import DivergenceError, LowPrecisionClassifier, LowPrecisionRegressor, formats

ALLOWED = (ValueError, TypeError, DivergenceError)
FORMATS = sorted(formats())

# Objective slack over the zero model: the solver measures its start on the
# data it trains on (rounded to 8 or 16 bits, or float32), the check here
# measures on the float64 input.
REL_SLACK, ABS_SLACK = 1e-2, 1e-9

# Each parameter's values: valid ones (the default first) and edge ones,
# which must work or be refused clearly...
VALID = {
    "solver": ["halp", "svrg", "sgd"],
    "bits": [8, 16, 32, np.int64(16)],
    "eta": ["auto", 0.1, 1e-3, 3.0, 1e4, 1e-300, 1e300],
    "alpha": [1e-4, 0.0, 1.0, 1e-12, 1e6, 1e300],
    "mu": ["auto", 1.0, 0.1, 10.0, 1e-6, 1e6, 1e300],
    "delta": ["auto", 1e-2, 1e-6, 1.0, 1e30, 1e-300],
    "epoch_length": [None, 1, 2, 7, 60],
    "max_iter": [20, 1, 2, 5],
    "tol": [1e-4, 0.0, 1e-12, 1.0, 1e300],
    "fit_intercept": [True, False],
    "random_state": [0, 1, 2**32 - 1, np.random.RandomState(3)],
    "n_jobs": [None, 1, 2, -1, 10**6],
}
# ... and values beyond the bounds, which must raise ValueError or TypeError.
INVALID = {
    "solver": ["HALP", "", None, 3],
    "bits": [4, 64, 8.0, True, "8", None],
    "eta": [0, -1.0, float("nan"), float("inf"), True, "fast", None],
    "alpha": [-1e-4, float("nan"), float("inf"), True, None, "x"],
    "mu": [0.0, -1.0, float("nan"), True, "x"],
    "delta": [0.0, -1.0, float("inf"), True],
    "epoch_length": [0, -1, 2.5, 2**64, True, "n"],
    "max_iter": [0, -1, 2**64, 1.5, True, None],
    "tol": [-1.0, float("nan"), float("inf"), True, None],
    "fit_intercept": ["yes", None, 2],
    "random_state": [-1, 2**32, 1.5, "seed"],
    "n_jobs": [1.5, True, "all"],
    "grad_format": ["fp64", "int8", 16],
    "grad_rounding": ["up", None],
    "grad_scaling": [0.0, -1.0, float("inf"), "static", True],
    "step_compensation": ["yes", None],
}
GRAD = {
    "grad_format": FORMATS,
    "grad_rounding": ["nearest", "stochastic"],
    "grad_scaling": ["none", "dynamic", 1.0, 1e3, 1e-300],
    "step_compensation": ["none", "shrinkage"],
}

MAGNITUDES = [1.0, 1e-3, 1e3, 1e-310, 1e-40, 1e-20, 1e20, 1e38, 3.3e38, 1e39, 1e300]


@st.composite
def parameters(draw):
    params = {name: draw(st.sampled_from(values)) for name, values in VALID.items()}
    if draw(st.integers(0, 3)) == 0:  # simulated float gradients: fp32 SGD or SVRG
        params.update(solver=draw(st.sampled_from(["sgd", "svrg"])), bits=32)
        params.update({name: draw(st.sampled_from(values)) for name, values in GRAD.items()})
    if draw(st.integers(0, 3)) == 0:  # one parameter beyond its bounds
        name = draw(st.sampled_from(sorted(INVALID)))
        params[name] = draw(st.sampled_from(INVALID[name]))
    return params


@st.composite
def features(draw):
    """X as a user might hold it, and the float64 signal behind the targets."""
    hostile = draw(st.integers(0, 3)) == 0  # one draw in four takes a shape, value or type fit must refuse
    n = draw(st.sampled_from([8, 40, 3, 2, 1] + ([0] if hostile else [])))
    d = draw(st.sampled_from([5, 2, 1, 17] + ([0] if hostile else [])))
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d))
    layout = draw(st.sampled_from(["normal", "constant column", "zeros", "one huge row", "duplicate rows",
                                   "wide range"]))
    if layout == "constant column" and d:
        X[:, 0] = 3.0
    elif layout == "zeros":
        X[:] = 0.0
    elif layout == "one huge row" and n:
        X[0] *= 1e3
    elif layout == "duplicate rows" and n:
        X[:] = X[0]
    elif layout == "wide range" and d:
        X *= np.logspace(-6, 6, d)
    signal = X @ rng.standard_normal(d) if d else np.zeros(n)
    X = X * draw(st.sampled_from(MAGNITUDES))
    bad = draw(st.sampled_from([np.nan, np.inf, -np.inf])) if hostile and draw(st.booleans()) else None
    if bad is not None and X.size:
        X.flat[rng.randint(X.size)] = bad
    dtype = draw(st.sampled_from(["float64", "float32", "int64", "bool"]
                                 + (["float16", "complex128", "object", "str"] if hostile else [])))
    with np.errstate(all="ignore"):
        if dtype in ("int64", "bool"):
            X = np.nan_to_num(X).clip(-1e18, 1e18).astype(dtype)
        elif dtype == "str":
            X = X.astype(str)
        else:
            X = X.astype(dtype)
    order = draw(st.sampled_from(["C", "F", "strided", "reversed", "list"]))
    if order == "F":
        X = np.asfortranarray(X)
    elif order == "strided":
        X = np.repeat(X, 2, axis=0)[::2]
    elif order == "reversed":
        X = X[::-1, ::-1]
        signal = signal[::-1]
    elif order == "list":
        X = X.tolist()
    return X, signal, rng, layout, dtype, order


@st.composite
def regression_targets(draw, signal, rng):
    n = signal.shape[0]
    y = signal * draw(st.sampled_from([1.0, 1e-3, 1e3, 1e-300, 1e20, 1e40, 1e300])) + 0.1 * rng.standard_normal(n)
    hostile = draw(st.integers(0, 3)) == 0
    kind = draw(st.sampled_from(["float64", "float32", "int", "constant", "targets"]
                                + (["column", "nan", "short"] if hostile else [])))
    with np.errstate(all="ignore"):
        if kind == "float32":
            y = y.astype(np.float32)
        elif kind == "int":
            y = np.nan_to_num(y).clip(-1e18, 1e18).astype(np.int64)
        elif kind == "column":
            y = y[:, None]
        elif kind == "nan" and n:
            y[rng.randint(n)] = np.nan
        elif kind == "short":
            y = y[: max(n - 1, 0)]
        elif kind == "constant":
            y = np.full(n, 2.5)
        elif kind == "targets":  # three targets: one model each, in one solver run
            y = np.column_stack([y, -2.0 * y, np.full(n, 0.5)])
    return y, kind


@st.composite
def sample_weights(draw, n, rng):
    """None mostly; else weights a fit must take, or (one draw in four) refuse."""
    kind = draw(st.sampled_from(["none", "none", "integer", "spread", "scalar"]
                                + (["negative", "nan", "short", "zeros"] if draw(st.integers(0, 3)) == 0 else [])))
    if kind == "none":
        return None, kind
    w = rng.randint(0, 4, n).astype(np.float64)
    if n:
        w[0] = 1.0  # not all zero
    if kind == "spread":
        w = w * 10.0 ** rng.choice([-300, 0, 300], n)
    elif kind == "scalar":
        return 2.0, kind
    elif kind == "negative" and n:
        w[-1] = -1.0
    elif kind == "nan" and n:
        w[-1] = np.nan
    elif kind == "short":
        w = w[: max(n - 1, 0)]
    elif kind == "zeros":
        w[:] = 0.0
    return w, kind


@st.composite
def class_labels(draw, signal, rng):
    n = signal.shape[0]
    k = draw(st.sampled_from([2, 3, 5]))
    noisy = signal + 0.3 * rng.standard_normal(n)
    codes = np.searchsorted(np.quantile(noisy, np.linspace(0, 1, k + 1)[1:-1]), noisy) if n else np.zeros(0, int)
    hostile = draw(st.integers(0, 3)) == 0
    kind = draw(st.sampled_from(["int", "str", "float", "bool"]
                                + (["mixed", "nan", "continuous", "short"] if hostile else [])))
    if kind == "int":
        y = codes * 3 - 1
    elif kind == "str":
        y = np.array(["a", "b", "c", "d", "e"])[codes]
    elif kind == "float":
        y = codes + 0.5
    elif kind == "bool":  # two classes, or one when k is odd and n small: refused
        y = codes % 2 == 1
    elif kind == "mixed":
        y = np.array([c if c % 2 else str(c) for c in codes], dtype=object)
    elif kind == "nan":
        y = codes.astype(float)
        if n:
            y[rng.randint(n)] = np.nan
    elif kind == "continuous":
        y = noisy
    else:
        y = codes[: max(n - 1, 0)]
    return y, kind


def _objective(est, X, y, classification, w=None):
    """The training objective of est, and of the zero model, on the float64 data, with weights w."""
    X = np.asarray(X, dtype=np.float64)
    W = np.atleast_2d(est.coef_).astype(np.float64)
    b = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
    S = X @ W.T + b
    w = None if w is None else np.broadcast_to(np.asarray(w, dtype=np.float64), (len(X),))
    mean = lambda v: float(np.average(v, weights=None if w is None else w / w.max()))  # noqa: E731
    if not classification:  # in units of max|y|, so that y near 1e300 gives no inf on either side
        t = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
        s = float(np.max(np.abs(t), initial=0.0))
        s = s if 0 < s < np.inf else 1.0
        r = S / s - t / s
        return (0.5 * mean(np.sum(r * r, axis=1)) + 0.5 * est.alpha * float(np.sum((W / s) ** 2)),
                0.5 * mean(np.sum((t / s) ** 2, axis=1)))
    penalty = 0.5 * est.alpha * float(np.sum(W * W))
    codes = np.searchsorted(est.classes_, np.asarray(y))
    if est.classes_.size == 2:
        t = np.where(codes == 1, 1.0, -1.0)
        return mean(np.logaddexp(0.0, -t * S[:, 0])) + penalty, np.log(2.0)
    picked = S[np.arange(S.shape[0]), codes]
    return mean(logsumexp(S, axis=1) - picked) + penalty, np.log(est.classes_.size)


def _state(est):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}


def _same_state(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.shape == y.shape
                    and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")):
                return False
        elif x is not y and not (isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y)):
            try:
                if x != y:
                    return False
            except Exception:  # noqa: BLE001 - an uncomparable value counts as changed
                return False
    return True


def _check_fitted(est, X, y, classification, w=None):
    coef, intercept = np.asarray(est.coef_), np.asarray(est.intercept_)
    assert np.isfinite(coef).all() and np.isfinite(intercept).all(), f"non-finite model: {coef} {intercept}"
    n = len(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an overflow in predict is a failure too
        pred = est.predict(X)
        assert np.shape(pred)[0] == n
        if classification:
            assert set(np.unique(pred)) <= set(est.classes_)
            proba = est.predict_proba(X)
            assert proba.shape == (n, est.classes_.size)
            assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)
        else:
            assert np.isfinite(pred).all(), "NaN or infinite prediction on finite training data"
    # Data at the end of the range fit accepts (float32's), in both dtypes: finite outputs.
    far64 = np.sign(np.asarray(X, dtype=np.float64)) * 3.4e38
    for far in (far64, far64.astype(np.float32)):
        outputs = [est.predict_proba(far)] if classification else [est.predict(far)]
        assert all(np.isfinite(o).all() for o in outputs), f"non-finite output on {far.dtype} X at 3.4e38"
    with np.errstate(all="ignore"):
        obj, zero = _objective(est, X, y, classification, w)
    assert obj <= zero + REL_SLACK * abs(zero) + ABS_SLACK, f"objective {obj!r} worse than the zero model's {zero!r}"


def _fit_case(Est, params, X, y, refit, classification, w=None):
    """The whole case, run in a forked child; returns what happened, for the statistics."""
    est = Est(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est.fit(X, y, sample_weight=w)
        except ALLOWED as exc:
            assert str(exc).strip(), f"{type(exc).__name__} with no message"
            assert not hasattr(est, "n_iter_") and not hasattr(est, "coef_"), "a failed fit left fitted state"
            return f"raised {type(exc).__name__}"
        _check_fitted(est, X, y, classification, w)
        if isinstance(params["random_state"], int):  # the same seed, on one thread: the same model
            again = Est(**dict(params, n_jobs=1)).fit(X, y, sample_weight=w)
            assert np.array_equal(again.coef_, est.coef_) and np.array_equal(again.intercept_, est.intercept_), \
                "the same random_state gave another model (n_jobs=1 against the drawn n_jobs)"
        if refit is None:
            return "fitted"
        before = _state(est)
        est.set_params(**refit)
        try:
            est.fit(X, y, sample_weight=w)
        except ALLOWED as exc:
            assert str(exc).strip(), f"{type(exc).__name__} with no message"
            est.set_params(**{k: before[k] for k in refit})
            assert _same_state(before, _state(est)), "a failed refit changed the estimator"
            return f"refit raised {type(exc).__name__}"
        _check_fitted(est, X, y, classification, w)
        return "refitted"


def _run(Est, params, X, y, refit, classification, w=None):
    note(f"{Est.__name__}({params}); refit with {refit}")
    outcome = isolated(_fit_case, Est, params, X, y, refit, classification, w, timeout=60)
    event(outcome)


REFITS = st.one_of(st.none(), st.fixed_dictionaries({
    "warm_start": st.booleans(),
    "bits": st.sampled_from([8, 16, 32]),
    "max_iter": st.sampled_from([1, 3, 0]),
}))


@pytest.mark.parametrize("Est, targets", [(LowPrecisionRegressor, regression_targets),
                                          (LowPrecisionClassifier, class_labels)], ids=["regressor", "classifier"])
@FUZZ
@given(data=st.data(), params=parameters(), refit=REFITS)
def test_estimator_contract(Est, targets, data, params, refit):
    X, signal, rng, *what = data.draw(features())
    y, y_kind = data.draw(targets(signal, rng))
    w, w_kind = data.draw(sample_weights(len(signal), rng))
    note(f"X: {what}, y: {y_kind}, sample_weight: {w_kind}")
    _run(Est, params, X, y, refit, Est is LowPrecisionClassifier, w)


@pytest.mark.parametrize("Est", [LowPrecisionRegressor, LowPrecisionClassifier])
def test_contract_checker_catches_a_worse_model(Est):
    """The objective check above can fail: a model worse than zero is caught."""
    X = np.random.RandomState(0).standard_normal((40, 3))
    y = X[:, 0] if Est is LowPrecisionRegressor else (X[:, 0] > 0).astype(int)
    est = Est(bits=32, max_iter=3, random_state=0).fit(X, y)
    est.coef_ = -50.0 * np.asarray(est.coef_)
    with pytest.raises(AssertionError, match="worse than the zero model"):
        _check_fitted(est, X, y, Est is LowPrecisionClassifier)
