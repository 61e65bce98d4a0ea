"""scikit-learn estimators trained by lpcore's low-precision solvers.

:class:`LowPrecisionRegressor` (least squares, one target or several) and
:class:`LowPrecisionClassifier` (logistic: binary, or multinomial for more
than two classes) minimize

    (1/sum_i v_i) sum_i v_i loss(x_i . w + b, y_i) + alpha/2 ||w||^2

with sample weights ``v`` (``fit(X, y, sample_weight=v)``; all 1 by default,
so the first term is the mean loss). The intercept ``b`` is not penalized.
One of three solvers trains it, each at 8, 16 or 32 bits:

* ``"sgd"``: SGD. At 8/16 bits the model lives on a fixed grid of step
  ``delta`` and every step rounds stochastically onto it (LP-SGD).
* ``"svrg"``: SVRG (Johnson & Zhang 2013). At 8/16 bits, LP-SVRG on the fixed
  grid.
* ``"halp"``: HALP (De Sa et al. 2018): SVRG on a low-precision offset ``z``
  around a float centre ``w~``. Every outer epoch re-centres (``w~ += z``),
  takes the full gradient ``g~`` and re-scales the grid to
  ``||g~|| / (mu * (2**(bits-1) - 1))``, so the grid shrinks with the
  gradient and the model converges past the resolution of a fixed grid. By
  default (``mu="auto"``) mu itself is adapted every epoch, from the
  saturation and the growth the previous epoch showed. At 32 bits HALP is
  plain SVRG.

The data have a width of their own, ``data_bits`` (at most ``bits``; the
pair is named as in Buckwild, De Sa et al. 2017: D8M16 is 8-bit data under a
16-bit model). The default is HALP with a 16-bit model on 8-bit rows: a step
out of cache costs its random row read, which the 8-bit rows keep at a
quarter of fp32's, and the 16-bit grid follows fp32 SVRG's trajectory, where
an 8-bit one needs more epochs near the optimum (docs/algorithms.md, "Data
and model widths"). Below 32 bits the rows are stored with one scale per
row, rounded once (to nearest) at fit time; ``data_rounding_error_`` records
how much that moved them. The conversion reads X once, as it is
(float64 or float32, any memory order, a ``np.memmap``), on ``n_jobs``
threads (``lpcore/_data.py``); the whole training loop runs in C++ without
the GIL (see ``cpp/src/solvers/lowprec_trainer.cpp``). ``lpcore/_solver.py`` holds the rules
between the two (the step size, the backoff after a divergence, the move to
16 bits after a stall), ``lpcore/_diagnostics.py`` the warnings.

With ``grad_format`` set (``solver="sgd"`` or ``"svrg"`` at ``bits=32``), the
model stays in fp32 and every step's gradient is rounded to a simulated
low-precision float format (FP16, BF16, FP8, FP4), as in mixed-precision
training; ``shrinkage_`` then records how much quantization shrank it (see
:mod:`lpcore.float_formats` and ``cpp/src/solvers/float_grad_trainer.cpp``).

Sampling is uniform with replacement: that is the sampling the SVRG and HALP
analyses assume, it makes an epoch of any length ``T`` (default ``2 n``)
well defined, and it needs no O(n) permutation per epoch. With sample
weights, row i is drawn with probability ``v_i / sum v`` (Walker's alias
method, ``cpp/src/solvers/sampling.hpp``), so a step's stochastic gradient is an
unbiased estimate of the weighted objective's and the inner step is the same
integer step as without weights; the full-gradient pass weights each row.
Rows of weight 0 are never drawn. Weights that are all equal are the
unweighted objective and give the unweighted fit, bit for bit.

``partial_fit`` runs one solver epoch on a chunk, carrying the model over
(for dask-ml's ``Incremental`` and data larger than memory). With
scikit-learn 1.9, ``set_callbacks`` takes its callbacks (``ProgressBar``,
``ScoringMonitor``, or any ``FitCallback``): a fit is one task, each solver
epoch a subtask whose ``fitted_estimator`` is the model at the end of that
epoch, and a callback's ``on_fit_task_end`` returning True stops the fit
there. See docs/algorithms.md.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, InvalidParameterError, Options, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._constants import ROW_DTYPES
from ._data import BEYOND_FLOAT32, raise_problem
from ._diagnostics import DivergenceError, SaturationWarning, divergence_message, warn_about
from ._solver import Start, data_width, solve

try:  # scikit-learn 1.9's callbacks: set_callbacks, ProgressBar, ScoringMonitor
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # an older scikit-learn has none

    class CallbackSupportMixin:
        """Stands in for scikit-learn's callback support, which needs scikit-learn 1.9."""

    def with_callbacks(method):
        return method
from .float_formats import FORMATS, ROUNDINGS

