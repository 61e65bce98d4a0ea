"""HALP paper (De Sa et al. 2018) Figure 1, and a condition-number sweep in the
spirit of its Figure 5.

Figure 1: least squares on make_regression(n=1000, d=100), no intercept and
no penalty, T = 2n inner steps per epoch, eta = 5e-3 for every solver, HALP's
mu = 3; LP-SGD and LP-SVRG use lpcore's automatic grid step (delta="auto").
Every solver trains on the same data, rounded once to the 8-bit per-row grid
(_common.eight_bit_data), so at 8 bits the stored data lose nothing and all
curves describe one problem. The curves are the full-gradient norm after each
epoch, against epochs and against cumulative solver seconds (SVRG / HALP: the
full-gradient pass and the inner loop; SGD: its inner loop only, since SGD
needs no full gradient).

Condition-number sweep: X = U diag(s) V^T with random orthonormal U, V and
singular values chosen so that the Hessian X^T X / n has eigenvalues spread
geometrically over [1/kappa, 1]; the same 8-bit rounding; y = X w + noise.
Every solver takes the step lpcore derives from the smoothness constant
(eta="auto", 1 / (2 L)). HALP runs with the mu its analysis assumes, the
smallest Hessian eigenvalue (its grid then spans ||g~|| / mu, the radius in
which the optimum must lie), at 8 and 16 bits, and at 8 bits also with
lpcore's default mu="auto" (adapted every epoch); LP-SVRG-8 and
fp32 SVRG are the baselines. Reported: the final gradient norm and the relative
suboptimality (f - f*) / f* on the training data, with f* from the exact
float64 least-squares solution; a run whose objective overflows is reported as
diverged.

    python benchmarks/bench_halp.py [--size tiny|default|full] [--out DIR]
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (curves_axis, eight_bit_data, fmt, pick, plot_curves, pyplot, report, save, script_main,
                     solver_style, squared_objective, table)
from lpcore import DivergenceError, LowPrecisionRegressor
from sklearn.datasets import make_regression

# Figure 1's solvers: (name, label, solver, bits).
FIGURE1 = [
    ("sgd32", "SGD fp32", "sgd", 32),
    ("svrg32", "SVRG fp32", "svrg", 32),
    ("lpsgd8", "LP-SGD 8-bit", "sgd", 8),
    ("lpsvrg8", "LP-SVRG 8-bit", "svrg", 8),
    ("halp8", "HALP 8-bit", "halp", 8),
    ("lpsgd16", "LP-SGD 16-bit", "sgd", 16),
    ("lpsvrg16", "LP-SVRG 16-bit", "svrg", 16),
    ("halp16", "HALP 16-bit", "halp", 16),
]
# The sweep's solvers: (name, label, solver, bits, mu); mu None is the smallest Hessian eigenvalue.
SWEEP = [
    ("svrg32", "SVRG fp32", "svrg", 32, None),
    ("lpsvrg8", "LP-SVRG 8-bit", "svrg", 8, None),
    ("halp8", "HALP 8-bit, mu=lambda_min", "halp", 8, None),
    ("halp16", "HALP 16-bit, mu=lambda_min", "halp", 16, None),
    ("halp8_auto", "HALP 8-bit, mu=auto", "halp", 8, "auto"),
]
ETA, MU = 5e-3, 3.0


def sweep_kappas(size: str) -> list[int]:
    return pick(size, [10, 1000], [10, 100, 1000, 10000], [10, 100, 1000, 10000])


def fit(X, y, solver, bits, epochs, seed, **params) -> LowPrecisionRegressor:
    model = LowPrecisionRegressor(solver=solver, bits=bits, max_iter=epochs, tol=0.0, alpha=0.0,
                                  fit_intercept=False, random_state=seed, **params)
    with warnings.catch_warnings():
        # Saturation and "did not converge" are part of what the curves show.
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def solver_seconds(model) -> np.ndarray:
    """Cumulative seconds of solver work after each epoch (SGD: inner loop only)."""
    key = "inner_seconds" if model.solver == "sgd" else "seconds"
    return np.cumsum(model.history_[key])


def figure1(size: str, seed: int, out_dir: Path, progress, step: int, total: int) -> tuple[dict, list[str], int]:
    n, d, epochs = pick(size, (200, 20, 8), (1000, 100, 50), (1000, 100, 100))
    X, y = make_regression(n_samples=n, n_features=d, random_state=seed)
    X8 = eight_bit_data(X)
    runs = {}
    for name, label, solver, bits in FIGURE1:
        model = fit(X8, y, solver, bits, epochs, seed, eta=ETA, mu=MU, epoch_length=2 * n)
        runs[name] = {
            "label": label,
            "solver": solver,
            "bits": bits,
            "grad_norm": model.history_["grad_norm"].tolist(),
            "objective": model.history_["objective"].tolist(),
            "seconds": solver_seconds(model).tolist(),
            "median_saturated": float(np.median(model.history_["saturated"])),
        }
        step += 1
        report(progress, step, total, f"figure 1: {label}")
    epochs_axis = np.arange(1, epochs + 1)
    figures = [
        plot_curves(out_dir, "halp_figure1_epochs.png",
                    {r["label"]: (epochs_axis, r["grad_norm"], solver_style(r["solver"], r["bits"])) for r in runs.values()},
                    "epoch", "full-gradient norm ||grad f(w)|| (log scale)",
                    f"HALP Figure 1: least squares, n={n}, d={d}, 8-bit data"),
        plot_curves(out_dir, "halp_figure1_seconds.png",
                    {r["label"]: (r["seconds"], r["grad_norm"], solver_style(r["solver"], r["bits"]))
                     for r in runs.values()},
                    "solver time (s)", "full-gradient norm ||grad f(w)|| (log scale)",
                    f"HALP Figure 1 against time: n={n}, d={d}"),
    ]
    result = {"n": n, "d": d, "epochs": epochs, "epoch_length": 2 * n, "eta": ETA, "mu": MU, "runs": runs}
    return result, figures, step


def conditioned_data(n: int, d: int, kappa: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Least squares whose Hessian X^T X / n has eigenvalues geomspace(1, 1/kappa)."""
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.sqrt(n * np.geomspace(1.0, 1.0 / kappa, d))
    X = (U * s) @ V.T
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    return X, y


