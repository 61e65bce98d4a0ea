"""Time to a target objective, lpcore against scikit-learn's solvers.

Two problems, each with one data set and one penalty for every solver:

    least squares   (1/2n) ||X w + b - y||^2 + alpha/2 ||w||^2
    logistic        (1/n) sum log(1 + exp(-y_i (x_i . w + b))) + alpha/2 ||w||^2

(the intercept b unpenalized), on synthetic data (make_regression,
make_classification), standardized and rounded once to lpcore's 8-bit
per-row grid (_common.eight_bit_data). The rounding makes the data the same
for everyone: lpcore's 8-bit solvers store them without loss, so all solvers
minimize exactly the same function. The penalty maps to each peer as

    SGDRegressor(alpha=alpha), SGDClassifier(loss="log_loss", alpha=alpha)
        (1/n) sum loss + alpha/2 ||w||^2, squared_error being (1/2)(p - y)^2
    Ridge(alpha=alpha * n)         ||y - X w - b||^2 + alpha n ||w||^2 = 2n x the above
    LogisticRegression(C=1 / (alpha * n))   C sum loss + 1/2 ||w||^2 = n C x the above

The target is (f - f*) / f* <= 1e-4, with f* the exact optimum: float64
normal equations for least squares, LogisticRegression(lbfgs, tol=1e-12) for
logistic (or any lower objective a solver reaches, recorded). f is evaluated
here, in float64, from each fitted coef_ and intercept_ on the data.

Method. Every solver has an iteration budget (max_iter: epochs for lpcore,
SGD, SAG and SAGA; iterations for lbfgs) and runs with its own stopping test
off (tol=0, or None for SGD), so a budget is a fixed amount of work. The
smallest budget that reaches the target is found by doubling, then bisection
(SGD's suboptimality is not monotone in the budget, so for SGD it is the
smallest budget the search met). lpcore records the objective after every
epoch on the same data, so its smallest budget is read from the history of
fits of doubling length and then confirmed by a fit at that budget,
evaluated here. The time to target is the median wall time of 3 complete
fit() calls at that budget, measured in this run, and each is reported as a
ratio to lpcore HALP 8-bit's. A solver that has not reached the target at its
largest budget, or when its search has used its time budget, is reported as
not reached, with the best suboptimality it got.

Settings. Every scikit-learn solver runs with its defaults (SGD: its default
learning-rate schedule), lpcore with eta="auto". HALP's grid radius
||g~|| / mu needs a mu that suits the problem (too small: rounding noise
grows with the grid and the run stalls or diverges; too large: the grid
saturates), so HALP runs with each mu in HALP_MUS and the fastest to the
target (in epochs) is the reference; all of them are reported, and the
search time is not counted. scikit-learn's Ridge has no unconstrained lbfgs solver (lbfgs
requires positive=True), so its direct solve (cholesky) stands in as a
reference.

    python benchmarks/bench_peers.py [--size tiny|default|full] [--out DIR]
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import (eight_bit_data, fmt, logistic_objective, median_seconds, pick, pyplot, report,
                     ridge_optimum, save, script_main, squared_objective, table, timed)
from lpcore import DivergenceError, LowPrecisionClassifier, LowPrecisionRegressor
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier, SGDRegressor
from sklearn.preprocessing import StandardScaler

TARGET = 1e-4
ALPHA = 1e-4
HALP_MUS = (0.1, 0.3, 1.0, 3.0)
REFERENCE = "lpcore HALP 8-bit"


def n_jobs() -> int | None:
    """The runner's --threads (it sets OMP_NUM_THREADS), for solvers that take n_jobs.

    For a binary problem neither SGDClassifier nor LogisticRegression uses
    more than one job; it is passed so that the setting is the same for all.
    """
    value = os.environ.get("OMP_NUM_THREADS")
    return int(value) if value and value.isdigit() else None


# ---- problems -------------------------------------------------------------------------


def least_squares(n: int, d: int, seed: int) -> dict:
    X, y = make_regression(n_samples=n, n_features=d, n_informative=d, random_state=seed)
    # Noise at half the signal's spread (R^2 about 0.8), so f* is not ~0 and
    # "relative to f*" means what it says.
    y = y + np.random.default_rng(seed).normal(scale=0.5 * y.std(), size=n)
    X = eight_bit_data(StandardScaler().fit_transform(X))
    y = (y - y.mean()) / y.std()
    w, b = ridge_optimum(X, y, ALPHA)
    return {"X": X, "y": y, "f_exact": squared_objective(X, y, w, b, ALPHA),
            "objective": lambda m: squared_objective(X, y, m.coef_, m.intercept_, ALPHA)}


def logistic(n: int, d: int, seed: int) -> dict:
    X, y = make_classification(n_samples=n, n_features=d, n_informative=d // 2, n_redundant=0, flip_y=0.05,
                               random_state=seed)
    X = eight_bit_data(StandardScaler().fit_transform(X))
    y_pm = np.where(y == 1, 1.0, -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = LogisticRegression(C=1 / (ALPHA * n), tol=1e-12, max_iter=100_000).fit(X, y)
    return {"X": X, "y": y, "f_exact": logistic_objective(X, y_pm, exact.coef_, exact.intercept_, ALPHA),
            "objective": lambda m: logistic_objective(X, y_pm, m.coef_, m.intercept_, ALPHA)}


def lpcore_solvers(problem: str, seed: int) -> dict[str, Callable[[int], object]]:
    """name -> make(budget): an unfitted estimator running exactly `budget` epochs."""
    lp = LowPrecisionRegressor if problem == "least_squares" else LowPrecisionClassifier
    common = dict(alpha=ALPHA, tol=0.0, random_state=seed)
    out = {f"{REFERENCE}, mu={mu:g}": (lambda k, mu=mu: lp(solver="halp", bits=8, mu=mu, max_iter=k, **common))
           for mu in HALP_MUS}
    out["lpcore SVRG fp32"] = lambda k: lp(solver="svrg", bits=32, max_iter=k, **common)
    return out


def sklearn_solvers(problem: str, n: int, seed: int) -> dict[str, Callable[[int], object] | None]:
    """name -> make(budget): an unfitted estimator running exactly `budget` iterations."""
    jobs = n_jobs()
    out = {}
    if problem == "least_squares":
        out["SGDRegressor"] = lambda k: SGDRegressor(alpha=ALPHA, max_iter=k, tol=None, random_state=seed)
        for s in ("sag", "saga"):
            out[f"Ridge {s}"] = lambda k, s=s: Ridge(alpha=ALPHA * n, solver=s, max_iter=k, tol=0.0,
                                                     random_state=seed)
        out["Ridge lbfgs"] = None  # lbfgs in Ridge requires positive=True: a different problem
    else:
        out["SGDClassifier"] = lambda k: SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=k, tol=None,
                                                       random_state=seed, n_jobs=jobs)
        for s in ("sag", "saga", "lbfgs"):
            out[f"LogisticRegression {s}"] = lambda k, s=s: LogisticRegression(
                C=1 / (ALPHA * n), solver=s, max_iter=k, tol=0.0, random_state=seed, n_jobs=jobs)
    return out


# ---- the search ---------------------------------------------------------------------


class Search:
    """Fits at given budgets, each timed and evaluated; the total time spent."""

    def __init__(self, make, data: dict, f_ref: float):
        self.make, self.data, self.f_ref = make, data, f_ref
        self.tried: dict[int, float] = {}  # budget -> objective
        self.spent = self.last = 0.0

    def fit(self, k: int):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: the budget is the point
            model, secs = timed(lambda: self.make(k).fit(self.data["X"], self.data["y"]))
        self.spent += secs
        self.last = secs
        return model

    def out_of_time(self, time_budget: float) -> bool:
        """Would the next (doubled) fit take the search past its time budget?"""
        return self.spent + 2 * self.last > time_budget

    def relative(self, f: float) -> float:
        return (f - self.f_ref) / abs(self.f_ref)

    def reaches(self, k: int) -> bool:
        self.tried[k] = self.data["objective"](self.fit(k))
        return self.relative(self.tried[k]) <= TARGET

    def reached(self, k: int) -> dict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds = median_seconds(lambda: self.make(k).fit(self.data["X"], self.data["y"]), 3)
        return {"reached": True, "budget": k, "seconds": seconds, "budgets_tried": self.tried,
                "search_seconds": self.spent}

    def not_reached(self, k: int, why: str) -> dict:
        return {"reached": False, "largest_budget": k, "why": why, "budgets_tried": self.tried,
                "largest_fit_seconds": self.last, "search_seconds": self.spent}


def time_to_target(make, data: dict, f_ref: float, max_budget: int, time_budget: float) -> dict:
    """Smallest budget reaching the target (doubling, then bisection) and its time."""
    search = Search(make, data, f_ref)
    k, lo = 1, 0
    while not search.reaches(k):
        lo = k
        if k >= max_budget or search.out_of_time(time_budget):
            return search.not_reached(k, "budget" if k >= max_budget else "time")
        k = min(2 * k, max_budget)
    hi = k
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if search.reaches(mid):
            hi = mid
        else:
            lo = mid
    return search.reached(hi)


def lpcore_time_to_target(make, data: dict, f_ref: float, max_budget: int, time_budget: float) -> dict:
    """As time_to_target, with the budget read from lpcore's per-epoch objective.

    That objective is computed in the fit on the data as lpcore stores them,
    which (8-bit grid data) are these data up to float32 rounding; the budget
    it gives is confirmed by evaluating a fit at that budget here.
    """
    search = Search(make, data, f_ref)
    K = 8
    while True:
        try:
            model = search.fit(K)
        except DivergenceError:
            return search.not_reached(K, "diverged")
        rel = search.relative(model.history_["objective"])
        search.tried[K] = data["objective"](model)
        hits = np.flatnonzero(rel <= TARGET)
        if hits.size:
            break
        if K >= max_budget or search.out_of_time(time_budget):
            return search.not_reached(K, "budget" if K >= max_budget else "time")
        K = min(2 * K, max_budget)
    k = int(hits[0]) + 1  # history entry i is the model after epoch i + 1
    while not search.reaches(k) and k < K:
        k += 1
    return search.reached(k) if search.relative(search.tried[k]) <= TARGET else search.not_reached(k, "confirm")


def direct_solve(data: dict, n: int) -> dict:
    """Ridge's direct solve (cholesky): exact in one call, timed the same way."""
    search = Search(lambda k: Ridge(alpha=ALPHA * n, solver="cholesky"), data, data["f_exact"])
    search.reaches(0)
    out = search.reached(0)
    out["budget"] = None
    return out


