"""What the benchmarks share: sizes, the 8-bit data, objectives, tables and plots.

Every benchmark module has the same entry point,

    run(size, seed, out_dir, progress=None) -> dict

with size one of SIZES. The dict is JSON-serializable and holds "summary" (a
markdown section), "figures" (PNG file names written in out_dir), "line" (a
one-line result) and the numbers themselves. progress, when given, is called
as progress(done, total, label) while the benchmark works.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

SIZES = ("tiny", "default", "full")

Progress = Callable[..., None] | None


def pick(size: str, tiny, default, full):
    """The setting for this size."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}; got {size!r}")
    return {"tiny": tiny, "default": default, "full": full}[size]


def report(progress: Progress, done: int, total: int, label: str = "") -> None:
    if progress is not None:
        progress(done, total, label)


# ---- data -----------------------------------------------------------------------


def eight_bit_data(X: np.ndarray) -> np.ndarray:
    """X rounded (to nearest) to lpcore's 8-bit per-row grid, back in float64.

    This is the HALP paper's "same 8-bit data" setup: every solver, lpcore's at
    any width and scikit-learn's, then trains on exactly one data set, so their
    objectives and optimum are the same function. (On unrounded data an 8-bit
    solver would minimize the objective of its rounded copy, whose optimum
    differs by the data rounding; see ``data_rounding_error_``.)
    """
    from lpcore import _data

    data = _data.prepare(X, 8, pad=False)
    return np.multiply(data.rows, data.row_scale[:, None], dtype=np.float32).astype(np.float64)


def rounding_error(X: np.ndarray, Xq: np.ndarray) -> float:
    """||X - Xq||_F / ||X||_F."""
    return float(np.linalg.norm(X - Xq) / np.linalg.norm(X))


# ---- the objectives lpcore minimizes, in float64 ----------------------------------
# (1/n) sum_i loss(x_i . w + b, y_i) + alpha/2 ||w||^2, the intercept unpenalized;
# float64 whatever the dtype of X or of the model (float32 X gives a float32 coef_).


def squared_objective(X, y, w, b, alpha) -> float:
    w = np.ravel(w).astype(np.float64)
    r = X @ w + float(np.ravel([b])[0]) - y
    return 0.5 * float(np.mean(r * r)) + 0.5 * alpha * float(np.sum(np.square(w)))


def logistic_objective(X, y_pm, w, b, alpha) -> float:
    """Binary logistic loss with labels y_pm in {-1, +1}."""
    w = np.ravel(w).astype(np.float64)
    m = X @ w + float(np.ravel([b])[0])
    return float(np.mean(np.logaddexp(0.0, -y_pm * m))) + 0.5 * alpha * float(np.sum(np.square(w)))


def multinomial_objective(X, y, W, b, alpha) -> float:
    """Softmax cross-entropy with integer labels y in [0, K)."""
    W = np.atleast_2d(W).astype(np.float64)
    M = X @ W.T + np.asarray(b, dtype=np.float64)
    M = M - M.max(axis=1, keepdims=True)
    lse = np.log(np.exp(M).sum(axis=1))
    return float(np.mean(lse - M[np.arange(len(y)), y])) + 0.5 * alpha * float(np.sum(np.square(W)))


def ridge_optimum(X, y, alpha) -> tuple[np.ndarray, float]:
    """Exact minimizer of the squared objective (float64 normal equations)."""
    xm, ym = X.mean(axis=0), y.mean()
    Xc = X - xm
    n, d = X.shape
    w = np.linalg.solve(Xc.T @ Xc / n + alpha * np.eye(d), Xc.T @ (y - ym) / n)
    return w, float(ym - xm @ w)


# ---- timing -----------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(timed(fn)[1] for _ in range(repeats))


# ---- tables -------------------------------------------------------------------------


def fmt(x, digits: int = 3) -> str:
    """A number for a table: 3 significant digits, '' for None."""
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    x = float(x)
    if x != x:
        return "nan"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}"
    return f"{x:.{digits - 1}e}"