def kappa_sweep(size: str, seed: int, out_dir: Path, progress, step: int, total: int) -> tuple[dict, list[str], int]:
    kappas = sweep_kappas(size)
    n, d, epochs = pick(size, (200, 10, 8), (1000, 50, 50), (5000, 100, 100))
    rng = np.random.default_rng(seed)
    rows = []
    plt = pyplot()
    fig, axes = plt.subplots(1, len(kappas), figsize=(3.6 * len(kappas), 3.8), sharey=True)
    for ax, kappa in zip(np.atleast_1d(axes), kappas):
        X8, y = conditioned_data(n, d, kappa, rng)
        X8 = eight_bit_data(X8)
        eig = np.linalg.eigvalsh(X8.T @ X8 / n)
        w_star = np.linalg.lstsq(X8, y, rcond=None)[0]
        f_star = squared_objective(X8, y, w_star, 0.0, 0.0)
        row = {"kappa": kappa, "kappa_measured": float(eig[-1] / eig[0]), "f_star": f_star, "solvers": {}}
        curves = {}
        for name, label, solver, bits, mu in SWEEP:
            entry = row["solvers"][name] = {"mu": float(eig[0]) if mu is None else mu}
            try:
                model = fit(X8, y, solver, bits, epochs, seed, mu=entry["mu"], epoch_length=2 * n)
            except DivergenceError as e:
                entry.update(diverged=True, message=str(e), grad_norm=None, relative_suboptimality=None)
            else:
                f = squared_objective(X8, y, model.coef_, 0.0, 0.0)
                # The epochs of the model: eta="auto" may have restarted the fit, and an 8-bit
                # HALP fit with mu="auto" that stalls goes on at 16 bits (final_bits).
                grad = model.history_["grad_norm"][-model.n_iter_:]
                entry.update(diverged=False, grad_norm=float(grad[-1]),
                             relative_suboptimality=(f - f_star) / f_star, eta=model.eta_, final_bits=model.bits_,
                             median_saturated=float(np.median(model.history_["saturated"][-model.n_iter_:])))
                style = solver_style(solver, bits)
                if mu == "auto":
                    entry["final_mu"] = float(model.mu_)
                if name == "halp8_auto":
                    style = {"color": "tab:brown", "linestyle": ":"}
                curves[label] = (np.arange(1, len(grad) + 1), grad, style)
            step += 1
            report(progress, step, total, f"kappa {kappa}: {label}")
        curves_axis(ax, curves, "epoch", "full-gradient norm (log scale)" if kappa == kappas[0] else "",
                    f"kappa = {kappa:g} (measured {row['kappa_measured']:.3g})")
        # A run that blows up would squash every other curve: clip the axis
        # 10^4 above the largest starting norm (the tables hold its values).
        ax.set_ylim(top=1e4 * max(float(c[1][0]) for c in curves.values() if np.isfinite(c[1][0])))
        rows.append(row)
    figure = save(fig, out_dir, "halp_kappa_sweep.png")
    return {"n": n, "d": d, "epochs": epochs, "epoch_length": 2 * n, "rows": rows}, [figure], step