# ---- one problem --------------------------------------------------------------------


def run_problem(problem: str, size: str, seed: int, progress, step: int, total: int) -> tuple[dict, int]:
    n, d = pick(size, (500, 20), (10000, 100), (100000, 200))
    max_budget = pick(size, 64, 1024, 4096)
    time_budget = pick(size, 1.0, 4.0, 60.0)
    data = (least_squares if problem == "least_squares" else logistic)(n, d, seed)
    f_exact = data["f_exact"]
    results = {}
    for name, make in lpcore_solvers(problem, seed).items():
        results[name] = lpcore_time_to_target(make, data, f_exact, max_budget, time_budget)
        step += 1
        report(progress, step, total, f"{problem}: {name}")
    for name, make in sklearn_solvers(problem, n, seed).items():
        if make is None:
            results[name] = {"reached": None, "note": "not available: scikit-learn's Ridge runs lbfgs only "
                                                      "with positive=True (a different problem)"}
        else:
            results[name] = time_to_target(make, data, f_exact, max_budget, time_budget)
        step += 1
        report(progress, step, total, f"{problem}: {name}")
    if problem == "least_squares":
        results["Ridge cholesky (direct)"] = direct_solve(data, n)
    # f*: the exact solve, or any lower objective a solver reached.
    seen = [f for r in results.values() for f in r.get("budgets_tried", {}).values()]
    f_star = min([f_exact] + seen)
    for r in results.values():
        if "budgets_tried" in r:
            r["budgets_tried"] = {str(k): (f - f_star) / abs(f_star) for k, f in sorted(r["budgets_tried"].items())}
            r["best_relative_suboptimality"] = min(r["budgets_tried"].values())
    halp = {k: r for k, r in results.items() if k.startswith(REFERENCE) and r["reached"]}
    # By epochs, not seconds: every mu costs the same per epoch, and picking the
    # least of four noisy times would flatter HALP.
    reference = min(halp, key=lambda k: (halp[k]["budget"], halp[k]["seconds"])) if halp else None
    for r in results.values():
        if reference is None or r["reached"] is None:
            continue
        if r["reached"]:
            r["ratio_to_reference"] = r["seconds"] / results[reference]["seconds"]
        elif r["why"] != "diverged":
            # It needs more than its largest budget, so more than that fit's time.
            r["ratio_lower_bound"] = r["largest_fit_seconds"] / results[reference]["seconds"]
    return {"n": n, "d": d, "alpha": ALPHA, "target": TARGET, "f_star": f_star, "f_exact": f_exact,
            "max_budget": max_budget, "time_budget_seconds": time_budget, "reference": reference,
            "solvers": results}, step


