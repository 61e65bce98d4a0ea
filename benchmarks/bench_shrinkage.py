"""Gradient shrinkage in low-precision float formats: Yun (2025), reproduced.

Figure 1: the paper's test vector g = exp(-0.2 x), x = 0..99, quantized to
FP16, BF16, FP8 (E4M3, E5M2) and FP4 (E2M1) with each rounding mode and no
loss scaling; both measures of q (the norm ratio ||Q g|| / ||g|| and the
projection <Q g, g> / ||g||^2), the flushed fraction and the error. A second
figure sweeps the magnitude of g to show where the two measures disagree.

Figure 2, CPU analogue: multinomial logistic regression on scikit-learn's
bundled digits (standardized, a stratified 70/30 split), fp32 per-sample SGD
with every gradient rounded to FP32 (none), FP16, FP8 and FP4 at one base
step, then FP4 at 5x that step, FP4 with step_compensation="shrinkage", and
FP4 with a dynamic loss scale. Each run is trained one epoch per fit call
(warm start, a fresh seed per epoch) so that test accuracy can be measured
after every epoch; the running estimate of q behind the compensation restarts
at 1 each epoch (about 64 of the epoch's ~2500 steps are uncompensated).

    python benchmarks/bench_shrinkage.py --out DIR [--size tiny|default|full] [--seed N]

run(size, seed, out_dir) returns the numbers, a markdown summary and the PNG
names; benchmarks/run.py calls it.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import warnings

import numpy as np

SIZES = {
    # Figure 2: epochs, seeds, training rows (None = all)
    "tiny": dict(epochs=2, seeds=1, rows=300, sweep=12),
    "default": dict(epochs=40, seeds=3, rows=None, sweep=60),
    "full": dict(epochs=200, seeds=5, rows=None, sweep=200),
}
FIG1_FORMATS = ["fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp4_e2m1"]
ROUNDINGS = ["nearest", "toward_zero", "stochastic"]
STOCHASTIC_DRAWS = 200
BASE_ETA = 0.002  # one quarter of eta="auto" (1/(2L) ~ 0.0077) on standardized digits
FIG2_RUNS = [
    # label, grad_format, eta multiplier, step_compensation, grad_scaling
    ("FP32", None, 1.0, "none", "none"),
    ("FP16", "fp16", 1.0, "none", "none"),
    ("FP8 E4M3", "fp8_e4m3", 1.0, "none", "none"),
    ("FP8 E5M2", "fp8_e5m2", 1.0, "none", "none"),
    ("FP4", "fp4_e2m1", 1.0, "none", "none"),
    ("FP4, 5x step", "fp4_e2m1", 5.0, "none", "none"),
    ("FP4, compensated", "fp4_e2m1", 1.0, "shrinkage", "none"),
    ("FP4, dynamic scale", "fp4_e2m1", 1.0, "none", "dynamic"),
    # the reference for the two FP4 remedies: what 5x the step does without quantization
    ("FP32, 5x step", None, 5.0, "none", "none"),
]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---- Figure 1 -------------------------------------------------------------------


def figure1(seed: int) -> dict:
    """q measures of g = exp(-0.2 x) for every format and rounding mode."""
    import lpcore

    x = np.arange(100)
    g = np.exp(-0.2 * x)
    rows = []
    curves = {}
    for fmt in FIG1_FORMATS:
        for rounding in ROUNDINGS:
            draws = STOCHASTIC_DRAWS if rounding == "stochastic" else 1
            ms = [lpcore.shrinkage(g, fmt, rounding, random_state=seed + k) for k in range(draws)]
            row = {"format": fmt, "rounding": rounding}
            for key in ("norm_ratio", "projection", "zero_fraction", "relative_error"):
                row[key] = float(np.mean([m[key] for m in ms]))
            rows.append(row)
            curves[(fmt, rounding)] = lpcore.quantize_float(g, fmt, rounding, random_state=seed).astype(float)
    return {"x": x, "g": g, "rows": rows, "curves": curves}


def magnitude_sweep(points: int) -> dict:
    """Both q measures and the flushed fraction of s * exp(-0.2 x) as the magnitude s varies."""
    import lpcore

    g = np.exp(-0.2 * np.arange(100))
    out = {}
    for fmt in ("fp8_e4m3", "fp4_e2m1"):
        lo = np.log10(lpcore.formats()[fmt].smallest_subnormal) - 1
        hi = np.log10(lpcore.formats()[fmt].max) - 0.5
        scales = np.logspace(lo, hi, points)
        ms = [lpcore.shrinkage(s * g, fmt, "nearest") for s in scales]
        out[fmt] = {"scale": scales, **{k: np.array([m[k] for m in ms]) for k in ("norm_ratio", "projection",
                                                                                   "zero_fraction")}}
    return out


def plot_figure1(fig1: dict, sweep: dict, out_dir: pathlib.Path) -> list[str]:
    plt = _plt()
    names = []
    fig, axes = plt.subplots(1, len(FIG1_FORMATS), figsize=(4 * len(FIG1_FORMATS), 3.6), sharey=True)
    for ax, fmt in zip(axes, FIG1_FORMATS):
        ax.semilogy(fig1["x"], fig1["g"], "k-", lw=2, label="fp32")
        for rounding, style in zip(ROUNDINGS, ("o", "v", ".")):
            q = fig1["curves"][(fmt, rounding)]
            keep = q > 0  # flushed entries cannot be drawn on a log axis
            ax.semilogy(fig1["x"][keep], q[keep], style, ms=3, label=f"{rounding} ({np.mean(~keep):.0%} flushed)")
        ax.set_title(fmt)
        ax.set_xlabel("x (entry index)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("g = exp(-0.2 x) (log scale)")
    fig.suptitle("Yun (2025) Figure 1: exp(-0.2 x) in low-precision formats, no loss scaling")
    fig.tight_layout()
    names.append("shrinkage_fig1_curves.png")
    fig.savefig(out_dir / names[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 3.8))
    labels = [f"{r['format']}\n{r['rounding']}" for r in fig1["rows"]]
    pos = np.arange(len(labels))
    ax.bar(pos - 0.2, [r["norm_ratio"] for r in fig1["rows"]], 0.4, label="norm ratio ||Q g|| / ||g||")
    ax.bar(pos + 0.2, [r["projection"] for r in fig1["rows"]], 0.4, label="projection <Q g, g> / ||g||^2")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(pos, labels, fontsize=7)
    ax.set_ylabel("q (dimensionless)")
    ax.set_ylim(0, max(1.1, max(r["norm_ratio"] for r in fig1["rows"]) * 1.05))
    ax.legend(fontsize=8)
    ax.set_title("Both measures of q for exp(-0.2 x), x = 0..99 (stochastic: mean of %d draws)" % STOCHASTIC_DRAWS)
    fig.tight_layout()
    names.append("shrinkage_fig1_q.png")
    fig.savefig(out_dir / names[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(sweep), figsize=(11, 3.8))
    for ax, (fmt, d) in zip(axes, sweep.items()):
        ax.semilogx(d["scale"], d["norm_ratio"], label="norm ratio")
        ax.semilogx(d["scale"], d["projection"], label="projection")
        ax.semilogx(d["scale"], d["zero_fraction"], "--", label="fraction flushed")
        both = (d["norm_ratio"] > 1) & (d["zero_fraction"] > 0.5)
        if both.any():
            ax.fill_between(d["scale"], 0, 1.3, where=both, color="C3", alpha=0.15,
                            label="norm ratio > 1 and > 50% flushed")
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_ylim(0, 1.3)
        ax.set_xlabel("magnitude s of g = s exp(-0.2 x) (log scale)")
        ax.set_ylabel("q, or fraction")
        ax.set_title(f"{fmt}, round to nearest")
        ax.legend(fontsize=7)
    fig.tight_layout()
    names.append("shrinkage_fig1_disagreement.png")
    fig.savefig(out_dir / names[-1], dpi=110)
    plt.close(fig)
    return names


# ---- Figure 2 -------------------------------------------------------------------


def digits_split(seed: int, rows):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    if rows is not None:
        Xtr, ytr = Xtr[:rows], ytr[:rows]
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


def train_run(data, fmt, eta, compensation, scaling, epochs: int, seed: int) -> dict:
    from lpcore import LowPrecisionClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss

    Xtr, Xte, ytr, yte = data
    params = dict(solver="sgd", bits=32, eta=eta, alpha=1e-4, tol=0, max_iter=1, warm_start=True,
                  grad_format=fmt)
    if fmt is not None:
        params.update(step_compensation=compensation, grad_scaling=scaling)
    clf = LowPrecisionClassifier(**params)
    out = {k: [] for k in ("train_objective", "test_loss", "test_accuracy", "q_min", "q_mean", "zero_fraction",
                           "step_multiplier")}
    for epoch in range(epochs):
        clf.set_params(random_state=seed * 100_003 + epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xtr, ytr)
        out["train_objective"].append(float(clf.history_["objective"][-1]))
        out["test_loss"].append(float(log_loss(yte, clf.predict_proba(Xte), labels=clf.classes_)))
        out["test_accuracy"].append(float(clf.score(Xte, yte)))
        s = clf.shrinkage_
        for key in ("q_min", "q_mean", "zero_fraction", "step_multiplier"):
            out[key].append(float(s[key][-1]) if s is not None else 1.0 if key != "zero_fraction" else 0.0)
    return out


def figure2(size: str, seed: int, progress=None) -> dict:
    cfg = SIZES[size]
    results = {}
    for label, fmt, mult, comp, scaling in FIG2_RUNS:
        per_seed = []
        for s in range(cfg["seeds"]):
            data = digits_split(seed + s, cfg["rows"])
            per_seed.append(train_run(data, fmt, BASE_ETA * mult, comp, scaling, cfg["epochs"], seed + s))
        results[label] = {key: np.mean([r[key] for r in per_seed], axis=0).tolist() for key in per_seed[0]}
        results[label]["q_min_over_run"] = float(min(min(r["q_min"]) for r in per_seed))
        if progress:
            progress(label)
    return results


def plot_figure2(fig2: dict, out_dir: pathlib.Path) -> list[str]:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, (label, r) in enumerate(fig2.items()):
        epochs = np.arange(1, len(r["train_objective"]) + 1)
        style = "--" if "," in label else "-"
        axes[0].semilogy(epochs, r["train_objective"], style, color=f"C{i}", label=label)
        axes[1].plot(epochs, 100 * np.array(r["test_accuracy"]), style, color=f"C{i}", label=label)
    axes[0].set_xlabel("epoch (2 n per-sample steps)")
    axes[0].set_ylabel("training objective (mean log loss + L2, log scale)")
    axes[1].set_xlabel("epoch (2 n per-sample steps)")
    axes[1].set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Figure 2, CPU analogue: digits, multinomial logistic regression, fp32 SGD, base step {BASE_ETA:g}")
    fig.tight_layout()
    name = "shrinkage_fig2_training.png"
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    return [name]


# ---- the entry point --------------------------------------------------------------


def tables(fig1: dict, fig2: dict) -> str:
    lines = ["### Figure 1: exp(-0.2 x), x = 0..99, no loss scaling", "",
             "| format | rounding | norm ratio | projection | flushed | rel. error |", "|---|---|---|---|---|---|"]
    for r in fig1["rows"]:
        lines.append(f"| {r['format']} | {r['rounding']} | {r['norm_ratio']:.4f} | {r['projection']:.4f} | "
                     f"{r['zero_fraction']:.0%} | {r['relative_error']:.4f} |")
    lines += ["", "### Figure 2 analogue: digits, fp32 SGD with quantized gradients", "",
              "| run | final train objective | final test loss | test accuracy | q_min (any step) | "
              "q mean (last epoch) | flushed (last epoch) | step multiplier |", "|---|---|---|---|---|---|---|---|"]
    for label, r in fig2.items():
        lines.append(f"| {label} | {r['train_objective'][-1]:.4f} | {r['test_loss'][-1]:.4f} | "
                     f"{100 * r['test_accuracy'][-1]:.1f}% | {r['q_min_over_run']:.3f} | {r['q_mean'][-1]:.3f} | "
                     f"{r['zero_fraction'][-1]:.1%} | {r['step_multiplier'][-1]:.2f} |")
    return "\n".join(lines)


def run(size: str, seed: int, out_dir: pathlib.Path, progress=None) -> dict:
    """Run both reproductions; write the PNGs into out_dir; return the numbers.

    size is "tiny" (a smoke test, seconds), "default" (under a minute) or
    "full" (more epochs and seeds).
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {tuple(SIZES)}, got {size!r}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fig1 = figure1(seed)
    sweep = magnitude_sweep(SIZES[size]["sweep"])
    if progress:
        progress("figure 1")
    fig2 = figure2(size, seed, progress)
    figures = plot_figure1(fig1, sweep, out_dir) + plot_figure2(fig2, out_dir)
    fp32, fp4, comp = fig2["FP32"], fig2["FP4"], fig2["FP4, compensated"]
    line = (f"shrinkage: FP32 objective {fp32['train_objective'][-1]:.4f}, FP4 {fp4['train_objective'][-1]:.4f} "
            f"(q mean {fp4['q_mean'][-1]:.3f}), FP4 compensated {comp['train_objective'][-1]:.4f}; "
            f"test accuracy {100 * fp32['test_accuracy'][-1]:.1f}% / {100 * fp4['test_accuracy'][-1]:.1f}% / "
            f"{100 * comp['test_accuracy'][-1]:.1f}%")
    disagree = {fmt: bool(np.any((d["norm_ratio"] > 1) & (d["zero_fraction"] > 0.5))) for fmt, d in sweep.items()}
    return {
        "size": size,
        "seed": seed,
        "seconds": time.perf_counter() - t0,
        "base_eta": BASE_ETA,
        "figure1": fig1["rows"],
        "sweep": {fmt: {k: np.asarray(v).tolist() for k, v in d.items()} for fmt, d in sweep.items()},
        "norm_ratio_above_one_while_mostly_flushed": disagree,
        "figure2": fig2,
        "summary": tables(fig1, fig2),
        "figures": figures,
        "line": line,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="bench-results", help="output directory (default: bench-results)")
    p.add_argument("--size", choices=tuple(SIZES), default="default")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = pathlib.Path(args.out)
    res = run(args.size, args.seed, out, progress=lambda what: print(f"  {what} done", flush=True))
    (out / "shrinkage.json").write_text(json.dumps(res, indent=2))
    print(res["summary"])
    print()
    print(res["line"])
    print(f"wrote {', '.join(res['figures'])} and shrinkage.json to {out} in {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