def summarize(fig1: dict, sweep: dict) -> tuple[str, str]:
    runs, E = fig1["runs"], fig1["epochs"]
    marks = sorted({min(10, E), min(20, E), E})
    fig1_table = table(["epoch"] + [r["label"] for r in runs.values()],
                       [[e] + [r["grad_norm"][e - 1] for r in runs.values()] for e in marks]
                       + [["solver seconds, all epochs"] + [r["seconds"][-1] for r in runs.values()]])
    names = [(name, label) for name, label, _, _, _ in SWEEP]

    def value(entry, key):
        return "diverged" if entry["diverged"] else entry[key]

    sweep_tables = [table(
        ["kappa", "measured kappa", "lambda_min"] + [label for _, label in names],
        [[r["kappa"], r["kappa_measured"], r["solvers"]["halp8"]["mu"]]
         + [value(r["solvers"][k], key) for k, _ in names] for r in sweep["rows"]])
        for key in ("grad_norm", "relative_suboptimality")]
    text = "\n\n".join([
        "## HALP: paper Figure 1 and a condition-number sweep",
        f"Figure 1 setup: make_regression(n={fig1['n']}, d={fig1['d']}), every solver on the same 8-bit data, "
        f"T = {fig1['epoch_length']}, eta = {fig1['eta']:g}, mu = {fig1['mu']:g}, no intercept or penalty. "
        f"Full-gradient norm after the epoch:",
        fig1_table,
        f"Condition-number sweep: n = {sweep['n']}, d = {sweep['d']}, {sweep['epochs']} epochs of T = "
        f"{sweep['epoch_length']}, eta = 1/(2L) from the smoothness constant, HALP's mu = lambda_min (the "
        "smallest Hessian eigenvalue) unless stated; 8-bit data (the measured kappa is that of the rounded "
        "data). After the last epoch, the "
        "full-gradient norm:",
        sweep_tables[0],
        "and the relative suboptimality (f - f*) / f*:",
        sweep_tables[1],
    ])
    halp, svrg = runs["halp8"]["grad_norm"][-1], runs["svrg32"]["grad_norm"][-1]
    kappas = "/".join(fmt(r["kappa"]) for r in sweep["rows"])

    def subopt(name):
        return "/".join(fmt(value(r["solvers"][name], "relative_suboptimality")) for r in sweep["rows"])

    line = (f"Figure 1 after {E} epochs, gradient norm: HALP-8 {fmt(halp)}, fp32 SVRG {fmt(svrg)}, "
            f"LP-SVRG-8 {fmt(runs['lpsvrg8']['grad_norm'][-1])}, LP-SGD-8 {fmt(runs['lpsgd8']['grad_norm'][-1])}; "
            f"kappa {kappas}, (f - f*)/f*: SVRG {subopt('svrg32')}, HALP-8 {subopt('halp8')}, "
            f"HALP-16 {subopt('halp16')}, HALP-8 mu=auto {subopt('halp8_auto')}")
    return text, line


def run(size: str = "default", seed: int = 0, out_dir: Path | str = ".", progress=None) -> dict:
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    total = len(FIGURE1) + len(SWEEP) * len(sweep_kappas(size))
    fig1, figs1, step = figure1(size, seed, out_dir, progress, 0, total)
    sweep, figs2, _ = kappa_sweep(size, seed, out_dir, progress, step, total)
    summary, line = summarize(fig1, sweep)
    return {"size": size, "seed": seed, "figure1": fig1, "kappa_sweep": sweep, "summary": summary,
            "figures": figs1 + figs2, "line": line, "seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    return script_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