WHY = {"budget": "largest budget", "time": "search time budget", "diverged": "diverged",
       "confirm": "not confirmed"}


def format_problem(name: str, res: dict) -> str:
    rows = []
    ref = res["reference"]
    for solver, r in res["solvers"].items():
        if solver.startswith(REFERENCE) and solver != ref:
            continue  # the other mu values follow the table
        label = f"**{solver}**" if solver == ref else solver
        if r["reached"] is None:
            rows.append([label, None, None, None, None, r["note"]])
        elif r["reached"]:
            key = str(r["budget"]) if r["budget"] is not None else "0"
            rows.append([label, r["budget"], r["seconds"], r.get("ratio_to_reference"), r["budgets_tried"][key], ""])
        else:
            bound = r.get("ratio_lower_bound")
            rows.append([label, None, None, f"> {fmt(bound)}" if bound is not None else None,
                         r["best_relative_suboptimality"],
                         f"not reached ({WHY[r['why']]}: budget {r['largest_budget']}, "
                         f"{fmt(r['search_seconds'])} s of search)"])
    mus = []
    for solver, r in res["solvers"].items():
        if solver.startswith(REFERENCE):
            mu = solver.split("mu=")[1]
            mus.append(f"mu={mu}: " + (f"{fmt(r['seconds'])} s (budget {r['budget']})" if r["reached"]
                                       else f"not reached ({WHY[r['why']]}, best {fmt(r['best_relative_suboptimality'])})"))
    head = f"### {name}: n = {res['n']}, d = {res['d']}, alpha = {res['alpha']:g}, f* = {res['f_star']:.6g}"
    reference_note = ("HALP 8-bit did not reach the target with any mu, so there are no ratios."
                      if ref is None else f"The reference is the HALP 8-bit run with the fewest epochs to the target ({ref}).")
    return "\n\n".join([head, table(["solver", "budget to target", "time to target (s)", "time / reference",
                                     "(f - f*)/f*", "note"], rows, "lrrrrl"),
                        f"{reference_note} HALP 8-bit by mu: " + "; ".join(mus) + "."])


