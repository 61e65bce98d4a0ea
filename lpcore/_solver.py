"""The seam between the estimators and the C++ solvers.

The estimators (``linear_model.py``) hold parameters and fitted attributes;
this module holds the rules that turn them into one :class:`_core.SolverConfig`
(the step size, LP-SGD's grid, HALP's starting mu), makes the one data-path
call (:func:`lpcore._data.prepare`), runs the solver and hands back one
:class:`Solution`. Two rules act between solver runs:

* **Backoff.** With ``eta="auto"`` (and, for HALP at 8 or 16 bits,
  ``mu="auto"``: a grid held at a fixed mu can diverge by its own rounding
  noise, which a smaller step does not reduce), a run that diverges (the objective became
  non-finite, rose above its start, or gave back half its progress:
  ``cpp/src/solvers/divergence.hpp``) restarts from the fit's start with
  ``eta / ETA_BACKOFF``, at most ``MAX_BACKOFFS`` times.
* **Escalation.** HALP at 8 bits with ``mu="auto"`` stops when it stalls
  (the full-gradient norm fell by less than half over 4 epochs with no
  saturation: ``kStallWindow`` in ``cpp/include/lpcore/solver.hpp``) and
  goes on from where it stopped with a 16-bit model on the same 8-bit rows
  (D8M16) for the epochs left.

The data's width and the model's are separate (``data_bits`` and ``bits``):
the rows are made once, at ``data_bits``, and the solver runs a ``bits``-bit
model on them (``SolverConfig.bits``). Every run's epochs go into the
history, with the step size and widths of each, so a user sees what
happened (``history_["eta"]``, ``history_["bits"]``, ``history_["data_bits"]``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, softmax

from . import _core
from ._backend import check_backend
from ._data import Prepared, n_threads, prepare
from ._constants import GRID_MAX, WIDTH_PAIRS
from ._validation import seed_from
from .float_formats import check_format, check_rounding

# Curvature bound of each loss in the margin: squared 1, logistic 1/4,
# multinomial 1/2 (the largest eigenvalue of diag(p) - p p^T).
LOSS_CURVATURE = {"squared": 1.0, "logistic": 0.25, "multinomial": 0.5}
LOSSES = {"squared": _core.Loss.squared, "logistic": _core.Loss.logistic, "multinomial": _core.Loss.multinomial}
METHODS = {"sgd": _core.Method.sgd, "svrg": _core.Method.svrg, "halp": _core.Method.halp}

# mu="auto": HALP's starting mu, by the model's width; the solver then halves
# it after an epoch with more than 0.1% saturated updates and quadruples it
# after one in which the gradient norm and the objective both grew
# (cpp/include/lpcore/solver.hpp). 8 bits: chosen on a sweep of 15 problems, 3
# seeds each (docs/algorithms.md, "Choosing mu"): of the starts 0.3, 1, 3 and
# 10, 3 needed the fewest epochs and reached tol in the most runs. 16 bits: the
# grid has 2^8 times the steps, so a grid 10x wider than the 8-bit start's is
# still 25x finer, and it saturates far less often (each halving costs an
# epoch).
MU_START = {8: 3.0, 16: 0.3}

# data_bits="auto": the data's width for each model width. The step's cost out
# of cache is its random row read, so the rows are as narrow as a model allows;
# a 16-bit model runs on 8-bit rows (D8M16). fp32 keeps fp32 rows.
AUTO_DATA_BITS = {8: 8, 16: 8, 32: 32}

# eta="auto" restarts a diverged fit with eta / ETA_BACKOFF, at most
# MAX_BACKOFFS times (2^12 = 4096x below the rule's step). Halving loses at
# most a factor 2 of speed to the largest stable step.
ETA_BACKOFF = 2.0
MAX_BACKOFFS = 12

# The width an 8-bit HALP fit that stalls goes on at.
ESCALATED_BITS = 16

# step_compensation="shrinkage": the running estimate of q is clipped to
# [SHRINKAGE_Q_FLOOR, 1], so the step grows at most 10x. Below q ~ 0.1 most of
# the quantized gradient is flushed or rounding noise, g^ = q g + eps is
# dominated by eps, and a larger step would amplify eps rather than restore
# progress along g.
SHRINKAGE_Q_FLOOR = 0.1

# The `divergence` codes of a FitResult (cpp/src/solvers/divergence.hpp).
DIVERGENCE_CAUSES = {
    0: "no divergence",
    1: "the objective or its gradient became non-finite",
    2: "the objective rose above its value at the start",
    3: "the objective gave back more than half of the progress it had made",
}


def data_width(data_bits, bits: int) -> int:
    """The data's width for a ``bits``-bit model: ``data_bits``, or its
    "auto" choice (AUTO_DATA_BITS). Raises ValueError for a pair the solver
    does not run."""
    resolved = AUTO_DATA_BITS[bits] if isinstance(data_bits, str) else int(data_bits)
    if (resolved, bits) not in WIDTH_PAIRS:
        wider = resolved > bits
        raise ValueError(
            f"data_bits={data_bits!r} with bits={bits} is not supported: "
            + ("the data cannot be finer than the model; " if wider else "")
            + "the pairs are data and model at the same width (8, 16 or 32 bits), or 8-bit data under a "
            "16-bit model (data_bits=8, bits=16); data_bits='auto' picks "
            + ", ".join(f"{d} for bits={b}" for b, d in AUTO_DATA_BITS.items())
        )
    return resolved


def step_size(row_sq_norms: np.ndarray, loss: str, alpha: float, fit_intercept: bool, sample_weight=None) -> float:
    """eta="auto": ``1 / (2 L)``, L the mean per-sample smoothness constant
    (weighted by the sample weights: the rows are drawn in proportion to them).

    The mean, not the max: the max would let a single outlier row (a rare
    pixel after standardization, say) shrink every step; where the data's
    outliers make this step too large, the fit diverges and backs off.
    """
    if not row_sq_norms.size:
        feature = 1.0
    else:
        feature = float(np.average(row_sq_norms, weights=sample_weight)) + (1.0 if fit_intercept else 0.0)
    L = LOSS_CURVATURE[loss] * feature + alpha
    return 1.0 / (2.0 * L) if L > 0 and math.isfinite(L) else 1.0


def _row_dots(Xf: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Xf @ coef.T (rows x K), each dot summed by NumPy's own reduction.

    Not BLAS: its kernels, chosen per CPU, sum in different orders, so the
    last bits of delta="auto" (and of every model on its grid) would depend
    on the machine. An elementwise product and a NumPy sum along one axis
    give the same bits on every CPU.
    """
    out = np.empty((Xf.shape[0], coef.shape[0]))
    for k in range(coef.shape[0]):
        out[:, k] = (Xf * coef[k].astype(np.float64)).sum(axis=1)
    return out


