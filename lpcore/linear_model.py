"""scikit-learn estimators trained by lpcore's low-precision solvers.

:class:`LowPrecisionRegressor` (least squares) and
:class:`LowPrecisionClassifier` (logistic: binary, or multinomial for more
than two classes) minimize

    (1/n) sum_i loss(x_i . w + b, y_i) + alpha/2 ||w||^2

(the intercept ``b`` is not penalized) with one of three solvers, each at 8,
16 or 32 bits:

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

At 8/16 bits the data are stored at the same width with one scale per row,
rounded once (to nearest) at fit time; ``data_rounding_error_`` records how
much that moved them. The whole training loop runs in C++ without the GIL
(see ``cpp/src/solver.cpp``).

With ``grad_format`` set (``solver="sgd"`` or ``"svrg"`` at ``bits=32``), the
model stays in fp32 and every step's gradient is rounded to a simulated
low-precision float format (FP16, BF16, FP8, FP4), as in mixed-precision
training; ``shrinkage_`` then records how much quantization shrank it (see
:mod:`lpcore.float_formats` and ``cpp/src/float_grad_sgd.cpp``).

Sampling is uniform with replacement: that is the sampling the SVRG and HALP
analyses assume, it makes an epoch of any length ``T`` (default ``2 n``)
well defined, and it needs no O(n) permutation per epoch.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core
from ._backend import check_backend
from ._data import prepare
from ._validation import GRID_MAX, seed_from
from .float_formats import FORMATS, ROUNDINGS, check_format, check_rounding

__all__ = [
    "DivergenceError",
    "LowPrecisionClassifier",
    "LowPrecisionRegressor",
    "SaturationWarning",
]

# Curvature bound of each loss in the margin: squared 1, logistic 1/4,
# multinomial 1/2 (the largest eigenvalue of diag(p) - p p^T).
_LOSS_CURVATURE = {"squared": 1.0, "logistic": 0.25, "multinomial": 0.5}
# Fraction of saturated coordinate updates above which an epoch counts as saturated.
SATURATION_LIMIT = 0.01
# step_compensation="shrinkage": the running estimate of q is clipped to
# [SHRINKAGE_Q_FLOOR, 1], so the step grows at most 10x. Below q ~ 0.1 most of
# the quantized gradient is flushed or rounding noise, g^ = q g + eps is
# dominated by eps, and a larger step would amplify eps rather than restore
# progress along g. The cap also keeps the compensated step within an order
# of magnitude of the step the user chose, whose stability they tuned.
SHRINKAGE_Q_FLOOR = 0.1
_GRAD_SCALING_CODES = {"none": 0, "fixed": 1, "dynamic": 2}


# mu="auto": HALP's starting mu; the solver then halves it after an epoch
# with more than 0.1% saturated updates and quadruples it after one in which
# the gradient norm and the objective both grew (cpp/include/lpcore/solver.hpp).
# Chosen on a sweep of 15 problems, 3 seeds each (README, "Choosing mu"): of
# the starts 0.3, 1, 3 and 10, 3 needed the fewest epochs and reached tol in
# the most runs. Starting high is cheap (saturation is an unambiguous signal,
# and each halving costs one epoch), while a grid too coarse or too fine that
# neither diverges nor saturates gives the rule no signal at all: starts of
# 0.3 and 10 left make_regression(1000, 500) unconverged.
MU_START = 3.0

# A HALP fit whose full-gradient norm ends this many times above its start
# was driven by rounding noise (the objectives are convex and SVRG contracts).
DIVERGENCE_GROWTH = 100.0


class DivergenceError(ArithmeticError):
    """The objective became non-finite during a fit (the step size is too large)."""


class SaturationWarning(UserWarning):
    """Many low-precision updates hit the ends of the integer grid."""


def _smoothness(row_sq_norms: np.ndarray, loss: str, alpha: float, fit_intercept: bool) -> float:
    """Mean per-sample smoothness constant of the objective on the training data."""
    feature = float(row_sq_norms.mean()) + (1.0 if fit_intercept else 0.0)
    return _LOSS_CURVATURE[loss] * feature + alpha


class _LowPrecisionLinear(BaseEstimator):
    """Shared parameters, data preparation and the call into the C++ solver."""

    _parameter_constraints: dict = {
        "solver": [StrOptions({"halp", "svrg", "sgd"})],
        "bits": [Options(Integral, {8, 16, 32})],
        "eta": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "mu": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "delta": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "epoch_length": [Interval(Integral, 1, None, closed="left"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
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
        bits=8,
        eta="auto",
        alpha=1e-4,
        mu="auto",
        delta="auto",
        epoch_length=None,
        max_iter=50,
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

    def _fit_float_grad(self, Xt, y_encoded, coef0, intercept0, loss, eta, epoch_length, seed):
        """fp32 SGD / SVRG with every step's gradient in ``grad_format``."""
        scaling = self.grad_scaling
        code = _GRAD_SCALING_CODES[scaling] if isinstance(scaling, str) else _GRAD_SCALING_CODES["fixed"]
        result = _core.fit_float_grad(
            Xt, y_encoded, coef0, intercept0,
            method=self.solver, loss=loss, eta=eta, alpha=float(self.alpha), epoch_length=epoch_length,
            max_iter=int(self.max_iter), tol=float(self.tol), fit_intercept=bool(self.fit_intercept), seed=seed,
            verbose=int(self.verbose), format=check_format(self.grad_format),
            rounding=check_rounding(self.grad_rounding), overflow=0, scaling=code,
            loss_scale=1.0 if isinstance(scaling, str) else float(scaling),
            compensate=self.step_compensation == "shrinkage", q_floor=SHRINKAGE_Q_FLOOR,
            backend=check_backend(None),
        )
        self.shrinkage_ = {key: np.asarray(v) for key, v in result["shrinkage"].items()}
        return result

    def _fit(self, X, y_encoded, loss, n_outputs):
        self._check_grad_params()
        # The float-gradient statistics count every coordinate: no padding there.
        data = prepare(X, self.bits, pad=self.grad_format is None, n_jobs=self.n_jobs)
        Xt, row_scale = data.rows, data.row_scale
        self.data_rounding_error_ = data.rounding_error
        n_samples, n_features = X.shape
        width = Xt.shape[1]
        L = _smoothness(data.row_sq_norms, loss, self.alpha, self.fit_intercept)
        # 1/(2 L) with L the *mean* per-sample smoothness: the max would let a
        # single outlier row (a rare pixel after standardization, say) shrink
        # every step; a step too large for the data ends in a DivergenceError.
        eta = (1.0 / (2.0 * L) if L > 0 else 1.0) if self.eta == "auto" else float(self.eta)
        self.eta_ = eta
        epoch_length = 2 * n_samples if self.epoch_length is None else int(self.epoch_length)

        coef0 = np.zeros((n_outputs, width), dtype=np.float32)
        intercept0 = np.zeros(n_outputs, dtype=np.float64)
        warm = self.warm_start and hasattr(self, "_coef") and self._coef.shape == (n_outputs, n_features)
        if warm:
            coef0[:, :n_features] = self._coef
            intercept0[:] = self._intercept

        delta = 1.0
        if self.bits != 32 and self.solver != "halp":
            delta = self._auto_delta(Xt, row_scale, y_encoded, loss, coef0, intercept0) if self.delta == "auto" else float(self.delta)
        adapt_mu = isinstance(self.mu, str)
        if not adapt_mu:
            mu = float(self.mu)
        elif warm and getattr(self, "mu_", None) is not None:
            mu = self.mu_  # carry on from the mu the previous fit adapted to
        else:
            mu = MU_START
        seed = seed_from(self.random_state)
        if self.grad_format is not None:
            result = self._fit_float_grad(Xt, y_encoded, coef0, intercept0, loss, eta, epoch_length, seed)
        else:
            self.shrinkage_ = None
            result = _core.fit(
                Xt, row_scale, y_encoded, coef0, intercept0,
                method=self.solver, loss=loss, eta=eta, alpha=float(self.alpha), mu=mu,
                delta=float(delta), epoch_length=epoch_length, max_iter=int(self.max_iter),
                tol=float(self.tol), fit_intercept=bool(self.fit_intercept), seed=seed,
                verbose=int(self.verbose), adapt_mu=adapt_mu, n_features=n_features,
                backend=check_backend(None),
            )
        if result["diverged"]:
            raise DivergenceError(
                f"the objective became non-finite after {result['n_iter']} epoch(s) with eta={eta:.3g}; "
                f"the step size is too large for this data: pass a smaller eta (for example "
                f"eta={eta / 10:.3g}) or eta='auto', or standardize X"
            )
        self._coef = np.ascontiguousarray(result["coef"][:, :n_features])
        self._intercept = result["intercept"] if self.fit_intercept else np.zeros(n_outputs)
        self.n_iter_ = int(result["n_iter"])
        self.history_ = {key: np.asarray(v) for key, v in result["history"].items()}
        self.initial_objective_ = float(result["initial_objective"])
        self.scale_ = float(result["scale"]) if self.bits != 32 else None
        self.mu_ = float(result["mu"]) if math.isfinite(result["mu"]) else None
        self._warn_about(result, epoch_length)
        return self

    def _auto_delta(self, Xt, row_scale, y_encoded, loss, coef0, intercept0):
        """The fixed grid of LP-SGD / LP-SVRG: twice the largest coefficient of
        one coordinate-wise Newton step from the start, over 2**(bits-1) - 1.

        The step ``w_j = w0_j - g_j / H_jj`` (gradient g and diagonal curvature
        H of the objective at the start) is exact for uncorrelated features,
        and it gets the solution's scale right for standardized data, which is
        all a fixed grid needs. The rows are read in chunks of about 8 MiB of
        float64, so no temporary is as large as X.
        """
        n, width = Xt.shape
        grad_sum = np.zeros(coef0.shape)
        col_sq = np.zeros(width)
        chunk = max(1, (1 << 20) // max(width, 1))
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            Xf = Xt[start:stop].astype(np.float64)
            if row_scale is not None:
                Xf *= row_scale[start:stop, None]
            margins = Xf @ coef0.T.astype(np.float64) + intercept0
            y = y_encoded[start:stop]
            if loss == "squared":
                phi = margins - y[:, None]
            elif loss == "logistic":
                phi = -y[:, None] * expit(-y[:, None] * margins)
            else:
                phi = softmax(margins, axis=1)
                phi[np.arange(stop - start), y.astype(int)] -= 1.0
            grad_sum += phi.T @ Xf
            col_sq += np.einsum("ij,ij->j", Xf, Xf)
        grad = grad_sum / n + self.alpha * coef0
        curvature = _LOSS_CURVATURE[loss] * col_sq / n + self.alpha
        step = np.divide(grad, curvature, out=np.zeros_like(grad), where=curvature > 0)
        radius = 2.0 * float(np.abs(coef0 - step).max())
        return radius / GRID_MAX[self.bits] if radius > 0 and math.isfinite(radius) else 1.0

    def _mu_range(self):
        """The range HALP's adaptive mu went through, as text."""
        mus = self.history_["mu"]
        return f"mu ranged over [{mus.min():.3g}, {mus.max():.3g}] and ended at {float(mus[-1]):.3g}"

    def _warn_about(self, result, epoch_length):
        saturated = self.history_["saturated"] > SATURATION_LIMIT
        halp = self.solver == "halp" and self.bits != 32
        adaptive = halp and isinstance(self.mu, str)
        search = 0
        if adaptive:
            # The first epochs saturate while mu='auto' lowers mu from its start:
            # that is the search, not a symptom.
            while search < saturated.size and saturated[search]:
                search += 1
        if self.bits != 32 and saturated.size and search == saturated.size:
            floor = 1.0 / (self.eta_ * max(epoch_length, 1))  # the solver's bound on mu
            if float(self.history_["mu"][-1]) <= floor * (1 + 1e-9):
                advice = (
                    f"although mu='auto' lowered mu to its floor 1/(eta T) = {floor:.3g}: the {self.bits}-bit "
                    f"grid is too narrow for this model; try bits=16, or standardize X"
                )
            else:
                advice = (
                    f"while mu='auto' was still halving mu from its start ({self._mu_range()}): the fit ended "
                    f"before the {self.bits}-bit grid was wide enough; increase max_iter, or pass a smaller mu"
                )
            warnings.warn(
                f"every epoch saturated (more than {100 * SATURATION_LIMIT:g}% of the coordinate updates) {advice}",
                SaturationWarning,
                stacklevel=3,
            )
        elif self.bits != 32 and saturated.size and np.mean(saturated[search:]) >= 0.5:
            if adaptive:
                advice = (
                    f"the {self.bits}-bit grid stayed too narrow although mu='auto' halves mu after every "
                    f"such epoch ({self._mu_range()}); where mu also rose, the gradient grew at the coarser "
                    f"grid, a sign of a step size too large for this data: try bits=16, a smaller eta than "
                    f"{self.eta_:.3g}, or standardize X"
                )
            else:
                hint = (
                    "a smaller mu (HALP's grid spans ||g~||/mu)"
                    if halp
                    else "a larger delta (the grid spans 127*delta at 8 bits)"
                )
                advice = f"the {self.bits}-bit grid is too narrow for this model; try {hint}, or bits=16"
            sat = self.history_["saturated"][search:]
            warnings.warn(
                f"{100 * float(np.median(sat)):.1f}% of the coordinate updates saturated in a typical "
                f"epoch (more than {100 * SATURATION_LIMIT:g}% in at least half of the epochs"
                f"{' after the first ' + str(search) if search else ''}): {advice}",
                SaturationWarning,
                stacklevel=3,
            )
        grad, start = self.history_["grad_norm"], float(result["initial_grad_norm"])
        if halp and grad.size and start > 0 and float(grad[-1]) > DIVERGENCE_GROWTH * start:
            if adaptive:
                advice = (
                    f"mu='auto' quadruples mu (a finer grid, less rounding noise) after every unsaturated "
                    f"epoch in which the gradient norm and the objective grew, and halves it after a "
                    f"saturated one ({self._mu_range()}); as no grid helped, the step size is likely too "
                    f"large for this data: pass a smaller eta than {self.eta_:.3g}, or standardize X"
                )
            else:
                advice = (
                    f"the grid was too coarse for this data (it spans ||g~||/mu, and its rounding noise grows "
                    f"with it): pass a larger mu than {self.mu:g} or mu='auto', or standardize X"
                )
            warnings.warn(
                f"HALP diverged: the full-gradient norm grew from {start:.3g} to {float(grad[-1]):.3g}; {advice}",
                ConvergenceWarning,
                stacklevel=3,
            )
            return
        if self.tol > 0 and not result["converged"]:
            warnings.warn(
                f"{self.solver} at {self.bits} bits did not reach tol={self.tol:g} (relative gradient "
                f"norm) in max_iter={self.max_iter} epochs; increase max_iter or eta",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _decision(self, X):
        check_is_fitted(self, "n_iter_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ self._coef.T.astype(X.dtype, copy=False) + self._intercept


class LowPrecisionRegressor(RegressorMixin, _LowPrecisionLinear):
    """Least squares trained at 8, 16 or 32 bits by HALP, SVRG or SGD.

    Minimizes ``(1/(2n)) ||X w + b - y||^2 + alpha/2 ||w||^2``.

    Parameters
    ----------
    solver : {"halp", "svrg", "sgd"}, default="halp"
        The training algorithm (see :mod:`lpcore.linear_model`).
    bits : {8, 16, 32}, default=8
        Width of the model and the data. 32 runs the fp32 baselines.
    eta : float or "auto", default="auto"
        Step size. "auto" is ``1 / (2 L)``, with ``L`` the mean per-sample
        smoothness constant of the objective on the (rounded) data:
        ``c * mean_i(||x_i||^2 + fit_intercept) + alpha``, with ``c`` 1 for
        squared, 1/4 for logistic and 1/2 for multinomial loss.
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
        every epoch, from 3: it halves mu after an epoch in which more than
        0.1% of the coordinate updates saturated, else quadruples it after
        one in which both the full-gradient norm and the objective grew, and
        keeps it within ``[1 / (eta T), 1 / eta]`` (``T = epoch_length``; the
        grid then reaches between one full-gradient step and T of them). The
        start, 3, was chosen on a sweep of 15 problems (README, "Choosing
        mu"): it needed the fewest epochs of the starts 0.3, 1, 3 and 10;
        each halving costs one epoch, while a grid that neither saturates
        nor diverges gives the rule no signal. ``history_["mu"]`` shows the
        path. With ``warm_start``, "auto" starts from the previous fit's
        ``mu_``. A float fixes mu. Only HALP at 8 and 16 bits uses mu.
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
        Inner steps per outer epoch (T); None means ``2 * n_samples``.
    max_iter : int, default=50
        Maximum number of outer epochs.
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
        Print one line per epoch to stderr.
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

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
        Outer epochs run.
    history_ : dict of ndarray
        Per epoch: ``objective`` and ``grad_norm`` (full-gradient norm) at the
        end of the epoch, ``seconds`` (full-gradient pass plus inner loop),
        ``inner_seconds``, ``saturated`` (fraction of coordinate updates that
        hit the grid's ends), ``scale`` (grid step used) and ``mu`` (HALP's mu
        during the epoch; NaN for the other solvers and at 32 bits).
    initial_objective_ : float
    scale_ : float or None
        The final grid step: HALP's last scale, or delta; None at 32 bits.
    mu_ : float or None
        HALP's mu in the last epoch: where mu="auto" ended, else mu. None for
        the other solvers and at 32 bits.
    eta_ : float
        The step size used.
    data_rounding_error_ : float
        ``||X - X_q||_F / ||X||_F`` of the data rounding (0 at 32 bits).
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

    def fit(self, X, y):
        """Fit the model to X (n_samples, n_features) and y (n_samples,)."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True, ensure_all_finite=False)
        y = np.ascontiguousarray(y, dtype=np.float64)
        self._fit(X, y, "squared", 1)
        self.coef_ = self._coef[0].astype(np.float64)
        self.intercept_ = float(self._intercept[0])
        return self

    def predict(self, X):
        """Predicted targets, shape (n_samples,)."""
        return self._decision(X)[:, 0]


class LowPrecisionClassifier(ClassifierMixin, _LowPrecisionLinear):
    """Logistic regression trained at 8, 16 or 32 bits by HALP, SVRG or SGD.

    Two classes: binary logistic loss, with ``classes_[1]`` the positive class.
    More classes: multinomial (softmax) loss, one weight row per class. The
    objective is the mean loss plus ``alpha/2 ||W||^2``; this is scikit-learn's
    ``LogisticRegression(C=1 / (alpha * n_samples))``.

    The parameters and the fitted ``n_iter_``, ``history_``,
    ``initial_objective_``, ``scale_``, ``mu_``, ``eta_``, ``data_rounding_error_``, ``shrinkage_``,
    ``n_features_in_`` and ``feature_names_in_`` are those of
    :class:`LowPrecisionRegressor`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    def fit(self, X, y):
        """Fit the model to X (n_samples, n_features) and class labels y."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        classes = encoder.classes_
        if classes.size < 2:
            raise ValueError(
                f"LowPrecisionClassifier needs samples of at least 2 classes; got 1 class ({classes[0]!r})"
            )
        self.classes_ = classes
        codes = encoder.transform(y)
        if classes.size == 2:
            target = np.where(codes == 1, 1.0, -1.0)
            self._fit(X, target, "logistic", 1)
        else:
            self._fit(X, codes.astype(np.float64), "multinomial", classes.size)
        self.coef_ = self._coef.astype(np.float64)
        self.intercept_ = np.asarray(self._intercept, dtype=np.float64).copy()
        return self

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
