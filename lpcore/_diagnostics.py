"""Warnings and errors read from a finished fit: each says what happened and what to change.

The solver records every epoch (``history_``); the rules here read it after
the fit (lpcore/_solver.py runs it), so the solvers stay free of policy and
every message can name the parameter to change and a value to try.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._solver import DIVERGENCE_CAUSES
from ._constants import GRID_MAX

# Fraction of saturated coordinate updates above which an epoch counts as saturated.
SATURATION_LIMIT = 0.01
# A HALP fit whose full-gradient norm ends this many times above its start
# was driven by rounding noise (the objectives are convex and SVRG contracts).
DIVERGENCE_GROWTH = 100.0
# Row norms or targets above this make float32 sums of squares overflow.
FLOAT32_SAFE = 1e18
# A 32-bit fit whose last this many epochs ended at the same gradient norm,
# bit for bit, has stopped moving.
FROZEN_EPOCHS = 3


def _user_stacklevel() -> int:
    """The stacklevel that makes a warning name the user's line: the first
    frame above the caller of warnings.warn outside lpcore and outside
    scikit-learn's callback support (which wraps fit)."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("lpcore.", "sklearn.callback")):
        frame = frame.f_back
        level += 1
    return level


class DivergenceError(ArithmeticError):
    """A fit diverged: its objective became non-finite, rose above its start, or
    gave back more than half of its progress (the message says which, and what to do)."""


class SaturationWarning(UserWarning):
    """Many low-precision updates hit the ends of the integer grid."""


def _last_run(est) -> dict:
    """history_ of the runs that produced the model (eta="auto" may have restarted the fit)."""
    return {key: value[len(value) - est.n_iter_:] for key, value in est.history_.items()}


def divergence_message(est, solution, y, loss) -> str:
    """What went wrong in a fit that diverged, and what to do instead."""
    run = solution.runs[-1]
    eta, result = run.eta, run.result
    cause = DIVERGENCE_CAUSES[result.divergence]
    start = float(result.initial_objective)
    objective = result.history["objective"]
    end = float(objective[-1]) if len(objective) else float("nan")
    what = (
        f"the fit diverged after {result.n_iter} epoch(s): {cause} (objective {start:.4g} at the start, "
        f"{end:.4g} at the end)"
    )
    norms = solution.data.row_sq_norms
    y_max = float(np.max(np.abs(y))) if loss == "squared" and y.size else 0.0
    x_max = float(np.sqrt(np.max(norms))) if norms.size else 0.0
    if not (y_max <= FLOAT32_SAFE and x_max <= FLOAT32_SAFE):
        return (
            f"{what}; the data are too large for lpcore's float32 arithmetic (largest row norm {x_max:.3g}, "
            f"largest |y| {y_max:.3g}), so no step size can help: rescale X and y (StandardScaler for X, "
            f"y / y.std() for a target)"
        )
    if est.solver == "halp" and est.bits != 32 and not isinstance(est.mu, str):
        return (
            f"{what}: with a fixed mu={est.mu:g} the HALP grid (it spans ||g~||/mu) is likely too coarse, and "
            f"its rounding noise outgrew the steps: pass a larger mu or mu='auto' (which adapts it), or a "
            f"smaller eta than {eta:.3g}, or standardize X"
        )
    if isinstance(est.eta, str):
        first = solution.runs[0].eta
        return (
            f"{what}, although eta='auto' backed off {len(solution.runs) - 1} times, from eta={first:.3g} to "
            f"eta={eta:.3g}; the objective may be unbounded for this data: standardize X, check y for "
            f"outliers, or pass a larger alpha"
        )
    return (
        f"{what}: the step size eta={eta:.3g} is too large for this data: pass a smaller eta (for example "
        f"eta={eta / 10:.3g}), or eta='auto', which backs off by itself, or standardize X"
    )