def auto_delta(data: Prepared, y: np.ndarray, loss: str, alpha: float, coef0, intercept0, bits: int,
               sample_weight=None) -> float:
    """The fixed grid of LP-SGD / LP-SVRG: twice the largest coefficient of
    one coordinate-wise Newton step from the start, over 2**(bits-1) - 1.

    The step ``w_j = w0_j - g_j / H_jj`` (gradient g and diagonal curvature H
    of the objective at the start) is exact for uncorrelated features, and it
    gets the solution's scale right for standardized data, which is all a
    fixed grid needs. The rows are read in chunks of about 8 MiB of float64.
    The gradient and curvature are sample-weighted means, as the objective is,
    summed in row order by NumPy (never BLAS, see _row_dots), so delta has the
    same bits on every machine.
    """
    rows, row_scale = data.rows, data.row_scale
    n, width = rows.shape
    v = np.ones(n) if sample_weight is None else sample_weight
    grad_sum = np.zeros(coef0.shape)
    col_sq = np.zeros(width)
    chunk = max(1, (1 << 20) // max(width, 1))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        Xf = rows[start:stop].astype(np.float64)
        if row_scale is not None:
            Xf *= row_scale[start:stop, None]
        margins = _row_dots(Xf, coef0) + intercept0
        yc = y[start:stop]
        if loss == "squared":
            phi = margins - (yc if yc.ndim == 2 else yc[:, None])
        elif loss == "logistic":
            phi = -yc[:, None] * expit(-yc[:, None] * margins)
        else:
            phi = softmax(margins, axis=1)
            phi[np.arange(stop - start), yc.astype(int)] -= 1.0
        vc = v[start:stop, None]
        weighted = phi * vc
        for k in range(grad_sum.shape[0]):
            grad_sum[k] += (weighted[:, k, None] * Xf).sum(axis=0)
        col_sq += (Xf * vc * Xf).sum(axis=0)
    total = float(v.sum())
    grad = grad_sum / total + alpha * coef0
    curvature = LOSS_CURVATURE[loss] * col_sq / total + alpha
    step = np.divide(grad, curvature, out=np.zeros_like(grad), where=curvature > 0)
    radius = 2.0 * float(np.abs(coef0 - step).max())
    return radius / GRID_MAX[bits] if radius > 0 and math.isfinite(radius) else 1.0


@dataclass
class Start:
    """A previous model to start from (warm_start, partial_fit), and for
    partial_fit the settings the first chunk chose, kept for the later ones."""

    coef: np.ndarray  # (K, n_features)
    intercept: np.ndarray  # (K,)
    mu: float | None = None  # HALP's adapted mu
    eta: float | None = None  # partial_fit: the step size (eta="auto" chose it on the first chunk)
    delta: float | None = None  # partial_fit: LP-SGD / LP-SVRG's grid (delta="auto")
    bits: int | None = None  # partial_fit: the width the model is at (the data's follows from data_bits)
    chunk: int = 0  # partial_fit: chunks trained on so far (varies the random streams)
    saturated: float = -1.0  # partial_fit: the last epoch's saturated fraction (adapts HALP's mu)


@dataclass
class Run:
    """One solver run: its step size, width and result."""

    eta: float
    bits: int
    data_bits: int
    result: object  # _core.FitResult
    shrinkage: dict | None = None


@dataclass
class Solution:
    """What a fit produced: the runs (the last ones made the model) and the data it ended on."""

    runs: list[Run] = field(default_factory=list)
    data: Prepared | None = None
    start: int = 0  # index of the first run since the last restart: the model's runs
    start_coef: np.ndarray | None = None  # the coefficients the model's runs started from (padded)

    @property
    def last(self):
        return self.runs[-1].result

    @property
    def model_runs(self) -> list[Run]:
        return self.runs[self.start:]

    @property
    def n_iter(self) -> int:
        return sum(int(r.result.n_iter) for r in self.model_runs)

    @property
    def initial_grad_norm(self) -> float:
        return float(self.model_runs[0].result.initial_grad_norm)

    @property
    def initial_objective(self) -> float:
        return float(self.model_runs[0].result.initial_objective)

    def history(self) -> dict:
        """Every epoch of every run, in order, with ``eta``, ``bits`` and ``data_bits`` per epoch."""
        keys = list(self.last.history)
        parts = [r.result.history for r in self.runs]
        out = {key: np.concatenate([np.asarray(p[key]) for p in parts]) for key in keys}
        lengths = [len(p[keys[0]]) for p in parts]
        out["eta"] = np.concatenate([np.full(m, r.eta) for m, r in zip(lengths, self.runs)])
        for key in ("bits", "data_bits"):
            out[key] = np.concatenate([np.full(m, getattr(r, key), dtype=np.int64) for m, r in zip(lengths, self.runs)])
        return out


def config(method: str, loss: str, **fields) -> "_core.SolverConfig":
    """A SolverConfig from the method and loss names and any of its fields
    (the tests and benchmarks that call the solver directly use this)."""
    cfg = _core.SolverConfig()
    cfg.method, cfg.loss = METHODS[method], LOSSES[loss]
    for name, value in fields.items():
        if not hasattr(cfg, name):
            raise TypeError(f"SolverConfig has no field {name!r}")
        setattr(cfg, name, value)
    return cfg


def _grad_config(est) -> "_core.FloatGradConfig":
    grad = _core.FloatGradConfig()
    grad.format = check_format(est.grad_format)
    grad.rounding = check_rounding(est.grad_rounding)
    grad.overflow = 0  # saturate
    if isinstance(est.grad_scaling, str):
        grad.scaling = _core.GradScaling.none if est.grad_scaling == "none" else _core.GradScaling.dynamic
    else:
        grad.scaling = _core.GradScaling.fixed
        grad.loss_scale = float(est.grad_scaling)
    grad.compensate = est.step_compensation == "shrinkage"
    grad.q_floor = SHRINKAGE_Q_FLOOR
    return grad


def _padded(coef: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((coef.shape[0], width), np.float32)
    n = min(width, coef.shape[1])
    out[:, :n] = coef[:, :n]
    return out


def solve(est, X, y: np.ndarray, loss: str, n_outputs: int, start: Start | None = None, sample_weight=None,
          partial: bool = False, epoch_hook=None) -> Solution:
    """Fit the estimator ``est``'s model to X and the encoded targets y
    ((n,), or (n, n_outputs) for the squared loss).

    ``start`` is None (a zero model) or a previous model to start from.
    ``sample_weight`` is None (every row weighs the same) or finite float64
    weights >= 0 with a positive sum. ``partial``: one epoch on X
    (partial_fit), at the width, step size and grid in ``start`` where it has
    them. ``epoch_hook(epoch, record, coef, intercept)`` is called after every
    epoch of every run (``_core.fit``); a true result stops the fit. Returns
    the :class:`Solution`; a fit that diverged even after the backoff is
    returned as it is (``solution.last.diverged``), for the caller to report.
    """
    kept = start if partial and start is not None else Start(np.empty(0), np.empty(0))
    bits = int(kept.bits if kept.bits is not None else est.bits)
    data_bits = data_width(est.data_bits, bits)
    float_grad = est.grad_format is not None
    # The float-gradient statistics count every coordinate: no padding there.
    data = prepare(X, data_bits, pad=not float_grad, n_jobs=est.n_jobs)
    n_samples, n_features = X.shape
    width = data.rows.shape[1]
    auto_eta = isinstance(est.eta, str)
    # A HALP grid held at a fixed mu can diverge by its own rounding noise, which a
    # smaller step does not reduce: no backoff there, the error names mu.
    backoff = auto_eta and not (est.solver == "halp" and bits != 32 and not isinstance(est.mu, str))
    if not auto_eta:
        eta = float(est.eta)
    elif kept.eta is not None:
        eta = kept.eta
    else:
        eta = step_size(data.row_sq_norms, loss, float(est.alpha), bool(est.fit_intercept), sample_weight)

    coef0 = np.zeros((n_outputs, width), dtype=np.float32)
    intercept0 = np.zeros(n_outputs, dtype=np.float64)
    if start is not None:
        coef0[:, :n_features] = start.coef
        intercept0[:] = start.intercept

    cfg = _core.SolverConfig()
    cfg.method = METHODS[est.solver]
    cfg.loss = LOSSES[loss]
    cfg.bits = bits
    cfg.alpha = float(est.alpha)
    cfg.adapt_mu = isinstance(est.mu, str)
    if not cfg.adapt_mu:
        cfg.mu = float(est.mu)
    else:  # with warm_start or partial_fit, carry on from the mu the previous fit adapted to
        cfg.mu = start.mu if start is not None and start.mu is not None else MU_START.get(bits, 1.0)
        cfg.prior_saturated = kept.saturated  # partial_fit: mu goes on adapting from chunk to chunk
    cfg.delta = 1.0
    if bits != 32 and est.solver != "halp":
        if est.delta != "auto":
            cfg.delta = float(est.delta)
        elif kept.delta is not None:
            cfg.delta = kept.delta
        else:
            cfg.delta = auto_delta(data, y, loss, cfg.alpha, coef0, intercept0, bits, sample_weight)
    cfg.epoch_length = 2 * n_samples if est.epoch_length is None else int(est.epoch_length)
    # partial_fit: one epoch, whatever tol says (as SGDClassifier's partial_fit).
    cfg.max_iter = 1 if partial else int(est.max_iter)
    cfg.tol = 0.0 if partial else float(est.tol)
    cfg.fit_intercept = bool(est.fit_intercept)
    cfg.seed = (seed_from(est.random_state) + kept.chunk * 0x9E3779B97F4A7C15) % 2**64
    cfg.verbose = min(int(est.verbose), 1)  # any positive level prints the same lines
    cfg.n_features = n_features if not float_grad else 0
    cfg.stop_on_stall = est.solver == "halp" and bits == 8 and cfg.adapt_mu and not float_grad and not partial
    cfg.n_threads = n_threads(est.n_jobs)
    grad = _grad_config(est) if float_grad else None
    backend = check_backend(None)

    def say(message):
        if est.verbose:
            print(f"lpcore: {message}", file=sys.stderr)

    solution = Solution(start_coef=coef0)
    start_coef, start_intercept, start_mu = coef0, intercept0, cfg.mu
    start_bits, start_stall = bits, cfg.stop_on_stall  # a restart undoes a move to 16 bits
    backoffs = 0
    while True:
        cfg.eta = eta
        if float_grad:
            out = _core.fit_float_grad(data.rows, y, coef0, intercept0, cfg, grad, backend, sample_weight, epoch_hook)
            run = Run(eta, bits, data_bits, out.fit, {key: np.asarray(v) for key, v in out.shrinkage.items()})
        else:
            result = _core.fit(data.rows, data.row_scale, y, coef0, intercept0, cfg, backend, sample_weight,
                               epoch_hook)
            run = Run(eta, bits, data_bits, result)
        solution.runs.append(run)
        result = run.result
        if result.diverged and backoff and backoffs < MAX_BACKOFFS:
            say(
                f"eta={eta:.3g} diverged after {result.n_iter} epoch(s) ({DIVERGENCE_CAUSES[result.divergence]}); "
                f"restarting from the start with eta={eta / ETA_BACKOFF:.3g}"
            )
            backoffs += 1
            eta /= ETA_BACKOFF
            coef0, intercept0, cfg.mu = _padded(start_coef, width), start_intercept, start_mu
            bits = cfg.bits = start_bits
            cfg.stop_on_stall = start_stall
            cfg.tol_reference = 0.0
            cfg.max_iter = 1 if partial else int(est.max_iter)
            solution.start = len(solution.runs)
            continue
        left = int(est.max_iter) - solution.n_iter
        if result.stalled and left > 0:
            say(
                f"HALP at {bits} bits stalled after {solution.n_iter} epoch(s) (gradient norm "
                f"{result.history['grad_norm'][-1]:.3g}); going on with a {ESCALATED_BITS}-bit model on the "
                f"{data_bits}-bit data for up to {left} epochs"
            )
            bits = cfg.bits = ESCALATED_BITS
            coef0, intercept0, cfg.mu = result.coef, np.asarray(result.intercept), float(result.mu)
            cfg.max_iter = left
            cfg.tol_reference = solution.initial_grad_norm  # tol stays relative to the fit's start
            cfg.stop_on_stall = False
            continue
        break
    solution.data = data
    return solution