__all__ = [
    "DivergenceError",
    "LowPrecisionClassifier",
    "LowPrecisionRegressor",
    "SaturationWarning",
]


# The largest epoch_length and max_iter: counts the solver holds in 64 bits.
# A fit that long is stopped by Ctrl-C (KeyboardInterrupt), never by a limit.
MAX_COUNT = 2**62

# The parameters that take numbers: scikit-learn's constraints let True pass
# as 1 and inf as a float, which here would only hide a mistake.
_NUMERIC_PARAMS = ("bits", "data_bits", "eta", "alpha", "mu", "delta", "epoch_length", "max_iter", "tol", "grad_scaling", "n_jobs")


# What scikit-learn's callback support keeps on the estimator during a fit,
# for with_callbacks to tear the callbacks down afterwards, failed fits too.
_CALLBACK_STATE = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")


@contextmanager
def _unchanged_on_error(estimator):
    """A fit that raises leaves the estimator as it was before the call."""
    state = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        running = {key: estimator.__dict__[key] for key in _CALLBACK_STATE if key in estimator.__dict__}
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        estimator.__dict__.update(running)
        raise


def _check_label_kinds(y):
    """Labels of an object array must be all strings or all numbers: mixed, they
    cannot be sorted into classes_, and numpy or scikit-learn would say so in
    terms of ufunc loops or "unknown label type"."""
    if y.dtype != object:
        return
    kind_of = {}
    for v in y.ravel():
        kind = "string" if isinstance(v, (str, bytes)) else "number" if isinstance(v, (Real, np.number)) else "other"
        kind_of.setdefault(kind, type(v).__name__)
    if len(kind_of) > 1:
        raise TypeError(
            f"class labels must be all strings or all numbers; y holds {', '.join(sorted(kind_of.values()))}: "
            f"convert them to one type first, for example with y.astype(str)"
        )


def _weights(sample_weight, X) -> np.ndarray | None:
    """Validated sample weights, as the solver takes them: None where every
    row weighs the same (the unweighted objective, and the unweighted fit bit
    for bit), else float64 scaled to a largest weight of 1 (the objective
    does not change, and their sum cannot overflow)."""
    if sample_weight is None:
        return None
    v = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    top = float(v.max())
    if np.all(v == top):
        return None
    return np.ascontiguousarray(v / top)