def table(header: Sequence[str], rows: Sequence[Sequence], align: str | None = None) -> str:
    """A markdown table; align has one 'l' or 'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- plots --------------------------------------------------------------------------


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, out_dir: Path, name: str) -> str:
    """Write fig as out_dir/name and close it; returns the file name."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(Path(out_dir) / name, dpi=110)
    pyplot().close(fig)
    return name


def curves_axis(ax, curves: dict, xlabel: str, ylabel: str, title: str, logy: bool = True, logx: bool = False):
    """One line per entry of curves {label: (x, y) or (x, y, plot keywords)}; non-positive
    values are left off a log axis."""
    for label, (x, y, *style) in curves.items():
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        keep = np.isfinite(y) & ((y > 0) if logy else True) & ((x > 0) if logx else True)
        ax.plot(x[keep], y[keep], marker="." if keep.sum() < 30 else None, label=label, **(style[0] if style else {}))
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")


# Line styles of (solver, bits): fp32 baselines in blue / orange, each
# low-precision algorithm one colour, solid at 8 bits and dashed at 16.
STYLES = {
    ("sgd", 32): ("tab:blue", "-"), ("svrg", 32): ("tab:orange", "-"),
    ("sgd", 8): ("tab:green", "-"), ("svrg", 8): ("tab:red", "-"), ("halp", 8): ("tab:purple", "-"),
    ("sgd", 16): ("tab:green", "--"), ("svrg", 16): ("tab:red", "--"), ("halp", 16): ("tab:purple", "--"),
}


def solver_style(solver: str, bits: int) -> dict:
    color, linestyle = STYLES[(solver, bits)]
    return {"color": color, "linestyle": linestyle}


def plot_curves(out_dir: Path, name: str, curves: dict, xlabel: str, ylabel: str, title: str,
                logy: bool = True, logx: bool = False) -> str:
    """A single-panel line plot written to out_dir/name; returns the file name."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    curves_axis(ax, curves, xlabel, ylabel, title, logy=logy, logx=logx)
    return save(fig, out_dir, name)


# ---- results and the standalone scripts ---------------------------------------------


def plain(x):
    """x as strict JSON: numpy scalars and arrays as Python numbers and lists,
    and non-finite floats (a diverged run) as null, which every parser reads."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if hasattr(x, "tolist"):
        return plain(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def script_main(run: Callable[..., dict], doc: str, argv=None, rounds: bool = False,
                worker: Callable[[dict], int] | None = None, select: bool = False) -> int:
    """Command line of a benchmark run on its own: its summary and one-line result on stdout.

    A benchmark that measures in fresh processes passes its `worker`: the
    command line `--worker JSON` then runs worker(json.loads(JSON)) instead.
    With `select`, `--problems NAME[,NAME]` runs only those of the size's
    problems (run's `select`).
    """
    argv = sys.argv[1:] if argv is None else argv
    if worker is not None and argv[:1] == ["--worker"]:
        return worker(json.loads(argv[1]))
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=SIZES, default="default")
    p.add_argument("--quick", action="store_true", help="same as --size tiny (a smoke test, not a measurement)")
    p.add_argument("--seed", type=int, default=0)
    if rounds:
        p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default: by size)")
    if select:
        p.add_argument("--problems", metavar="NAME[,NAME]", help="run only these problems of the size")
    p.add_argument("--out", default=".", help="directory for the figures (default: here)")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    extra = {"rounds": args.rounds} if rounds else {}
    if select and args.problems:
        extra["select"] = args.problems.split(",")
    res = run("tiny" if args.quick else args.size, args.seed, Path(args.out),
              progress=lambda done, total, label="": print(f"  {label}", file=sys.stderr, flush=True), **extra)
    print(res["summary"])
    print(f"\n{res['line']}")
    if args.json:
        Path(args.json).write_text(json.dumps(plain(res), indent=2, allow_nan=False))
    return 0