def _mu_range(est) -> str:
    """The range HALP's adaptive mu went through, as text."""
    mus = _last_run(est)["mu"]
    return f"mu ranged over [{mus.min():.3g}, {mus.max():.3g}] and ended at {float(mus[-1]):.3g}"

def warn_about(est, solution) -> None:
    """The warnings a finished fit deserves, each with the change that would help."""
    result = solution.last
    saturated = _last_run(est)["saturated"] > SATURATION_LIMIT
    halp = est.solver == "halp" and est.bits_ != 32
    adaptive = halp and isinstance(est.mu, str)
    search = 0
    if adaptive:
        # The first epochs saturate while mu='auto' lowers mu from its start:
        # that is the search, not a symptom.
        while search < saturated.size and saturated[search]:
            search += 1
    if est.bits_ != 32 and saturated.size and search == saturated.size:
        floor = result.mu_min  # the solver's bound on mu, 1/(eta T)
        if float(_last_run(est)["mu"][-1]) <= floor * (1 + 1e-9):
            advice = (
                f"although mu='auto' lowered mu to its floor 1/(eta T) = {floor:.3g}: the {est.bits_}-bit "
                f"grid is too narrow for this model; try {'bits=16, or ' if est.bits_ == 8 else ''}standardize X"
            )
        else:
            advice = (
                f"while mu='auto' was still halving mu from its start ({_mu_range(est)}): the fit ended "
                f"before the {est.bits_}-bit grid was wide enough; increase max_iter, or pass a smaller mu"
            )
        warnings.warn(
            f"every epoch saturated (more than {100 * SATURATION_LIMIT:g}% of the coordinate updates) {advice}",
            SaturationWarning,
            stacklevel=_user_stacklevel(),
        )
    elif est.bits_ != 32 and saturated.size and np.mean(saturated[search:]) >= 0.5:
        wider = "bits=16, " if est.bits_ == 8 else ""
        if adaptive:
            advice = (
                f"the {est.bits_}-bit grid stayed too narrow although mu='auto' halves mu after every "
                f"such epoch ({_mu_range(est)}); where mu also rose, the gradient grew at the coarser "
                f"grid, a sign of a step size too large for this data: try {wider}a smaller eta than "
                f"{est.eta_:.3g}, or standardize X"
            )
        else:
            hint = (
                "a smaller mu (HALP's grid spans ||g~||/mu)"
                if halp
                else f"a larger delta (the grid spans {GRID_MAX[est.bits_]}*delta at {est.bits_} bits)"
            )
            advice = f"the {est.bits_}-bit grid is too narrow for this model; try {wider}{hint}"
        sat = _last_run(est)["saturated"][search:]
        warnings.warn(
            f"{100 * float(np.median(sat)):.1f}% of the coordinate updates saturated in a typical "
            f"epoch (more than {100 * SATURATION_LIMIT:g}% in at least half of the epochs"
            f"{' after the first ' + str(search) if search else ''}): {advice}",
            SaturationWarning,
            stacklevel=_user_stacklevel(),
        )
    grad, start = _last_run(est)["grad_norm"], solution.initial_grad_norm
    if halp and grad.size and start > 0 and float(grad[-1]) > DIVERGENCE_GROWTH * start:
        if adaptive:
            advice = (
                f"mu='auto' quadruples mu (a finer grid, less rounding noise) after every unsaturated "
                f"epoch in which the gradient norm and the objective grew, and halves it after a "
                f"saturated one ({_mu_range(est)}); as no grid helped, the step size is likely too "
                f"large for this data: pass a smaller eta than {est.eta_:.3g}, or standardize X"
            )
        else:
            advice = (
                f"the grid was too coarse for this data (it spans ||g~||/mu, and its rounding noise grows "
                f"with it): pass a larger mu than {est.mu:g} or mu='auto', or standardize X"
            )
        warnings.warn(
            f"HALP diverged: the full-gradient norm grew from {start:.3g} to {float(grad[-1]):.3g}; {advice}",
            ConvergenceWarning,
            stacklevel=_user_stacklevel(),
        )
        return
    if est.tol > 0 and not result.converged:
        warnings.warn(
            f"{est.solver} at {est.bits_} bits did not reach tol={est.tol:g} (relative gradient "
            f"norm) in max_iter={est.max_iter} epochs: {_progress_advice(est, solution)}",
            ConvergenceWarning,
            stacklevel=_user_stacklevel(),
        )