def plot(results: dict, out_dir: Path) -> str:
    """Time to target per solver, one panel per problem; runs that never got there
    show the time of their largest fit (a lower bound), marked."""
    plt = pyplot()
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 4.6))
    for ax, (problem, res) in zip(np.atleast_1d(axes), results.items()):
        names = [k for k, r in res["solvers"].items() if r["reached"] is not None]
        runs = [res["solvers"][k] for k in names]
        bars = [r["seconds"] if r["reached"] else r["largest_fit_seconds"] for r in runs]
        colors = ["tab:purple" if k.startswith("lpcore") else "tab:gray" for k in names]
        ax.barh(range(len(names)), bars, color=colors)
        for i, r in enumerate(runs):
            if not r["reached"]:
                ax.text(bars[i], i, f"  not reached ({WHY[r['why']]})", va="center", fontsize="small")
        ax.set_yticks(range(len(names)), names, fontsize="small")
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap on short ranges
        ax.set_xlabel(f"wall time to (f - f*)/f* <= {TARGET:g} (s, log scale)")
        ax.set_title(f"{problem.replace('_', ' ')} (n={res['n']}, d={res['d']})")
    return save(fig, out_dir, "peers_time_to_target.png")


def run(size: str = "default", seed: int = 0, out_dir: Path | str = ".", progress=None) -> dict:
    t0 = time.perf_counter()
    problems = {}
    total = sum(len(lpcore_solvers(p, seed)) + len(sklearn_solvers(p, 1, seed)) for p in ("least_squares", "logistic"))
    step = 0
    for problem in ("least_squares", "logistic"):
        problems[problem], step = run_problem(problem, size, seed, progress, step, total)
    figures = [plot(problems, Path(out_dir))]
    summary = "\n\n".join(
        ["## Peers: time to within 1e-4 of the optimum against scikit-learn",
         f"Wall time of a complete fit() at the smallest iteration budget that reaches (f - f*)/f* <= {TARGET:g}, "
         "median of 3, as a ratio to the lpcore HALP 8-bit run that needs the fewest epochs (mu from "
         f"{', '.join(f'{m:g}' for m in HALP_MUS)}) in this run; the same data (8-bit grid) and penalty for all. "
         "Not reached: the search stopped at its largest budget or time budget, or the run diverged; the ratio "
         "is then a lower bound (the time of its largest fit / the reference's time)."]
        + [format_problem(p.replace("_", " "), r) for p, r in problems.items()])

    def outcome(problem):
        res = problems[problem]
        if res["reference"] is None:
            return f"{problem.replace('_', ' ')}: HALP-8 did not reach the target"
        ref = res["solvers"][res["reference"]]
        parts = [f"{name} {fmt(r['ratio_to_reference'])}x" if r["reached"] else f"{name} not reached"
                 for name, r in res["solvers"].items()
                 if not name.startswith(REFERENCE) and r["reached"] is not None]
        return (f"{problem.replace('_', ' ')}: HALP-8 ({res['reference'].split(', ')[-1]}) {fmt(ref['seconds'])} s; "
                + ", ".join(parts))

    line = "; ".join(outcome(p) for p in problems)
    return {"size": size, "seed": seed, "target": TARGET, "halp_mus": list(HALP_MUS), "n_jobs": n_jobs(),
            "problems": problems, "summary": summary, "figures": figures, "line": line,
            "seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    return script_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