class _LowPrecisionLinear(CallbackSupportMixin, BaseEstimator):
    """Shared parameters, data preparation and the call into the C++ solver."""

    _parameter_constraints: dict = {
        "solver": [StrOptions({"halp", "svrg", "sgd"})],
        "bits": [Options(Integral, set(ROW_DTYPES))],
        "data_bits": [Options(Integral, set(ROW_DTYPES)), StrOptions({"auto"})],
        "eta": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "mu": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "delta": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "epoch_length": [Interval(Integral, 1, MAX_COUNT, closed="both"), None],
        "max_iter": [Interval(Integral, 1, MAX_COUNT, closed="both")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "grad_format": [StrOptions(set(FORMATS)), None],
        "grad_rounding": [StrOptions(set(ROUNDINGS))],
        "grad_scaling": [StrOptions({"none", "dynamic"}), Interval(Real, 0, None, closed="neither")],
        "step_compensation": [StrOptions({"none", "shrinkage"})],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        solver="halp",
        bits=16,
        data_bits="auto",
        eta="auto",
        alpha=1e-4,
        mu="auto",
        delta="auto",
        epoch_length=None,
        max_iter=1000,
        tol=1e-4,
        fit_intercept=True,
        warm_start=False,
        random_state=None,
        verbose=0,
        grad_format=None,
        grad_rounding="nearest",
        grad_scaling="none",
        step_compensation="none",
        n_jobs=None,
    ):
        self.solver = solver
        self.bits = bits
        self.data_bits = data_bits
        self.eta = eta
        self.alpha = alpha
        self.mu = mu
        self.delta = delta
        self.epoch_length = epoch_length
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.grad_format = grad_format
        self.grad_rounding = grad_rounding
        self.grad_scaling = grad_scaling
        self.step_compensation = step_compensation
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    # ---- fit --------------------------------------------------------------------

    def _validate_params(self):
        """scikit-learn's constraints, and no bool or non-finite number where a number goes."""
        super()._validate_params()
        for name in _NUMERIC_PARAMS:
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a number, not a bool; got {value!r}"
                )
            if isinstance(value, Integral) and abs(value) > sys.float_info.max:  # math.isfinite would overflow
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be finite; got an integer of "
                    f"{len(str(abs(value)))} digits"
                )
            if isinstance(value, Real) and not isinstance(value, Integral) and not math.isfinite(value):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be finite; got {value!r}"
                )

    def _check_grad_params(self):
        """The float-gradient options need fp32 SGD or SVRG and go together."""
        if self.grad_format is None:
            unused = {
                name: value
                for name, value, default in (
                    ("grad_rounding", self.grad_rounding, "nearest"),
                    ("grad_scaling", self.grad_scaling, "none"),
                    ("step_compensation", self.step_compensation, "none"),
                )
                if not (isinstance(value, str) and value == default)
            }
            if unused:
                raise ValueError(
                    f"{', '.join(f'{k}={v!r}' for k, v in unused.items())} only apply to quantized gradients; "
                    f"set grad_format (for example grad_format='fp8_e4m3') or leave them at their defaults"
                )
            return
        if self.solver not in ("sgd", "svrg") or self.bits != 32:
            raise ValueError(
                f"grad_format={self.grad_format!r} simulates low-precision gradients on an fp32 model, which "
                f"needs solver='sgd' or 'svrg' with bits=32; got solver={self.solver!r}, bits={self.bits}"
            )

    @staticmethod
    def _public(coef, intercept, dtype, two_d) -> dict:
        """coef_ and intercept_ from the model, in the input's dtype; 1-D for a 1-D y."""
        if two_d:
            return {"coef_": coef.astype(dtype), "intercept_": np.asarray(intercept, dtype=dtype).copy()}
        return {"coef_": coef[0].astype(dtype), "intercept_": dtype.type(intercept[0])}

    def _epoch_hook(self, ctx, X, y, metadata, n_features, two_d, first_epoch):
        """The solver's per-epoch hook that runs scikit-learn's callbacks, each
        epoch a subtask of the fit with the model at its end (None when no
        callback listens)."""
        if ctx is None or not getattr(ctx, "_callbacks", True):
            return None
        epochs = iter(range(first_epoch + 1, MAX_COUNT))
        fit_intercept = self.fit_intercept

        def hook(_, record, coef, intercept):
            n_iter = next(epochs)
            coef = np.ascontiguousarray(coef[:, :n_features])
            intercept = intercept if fit_intercept else np.zeros_like(intercept)

            def attributes():
                out = {"_coef": coef, "_intercept": intercept, "n_iter_": n_iter}
                return {**out, **self._public(coef, intercept, X.dtype, two_d)}

            sub = ctx.subcontext(task_name="epoch")
            sub.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
            return sub.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                            reconstruction_attributes=attributes)

        return hook

    def _fit(self, X, y, y_encoded, loss, n_outputs, sample_weight=None, partial=False, two_d=True):
        """Run the solver (lpcore/_solver.py) and set the fitted attributes.

        y is the targets as the user gave them (for the callbacks), y_encoded
        as the solver takes them. partial: one epoch on X from the current
        model (partial_fit), which adds to n_iter_ and history_ instead of
        replacing them. two_d: coef_ is (n_outputs, n_features), else
        (n_features,) with a scalar intercept_. The fit is the callbacks' root
        task (a callback's on_fit_task_end returning True stops it after that
        epoch).
        """
        self._check_grad_params()
        n_features = X.shape[1]
        fitted = hasattr(self, "_coef") and self._coef.shape == (n_outputs, n_features)
        start = None
        if partial and fitted:
            delta = self.scale_ if self.solver != "halp" else None
            saturated = self.history_["saturated"]  # empty after a fit that started at its optimum
            start = Start(self._coef, self._intercept, self.mu_, self.eta_, delta, self.bits_, self.n_iter_,
                          float(saturated[-1]) if saturated.size else -1.0)
        elif self.warm_start and fitted:
            start = Start(self._coef, self._intercept, self.mu_)
        # A pair of widths the solver runs; partial_fit goes on at the model's width.
        bits = start.bits if start is not None and start.bits is not None else self.bits
        try:
            data_width(self.data_bits, bits)
        except ValueError as e:
            if bits == self.bits:
                raise
            raise ValueError(f"partial_fit goes on with the model's width bits_={bits} (bits={self.bits} takes effect "
                             f"at the next fit()), and {e}") from None
        metadata = {"sample_weight": sample_weight}
        ctx = self._init_callback_context(max_subtasks=None) if hasattr(self, "_init_callback_context") else None
        if ctx is not None:
            ctx.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
        first_epoch = self.n_iter_ if partial and fitted else 0
        hook = self._epoch_hook(ctx, X, y, metadata, n_features, two_d, first_epoch)
        solution = solve(self, X, y_encoded, loss, n_outputs, start, sample_weight, partial, hook)
        result, last = solution.last, solution.runs[-1]
        if result.diverged:
            raise DivergenceError(divergence_message(self, solution, y_encoded, loss))
        history = solution.history()
        if partial and fitted:
            history = {key: np.concatenate([self.history_[key], value]) for key, value in history.items()}
        self.n_iter_ = solution.n_iter + (self.n_iter_ if partial and fitted else 0)
        self.history_ = history
        self.eta_ = last.eta
        self.bits_ = last.bits
        self.data_bits_ = last.data_bits
        self.data_rounding_error_ = solution.data.rounding_error
        self.shrinkage_ = last.shrinkage
        self._coef = np.ascontiguousarray(result.coef[:, :n_features])
        self._intercept = np.asarray(result.intercept) if self.fit_intercept else np.zeros(n_outputs)
        self.initial_objective_ = solution.initial_objective
        self.scale_ = float(result.scale) if last.bits != 32 else None
        self.mu_ = float(result.mu) if math.isfinite(result.mu) else None
        public = self._public(self._coef, self._intercept, X.dtype, two_d)
        self.coef_, self.intercept_ = public["coef_"], public["intercept_"]
        if not partial and not result.stopped:  # a stream's epoch, or a stop by request, is not a fit to tol
            warn_about(self, solution)
        if ctx is not None:
            ctx.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata, reconstruction_attributes={})
        return self

    def _decision(self, X):
        check_is_fitted(self, "n_iter_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        # float32 only when both X and the model are (as scikit-learn's linear models).
        dtype = np.result_type(X.dtype, self.coef_.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            scores = X @ self._coef.T.astype(dtype, copy=False) + self._intercept.astype(dtype)
        if not np.isfinite(scores).all():
            # Scores beyond float32's range (inf, then NaN probabilities): X
            # within float32's range, the range fit accepts, gives finite
            # float64 scores, returned in float64; X beyond it is refused as
            # fit refuses it.
            big = np.abs(X) > np.finfo(np.float32).max
            if big.any():
                row, col = np.argwhere(big)[0]
                raise_problem((BEYOND_FLOAT32, row, col))  # the data path's error, as fit raises it
            scores = X.astype(np.float64) @ self._coef.T.astype(np.float64) + self._intercept
        return scores


class LowPrecisionRegressor(RegressorMixin, _LowPrecisionLinear):
    """Least squares trained at 8, 16 or 32 bits by HALP, SVRG or SGD.

    Minimizes ``(1/(2n)) ||X w + b - y||^2 + alpha/2 ||w||^2``; with
    ``sample_weight`` v, ``(1/(2 sum v)) sum_i v_i (x_i . w + b - y_i)^2 +
    alpha/2 ||w||^2``, which is ``Ridge(alpha=alpha * sum v)``. A 2-D ``y``
    of K targets fits K models in one solver run (each step takes K dots and
    K updates of the same row), with the same objective summed over the
    targets.

    Parameters
    ----------
    solver : {"halp", "svrg", "sgd"}, default="halp"
        The training algorithm (see :mod:`lpcore.linear_model`).
    bits : {8, 16, 32}, default=16
        Width of the model. 32 runs the fp32 baselines. HALP at 8 bits with
        ``mu="auto"`` goes on with a 16-bit model when it stalls (see
        ``mu``); ``bits_`` is the width the fit ended at.
    data_bits : {8, 16, 32} or "auto", default="auto"
        Width of the rows the solver reads, at most ``bits``. "auto" is 8
        for ``bits`` 8 and 16 and 32 for ``bits=32``. The pairs the solver
        runs are (data_bits, bits) = (8, 8), (8, 16), (16, 16) and (32, 32);
        any other raises ValueError. ``data_bits_`` is the width used.
    eta : float or "auto", default="auto"
        Step size. "auto" is ``1 / (2 L)``, with ``L`` the mean per-sample
        smoothness constant of the objective on the (rounded) data:
        ``c * mean_i(||x_i||^2 + fit_intercept) + alpha``, with ``c`` 1 for
        squared, 1/4 for logistic and 1/2 for multinomial loss. Where rows
        far above the mean norm make that step diverge, "auto" backs off: the
        fit restarts from its start with half the step, up to 12 times
        (``history_["eta"]`` shows each run's step; ``verbose`` prints a
        line per restart). Not for HALP at 8/16 bits with a fixed mu, whose
        divergence can come from the grid (the error then says so). A fixed
        eta that diverges raises DivergenceError.
    alpha : float, default=1e-4
        L2 penalty.
    mu : float or "auto", default="auto"
        HALP's strong-convexity guess: each epoch's grid spans ``||g~|| / mu``
        around the centre. A larger mu gives a finer grid (less rounding
        noise) and more saturation; a smaller one a coarser, wider grid. No
        fixed value suits all data: too small a mu lets the rounding noise
        outgrow the steps (on ``make_regression(10000, 100)`` mu=0.1 diverges
        while mu=1 to 3 converge), too large a one saturates
        (unscaled ``load_diabetes`` needs mu <= 0.01). "auto" adapts mu before
        every epoch, from 3 at 8 bits and 0.3 at 16: it halves mu after an
        epoch in which more than 0.1% of the coordinate updates saturated,
        else quadruples it after one in which both the full-gradient norm and
        the objective grew, and keeps it within ``[1 / (eta T), 1 / eta]`` (``T = epoch_length``; the
        grid then reaches between one full-gradient step and T of them). The
        8-bit start, 3, was chosen on a sweep of 15 problems
        (docs/algorithms.md, "Choosing mu"): it needed the fewest epochs of
        the starts 0.3, 1, 3 and 10; each halving costs one epoch, while a
        grid that neither saturates nor diverges gives the rule no signal.
        The 16-bit grid has 2^8 times the steps, so its start is 10x wider
        and still 25x finer. ``history_["mu"]`` shows the path. With
        ``warm_start``, "auto" starts from the previous fit's ``mu_``. A
        float fixes mu. Only HALP at 8 and 16 bits uses mu.
        At 8 bits, "auto" also watches for a stall: when over 4 epochs the
        full-gradient norm falls by less than half while no epoch saturates,
        the 8-bit grid has reached its precision floor (on ill-conditioned
        data, such as standardized digits with a small alpha), and the fit
        goes on from where it is with a 16-bit model on the same rows, for
        the epochs left (``history_["bits"]``; ``verbose`` prints a line).
        Persistent saturation (more than 1% of the updates in at least half
        of the epochs, not counting "auto"'s first, still halving, ones)
        gives a SaturationWarning, a gradient norm that grows 100-fold a
        ConvergenceWarning; both say what to change.
    delta : float or "auto", default="auto"
        Fixed grid step of LP-SGD / LP-SVRG (bits 8 and 16). "auto" makes the
        grid span twice the largest coefficient of one coordinate-wise Newton
        step from the start (``w_j = -g_j / H_jj``), over ``2**(bits-1) - 1``
        steps.
    epoch_length : int or None, default=None
        Inner steps per outer epoch (T); None means ``2 * n_samples``. At
        most ``2**62``, as is ``max_iter``; Ctrl-C stops a long fit
        (KeyboardInterrupt, the estimator left as it was).
    max_iter : int, default=1000
        Maximum number of outer epochs (all widths together). Most fits stop
        at ``tol`` far earlier; ill-conditioned ones (standardized
        breast_cancer as a regression, with the default alpha) take a few
        hundred.
    tol : float, default=1e-4
        Stop once the full-gradient norm falls below ``tol`` times its value
        at the start. 0 runs all ``max_iter`` epochs.
    fit_intercept : bool, default=True
        Learn an unpenalized intercept (kept in float64).
    warm_start : bool, default=False
        Start from the previous fit's solution.
    random_state : int, RandomState instance or None, default=None
        Seeds sampling and stochastic rounding. The same seed gives the same
        model on every backend.
    verbose : int, default=0
        Print one line per epoch to stderr, and one per restart or change of
        width.
    grad_format : {"fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp4_e2m1"} or None, default=None
        Round every step's gradient (weights and intercept, all outputs, as
        one vector) to this simulated float format before the step; the model
        stays fp32, as in mixed-precision training. Needs ``solver="sgd"``
        or ``"svrg"`` and ``bits=32``. Overflow saturates.
    grad_rounding : {"nearest", "toward_zero", "stochastic"}, default="nearest"
        Rounding of the gradient (see :func:`lpcore.quantize_float`).
    grad_scaling : "none", "dynamic" or float, default="none"
        Loss scale ``S``: the step uses ``Q(S g) / S``. "none" is ``S = 1``
        (the setting of Yun 2025); a float is a fixed loss scale; "dynamic"
        picks, for every step, the largest power of two with
        ``S max|g| <= max`` of the format (per-tensor scaling as in FP8
        training recipes).
    step_compensation : {"none", "shrinkage"}, default="none"
        "shrinkage" divides the step by a running estimate of the shrinkage
        factor ``q`` (the projection ``<Q(g), g> / ||g||^2``; an exponential
        moving average over about 64 previous steps), clipped to
        ``[0.1, 1]``: the step grows at most 10x (``SHRINKAGE_Q_FLOOR``).
    n_jobs : int or None, default=None
        Threads that convert X into the solver's rows and run the
        full-gradient passes of SVRG and HALP (the inner loop is sequential,
        on one thread; so are fits with ``grad_format``). None or -1, or
        more than the cores: every core this process may use; -2 all but
        one. The result does not depend on it.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        The second shape when ``y`` was 2-D. float32 when X was float32,
        else float64 (as scikit-learn's linear models); ``predict`` on
        float32 X then returns float32 too.
    intercept_ : float or ndarray of shape (n_targets,)
        Of the dtype of ``coef_`` (a NumPy scalar for a 1-D ``y``).
    n_iter_ : int
        Outer epochs of the run that produced the model (after the last
        restart of eta="auto"; an 8-bit HALP fit that went on at 16 bits
        counts the epochs of both widths).
    history_ : dict of ndarray
        Per epoch of every run, restarts included (the model's own epochs are
        the last ``n_iter_``): ``objective`` and ``grad_norm`` (full-gradient
        norm) at the end of the epoch, ``seconds`` (full-gradient pass plus
        inner loop), ``inner_seconds``, ``saturated`` (fraction of coordinate
        updates that hit the grid's ends), ``scale`` (grid step used), ``mu``
        (HALP's mu during the epoch; NaN for the other solvers and at 32
        bits), ``eta`` (the step size), ``bits`` (the model's width) and
        ``data_bits`` (the rows').
    initial_objective_ : float
    scale_ : float or None
        The final grid step: HALP's last scale, or delta; None at 32 bits.
    mu_ : float or None
        HALP's mu in the last epoch: where mu="auto" ended, else mu. None for
        the other solvers and at 32 bits.
    eta_ : float
        The step size of the run that produced the model.
    bits_ : int
        The model's width at the end of the fit: ``bits``, or 16 where an
        8-bit HALP fit stalled and went on with a 16-bit model.
    data_bits_ : int
        The rows' width: ``data_bits``, resolved. An 8-bit fit that went
        on at 16 bits keeps its 8-bit rows.
    data_rounding_error_ : float
        ``||X - X_q||_F / ||X||_F`` of the data rounding at ``data_bits_``
        (0 at 32 bits), X taken in float32.
    shrinkage_ : dict of ndarray or None
        With ``grad_format``, per epoch: ``q_min`` and ``q_mean`` (minimum
        and mean over the steps of the projection ``q_t``),
        ``norm_ratio_mean`` (mean ``||Q(g)|| / ||g||``), ``zero_fraction``
        (nonzero gradient entries flushed to zero), ``overflow_fraction``,
        ``step_multiplier`` (mean step / eta) and ``log2_scale_mean``.
        ``history_["saturated"]`` then holds the overflow fraction. None
        without ``grad_format``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string feature names.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from lpcore import LowPrecisionRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> model = LowPrecisionRegressor(random_state=0).fit(X, y)
    >>> bool(model.score(X, y) > 0.99)
    True
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @with_callbacks
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and y (n_samples,) or
        (n_samples, n_targets), with optional ``sample_weight`` (n_samples,):
        finite and >= 0, not all 0.

        A fit that raises leaves the estimator as it was before the call.
        """
        with _unchanged_on_error(self):
            self._validate_params()
            X, y = validate_data(
                self, X, y, dtype=[np.float64, np.float32], y_numeric=True, multi_output=True,
                ensure_all_finite=False,
            )
            y = np.ascontiguousarray(y, dtype=np.float64)
            n_targets = y.shape[1] if y.ndim == 2 else 1
            self._fit(X, y, y, "squared", n_targets, _weights(sample_weight, X), two_d=y.ndim == 2)
        return self

    @with_callbacks
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of the solver on the chunk (X, y), from the current model.

        For SVRG and HALP the epoch takes the chunk's full gradient as its
        anchor, then ``epoch_length`` steps (default twice the chunk's rows)
        drawn from the chunk; SGD takes the steps alone. The chunk is rounded
        on its own. The model, HALP's ``mu_``, the step size and LP-SGD /
        LP-SVRG's grid carry over from the earlier calls (the first call, or
        a ``fit``, chooses them), and so does the width ``bits_``. ``tol``
        and ``max_iter`` do not apply; ``n_iter_`` counts the epochs so far
        and ``history_`` gains a record per call (more where eta="auto"
        restarts a diverged epoch). ``sample_weight`` weighs the rows within
        the chunk: each call minimizes its chunk's weighted mean loss, so a
        chunk's total weight does not make its epoch count more or less. The
        targets must have the shape of the first call's (1-D, or as many
        columns).

        A call that raises leaves the estimator as it was before the call.
        """
        with _unchanged_on_error(self):
            first = not hasattr(self, "n_iter_")
            self._validate_params()
            X, y = validate_data(
                self, X, y, reset=first, dtype=[np.float64, np.float32], y_numeric=True, multi_output=True,
                ensure_all_finite=False,
            )
            y = np.ascontiguousarray(y, dtype=np.float64)
            n_targets = y.shape[1] if y.ndim == 2 else 1
            if not first and (y.ndim == 2) != (self.coef_.ndim == 2) or (not first and n_targets != len(self._coef)):
                raise ValueError(
                    f"y has shape {y.shape}, but the model was fitted to "
                    f"{'a 1-D y' if self.coef_.ndim == 1 else f'{len(self._coef)} target columns'}: "
                    f"pass every chunk's targets in the same shape"
                )
            self._fit(X, y, y, "squared", n_targets, _weights(sample_weight, X), partial=True, two_d=y.ndim == 2)
        return self

    def predict(self, X):
        """Predicted targets, shape (n_samples,), or (n_samples, n_targets)
        for a model fitted on a 2-D y."""
        scores = self._decision(X)
        return scores if self.coef_.ndim == 2 else scores[:, 0]


class LowPrecisionClassifier(ClassifierMixin, _LowPrecisionLinear):
    """Logistic regression trained at 8, 16 or 32 bits by HALP, SVRG or SGD.

    Two classes: binary logistic loss, with ``classes_[1]`` the positive class.
    More classes: multinomial (softmax) loss, one weight row per class. The
    objective is the mean loss plus ``alpha/2 ||W||^2``; this is scikit-learn's
    ``LogisticRegression(C=1 / (alpha * n_samples))``. With sample weights
    v (``sample_weight`` times the class weights) it is the v-weighted mean
    loss plus ``alpha/2 ||W||^2``, ``LogisticRegression(C=1 / (alpha * sum v))``
    with the same weights.

    Parameters
    ----------
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, ``{label: weight}`` (classes left out weigh
        1) or "balanced" (``total / (n_classes * count)``, with the class
        counts and their total weighted by ``sample_weight``), as in
        scikit-learn. A sample's weight is its ``sample_weight`` times its
        class's weight.

    The other parameters and the fitted ``n_iter_``, ``history_``,
    ``initial_objective_``, ``scale_``, ``mu_``, ``eta_``, ``bits_``, ``data_bits_``, ``data_rounding_error_``, ``shrinkage_``,
    ``n_features_in_`` and ``feature_names_in_`` are those of
    :class:`LowPrecisionRegressor`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        float32 when X was float32, else float64; ``decision_function`` and
        ``predict_proba`` on float32 X then return float32 too.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Of the dtype of ``coef_``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from lpcore import LowPrecisionClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), LowPrecisionClassifier(random_state=0)).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True

    fp32 SGD with every gradient rounded to FP8 (E4M3) under a dynamic loss scale:

    >>> fp8 = LowPrecisionClassifier(solver="sgd", bits=32, grad_format="fp8_e4m3", grad_scaling="dynamic",
    ...                              tol=0, max_iter=10, random_state=0)
    >>> clf = make_pipeline(StandardScaler(), fp8).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9), sorted(fp8.shrinkage_)[:3]
    (True, ['log2_scale_mean', 'norm_ratio_mean', 'overflow_fraction'])
    """

    _parameter_constraints: dict = {
        **_LowPrecisionLinear._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    # scikit-learn reads an estimator's parameters from its __init__
    # signature, so this one repeats the base class's and adds class_weight.
    def __init__(
        self,
        *,
        solver="halp",
        bits=16,
        data_bits="auto",
        eta="auto",
        alpha=1e-4,
        mu="auto",
        delta="auto",
        epoch_length=None,
        max_iter=1000,
        tol=1e-4,
        fit_intercept=True,
        warm_start=False,
        random_state=None,
        verbose=0,
        grad_format=None,
        grad_rounding="nearest",
        grad_scaling="none",
        step_compensation="none",
        n_jobs=None,
        class_weight=None,
    ):
        super().__init__(
            solver=solver, bits=bits, data_bits=data_bits, eta=eta, alpha=alpha, mu=mu, delta=delta, epoch_length=epoch_length,
            max_iter=max_iter, tol=tol, fit_intercept=fit_intercept, warm_start=warm_start,
            random_state=random_state, verbose=verbose, grad_format=grad_format, grad_rounding=grad_rounding,
            grad_scaling=grad_scaling, step_compensation=step_compensation, n_jobs=n_jobs,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    def _class_weighted(self, sample_weight, X, y, classes, codes):
        """sample_weight times the weight of each sample's class (class_weight)."""
        if self.class_weight is None:
            return sample_weight
        if isinstance(self.class_weight, dict):
            for label, weight in self.class_weight.items():
                if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, Real) or not (
                    math.isfinite(weight) and weight >= 0
                ):
                    raise ValueError(
                        f"class_weight[{label!r}] must be a finite number >= 0, got {weight!r}"
                    )
        v = _check_sample_weight(sample_weight, X, dtype=np.float64, copy=True, ensure_non_negative=True)
        per_class = compute_class_weight(self.class_weight, classes=classes, y=y, sample_weight=v)
        if not np.isfinite(per_class).all():
            empty = classes[~np.isfinite(per_class)]
            raise ValueError(
                f"class_weight='balanced' cannot weigh class(es) {empty.tolist()!r}: their samples' weights "
                f"sum to 0; give them weight, or pass class_weight as a dict"
            )
        return v * per_class[codes]

    @with_callbacks
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and class labels y, with
        optional ``sample_weight`` (n_samples,): finite and >= 0, not all 0.

        A fit that raises leaves the estimator as it was before the call.
        """
        with _unchanged_on_error(self):
            self._validate_params()
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False)
            _check_label_kinds(y)
            check_classification_targets(y)
            encoder = LabelEncoder().fit(y)
            classes = encoder.classes_
            if classes.size < 2:
                raise ValueError(
                    f"LowPrecisionClassifier needs samples of at least 2 classes; got 1 class ({classes[0]!r})"
                )
            self.classes_ = classes
            codes = encoder.transform(y)
            weights = _weights(self._class_weighted(sample_weight, X, y, classes, codes), X)
            self._fit_codes(X, y, codes, weights, partial=False)
        return self

    @with_callbacks
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of the solver on the chunk (X, y), from the current model.

        ``classes`` (every label of the stream) is required on the first call,
        so that a chunk may hold only some of them; later calls may repeat
        it. For SVRG and HALP the epoch takes the chunk's full gradient as its
        anchor, then ``epoch_length`` steps (default twice the chunk's rows)
        drawn from the chunk; SGD takes the steps alone. The chunk is rounded
        on its own. The model, HALP's ``mu_``, the step size and LP-SGD /
        LP-SVRG's grid carry over from the earlier calls (the first call, or
        a ``fit``, chooses them), and so does the width ``bits_``. ``tol``
        and ``max_iter`` do not apply; ``n_iter_`` counts the epochs so far
        and ``history_`` gains a record per call (more where eta="auto"
        restarts a diverged epoch). ``sample_weight`` weighs the rows within
        the chunk: each call minimizes its chunk's weighted mean loss, so a
        chunk's total weight does not make its epoch count more or less.
        ``class_weight`` must be a dict or None here: "balanced" needs the
        whole stream's counts.

        A call that raises leaves the estimator as it was before the call.
        """
        with _unchanged_on_error(self):
            first = not hasattr(self, "n_iter_")
            self._validate_params()
            X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32], ensure_all_finite=False)
            _check_label_kinds(y)
            check_classification_targets(y)
            if classes is not None:
                classes = np.asarray(classes)
                _check_label_kinds(classes)
                classes = np.unique(classes)
            if first:
                if classes is None:
                    raise ValueError(
                        "partial_fit needs classes= on its first call: every label the stream holds, "
                        "since one chunk may hold only some of them"
                    )
                if classes.size < 2:
                    raise ValueError(f"LowPrecisionClassifier needs at least 2 classes; got classes={classes!r}")
                self.classes_ = classes
            elif classes is not None and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes!r} differs from the classes of the earlier calls, {self.classes_!r}"
                )
            if isinstance(self.class_weight, str):
                raise ValueError(
                    "class_weight='balanced' needs the class counts of the whole stream, which partial_fit "
                    "does not see; pass a dict (sklearn.utils.class_weight.compute_class_weight on a sample "
                    "of the stream gives one)"
                )
            codes = np.searchsorted(self.classes_, y) if y.size else np.zeros(0, dtype=np.intp)
            known = (codes < self.classes_.size) & (self.classes_[np.minimum(codes, self.classes_.size - 1)] == y)
            if not known.all():
                raise ValueError(
                    f"y holds labels that are not in classes_ {self.classes_!r}: {np.unique(y[~known])[:5]!r}; "
                    f"pass every label of the stream as classes= on the first call"
                )
            weights = _weights(self._class_weighted(sample_weight, X, y, self.classes_, codes), X)
            self._fit_codes(X, y, codes, weights, partial=True)
        return self

    def _fit_codes(self, X, y, codes, weights, partial):
        """Fit to the labels y, whose class indices are ``codes``."""
        if self.classes_.size == 2:
            self._fit(X, y, np.where(codes == 1, 1.0, -1.0), "logistic", 1, weights, partial)
        else:
            self._fit(X, y, codes.astype(np.float64), "multinomial", self.classes_.size, weights, partial)

    def decision_function(self, X):
        """Margins: shape (n_samples,) for two classes, else (n_samples, n_classes)."""
        scores = self._decision(X)
        return scores[:, 0] if self.classes_.size == 2 else scores

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        scores = self.decision_function(X)
        if self.classes_.size == 2:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels, shape (n_samples,)."""
        scores = self.decision_function(X)
        if self.classes_.size == 2:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]