def _stuck_advice(est) -> str:
    """Why a fit's model never left its start: its steps were too small to
    register at the model's resolution, or were rounded away."""
    lead = "the coefficients never left their start"
    low_precision = est.bits_ != 32
    if low_precision and est.solver == "halp" and not isinstance(est.mu, str):
        return (
            f"{lead}: with mu={est.mu:g}, HALP's grid step (scale_={est.scale_:.3g}) is too coarse for any "
            f"step to register; pass a larger mu, or mu='auto' (which adapts it)"
        )
    if low_precision and est.solver != "halp" and not isinstance(est.delta, str):
        return (
            f"{lead}: the grid step delta={est.delta:g} is too coarse for any step to register; pass a "
            f"smaller delta, or delta='auto'"
        )
    flushed = float(np.mean(est.shrinkage_["zero_fraction"])) if est.grad_format and est.shrinkage_ else 0.0
    if flushed >= 0.5:  # most gradient entries rounded to zero: the format, not the step, stopped the model
        scaling = (
            f"scaled by grad_scaling={est.grad_scaling:g}" if not isinstance(est.grad_scaling, str) else "unscaled"
        )
        return (
            f"{lead}: {scaling}, the gradients fell below {est.grad_format}'s range and were flushed to zero "
            f"({100 * flushed:.0f}% of their entries); pass grad_scaling='dynamic', or a larger grad_scaling"
        )
    options = ["a larger eta"] if isinstance(est.eta, str) else ["a larger eta", "eta='auto'"]
    if est.alpha * est.eta_ > 0.25:  # alpha set the step ("auto": eta = 1 / (2 (L + alpha)))
        options.append("a smaller alpha")
    where = f"on the {est.bits_}-bit grid" if low_precision else "in float32 arithmetic"
    return f"{lead}: the step eta={est.eta_:.3g} is too small to change them {where}; pass {', or '.join(options)}"


def _progress_advice(est, solution) -> str:
    """How far a fit that ran out of epochs got, and what to change."""
    start = solution.initial_grad_norm
    if np.array_equal(solution.last.coef, solution.start_coef):
        return _stuck_advice(est)
    grad = _last_run(est)["grad_norm"][-est.n_iter_:]
    reached = float(grad[-1]) / start if start > 0 else float("nan")
    if est.bits_ == 32 and grad.size >= FROZEN_EPOCHS and np.all(grad[-FROZEN_EPOCHS:] == grad[-1]):
        # The same gradient norm, bit for bit, epoch after epoch: no step moved a float32 coefficient.
        return (
            f"it reached {reached:.2g} and then stopped moving: at this gradient the steps are below half a "
            f"float32 unit of the coefficients, so more epochs cannot help; accept a tol above {reached:.1g}, "
            f"or train at 8 or 16 bits with solver='halp', whose model is finer than float32 near the optimum"
        )
    rate = reached ** (1.0 / len(grad)) if 0 < reached < 1 else float("nan")
    if math.isfinite(rate) and rate < 1:
        more = math.ceil(math.log(est.tol / reached) / math.log(rate))
        return (
            f"it reached {reached:.2g} and fell by a factor of {rate:.3g} per epoch on average, so about "
            f"{more} more epochs would get there: increase max_iter (to about {est.max_iter + more}), or "
            f"accept a larger tol"
        )
    return (
        f"the gradient norm ended at {reached:.2g} of its start and was not falling; standardize X, or pass "
        f"a smaller eta than {est.eta_:.3g}"
    )

