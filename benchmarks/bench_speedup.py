"""Per-epoch time of every solver x bits, against fp32 SVRG and the memory bound.

Three regimes of dense synthetic least squares (the same data for every
solver, generated once per regime):

    in cache   n = 1000,  d = 100
    narrow     d = 256,   int8 data >= 256 MiB (out of cache)
    wide       d = 2^18,  int8 data >= 256 MiB; the model no longer fits in L2

The solvers run through lpcore._core.fit on data already stored at their
width, on one thread (SolverConfig.n_threads = 1, so that the bandwidth
bounds below are one core's), so the times are the training loop's own: an epoch of SVRG / HALP is
its full-gradient pass plus T = 2n inner steps (history "seconds"); an epoch of
SGD is its T steps (history "inner_seconds"; SGD needs no full gradient).
Runs are interleaved round by round and each figure is the median over all
rounds and epochs.

The bandwidth bound of an epoch is the bytes it must move divided by the
streaming-read bandwidth measured in this run (see epoch_bytes). Out of cache a
second floor is reported next to it: the same epoch with its T sampled rows
read at random, at the rate measured for random rows (see gather_seconds). scikit-learn's
SAG (Ridge, solver="sag") runs on the same float32 data as a reference point.

The sizes differ only in rounds and epochs: the default size runs 2 rounds of
1 epoch out of cache (10 in cache), the full size 5 rounds of 2 (10).

    python benchmarks/bench_speedup.py                # default size (1-2 minutes)
    python benchmarks/bench_speedup.py --size full    # more rounds and epochs
    python benchmarks/bench_speedup.py --size tiny    # tiny data, a smoke test
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _common import pick, pyplot, report, save, script_main, table
from lpcore import _bench, _core, _data, _solver
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

# (name, method, bits); HALP at 32 bits is SVRG, so it is not listed.
RUNS = [
    ("svrg32", "svrg", 32),
    ("sgd32", "sgd", 32),
    ("halp8", "halp", 8),
    ("halp16", "halp", 16),
    ("lpsvrg8", "svrg", 8),
    ("lpsvrg16", "svrg", 16),
    ("lpsgd8", "sgd", 8),
    ("lpsgd16", "sgd", 16),
]
MIB = 1 << 20


def regimes(size: str) -> dict:
    if size == "tiny":
        return {"in_cache": (200, 50), "narrow": (4096, 256), "wide": (16, 1 << 14)}
    return {
        "in_cache": (1000, 100),
        "narrow": (256 * MIB // 256, 256),  # 2^20 rows: 256 MiB int8, 1 GiB fp32
        "wide": (256 * MIB // (1 << 18), 1 << 18),  # 1024 rows of 2^18
    }


def epoch_bytes(method: str, bits: int, n: int, d: int, T: int) -> int:
    """Bytes an epoch must move from memory: its data rows.

    T sampled rows, plus all n rows in the full-gradient pass (SVRG / HALP).
    The model, its offsets and the gradient sum stay in cache in all three
    regimes on this machine (the wide fp32 model and its offsets are 2 MiB,
    against a 32 MiB L3), so they cost no memory traffic.
    """
    full_pass = method != "sgd"
    return (T + (n if full_pass else 0)) * d * (bits // 8)


def make_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal(d).astype(np.float32)
    y = (X @ w).astype(np.float64) + rng.standard_normal(n)
    # Every width as the estimators store it (lpcore/_memory.py): in huge pages,
    # rows zero-padded to whole vector blocks (d = 100 in cache: 104 float32,
    # 112 int16 or 128 int8 columns; the out-of-cache widths need no padding).
    data = {}
    for bits in (32, 8, 16):
        prepared = _data.prepare(X, bits)
        data[bits] = (prepared.rows, prepared.row_scale)
    return data, y


def gather_seconds(n: int, d: int) -> dict:
    """Seconds per row of reading random rows at each width, as the solver samples them.

    The rows are drawn uniformly with replacement from n rows in 2 MiB pages and
    prefetched 16 draws ahead (lpcore._bench.time_gather): the data-movement floor
    of an out-of-cache inner step, which the streaming bound does not see.
    """
    rows = min(2 * n, 1 << 19)
    return {bits: _bench.time_gather(n, d * bits // 8, rows, 16, 3) for bits in (8, 16, 32)}


def random_access_bound(method: str, bits: int, n: int, d: int, T: int, row_seconds: float,
                        bandwidth: float) -> float:
    """An epoch's floor with random access: T random rows at the measured gather
    rate, plus the full-gradient pass (SVRG / HALP) streamed."""
    return T * row_seconds + epoch_bytes(method, bits, n, d, 0) / bandwidth


def streaming_bandwidth(n_bytes: int, reps: int = 5) -> float:
    """Bytes/s of the streaming-read kernel over an out-of-cache buffer (median)."""
    times = _bench.time_kernel("stream", n_bytes, reps, 1)
    return n_bytes / statistics.median(times)


def time_epochs(data, y, method, bits, epochs, eta):
    X, scale = data[bits]
    n, d = X.shape
    cfg = _solver.config(method, "squared", eta=eta, alpha=1e-4, mu=1.0, delta=0.05, epoch_length=2 * n,
                         max_iter=epochs, tol=0.0, fit_intercept=True, seed=1)
    r = _core.fit(X, scale, y, np.zeros((1, d), np.float32), np.zeros(1), cfg)
    key = "inner_seconds" if method == "sgd" else "seconds"
    return list(r.history[key])


def time_sag(X, y, epochs: int) -> float:
    """Seconds per epoch of scikit-learn's SAG on the same float32 data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model = Ridge(alpha=1e-4 * len(X), solver="sag", max_iter=epochs, tol=0.0, random_state=0).fit(X, y)
        elapsed = time.perf_counter() - t0
    return elapsed / max(1, int(np.max(model.n_iter_)))


def run(size: str = "default", seed: int = 0, out_dir: Path | str = ".", progress=None,
        rounds: int | None = None) -> dict:
    t_start = time.time()
    rounds = rounds or pick(size, 1, 2, 5)
    bandwidth = streaming_bandwidth(pick(size, 64, 512, 512) * MIB)
    results = {}
    sizes = regimes(size)
    for g, (regime, (n, d)) in enumerate(sizes.items()):
        data, y = make_data(n, d, seed)
        eta = 0.5 / (d + 1.0)  # stable for standard-normal rows (||x||^2 ~ d)
        # Out of cache an epoch takes about a second: fewer epochs, the same data size.
        epochs = 10 if regime == "in_cache" else pick(size, 2, 1, 2)
        samples = {name: [] for name, _, _ in RUNS}
        sag = []
        for r in range(rounds):
            for name, method, bits in RUNS:
                samples[name] += time_epochs(data, y, method, bits, epochs, eta)
            if regime != "wide":  # SAG on 2^18 features x 1024 rows tells nothing new
                sag.append(time_sag(data[32][0][:, :d], y, 1 if regime == "narrow" else epochs))
            report(progress, g * rounds + r + 1, len(sizes) * rounds, f"{regime}: round {r + 1}/{rounds}")
        del data
        gather = {} if regime == "in_cache" else gather_seconds(n, d)
        rows = {}
        base = statistics.median(samples["svrg32"])
        for name, method, bits in RUNS:
            sec = statistics.median(samples[name])
            bound = epoch_bytes(method, bits, n, d, 2 * n) / bandwidth
            rows[name] = {"seconds": sec, "speedup_vs_svrg32": base / sec, "bound_seconds": bound,
                          "fraction_of_bound": bound / sec}
            if gather:
                g_bound = random_access_bound(method, bits, n, d, 2 * n, gather[bits], bandwidth)
                rows[name].update(gather_bound_seconds=g_bound, fraction_of_gather_bound=g_bound / sec)
        results[regime] = {"n": n, "d": d, "epochs": epochs, "rows": rows,
                           "sag_seconds": statistics.median(sag) if sag else None,
                           "gather_seconds_per_row": {str(b): t for b, t in gather.items()}}
    res = {"size": size, "rounds": rounds, "bandwidth_bytes_per_s": bandwidth, "results": results,
           "targets": targets(results)}
    res["figures"] = [plot(res, Path(out_dir))]
    res["summary"] = summary(res)
    res["line"] = one_line(res)
    res["seconds"] = time.time() - t_start
    return res


def targets(results: dict) -> list[dict]:
    out = []

    def add(name, value, needed):
        out.append({"target": name, "value": value, "needed": needed, "met": bool(value >= needed)})

    rows = {k: v["rows"] for k, v in results.items()}
    add("wide: halp8 speedup over svrg32", rows["wide"]["halp8"]["speedup_vs_svrg32"], 3.0)
    add("wide: halp16 speedup over svrg32", rows["wide"]["halp16"]["speedup_vs_svrg32"], 1.8)
    add("narrow: halp8 speedup over svrg32", rows["narrow"]["halp8"]["speedup_vs_svrg32"], 2.0)
    ic = rows["in_cache"]
    pairs = [("halp8", "svrg32"), ("halp16", "svrg32"), ("lpsvrg8", "svrg32"), ("lpsvrg16", "svrg32"),
             ("lpsgd8", "sgd32"), ("lpsgd16", "sgd32")]
    add("in cache: slowest low-precision solver vs its fp32 counterpart",
        min(ic[b]["seconds"] / ic[a]["seconds"] for a, b in pairs), 1.0)
    for regime in ("narrow", "wide"):
        add(f"{regime}: halp8 fraction of its bandwidth bound", rows[regime]["halp8"]["fraction_of_bound"], 0.5)
    for regime in ("in_cache", "narrow"):
        sag = results[regime]["sag_seconds"]
        add(f"{regime}: sklearn SAG epoch / svrg32 epoch", sag / rows[regime]["svrg32"]["seconds"], 1.0)
    return out


def format_table(res: dict) -> str:
    parts = []
    for regime, r in res["results"].items():
        rows = [[name, 1e3 * row["seconds"], row["speedup_vs_svrg32"], 1e3 * row["bound_seconds"],
                 row["fraction_of_bound"], _ms(row.get("gather_bound_seconds")),
                 row.get("fraction_of_gather_bound")] for name, row in r["rows"].items()]
        if r["sag_seconds"] is not None:
            rows.append(["sklearn SAG (n steps)", 1e3 * r["sag_seconds"],
                         r["rows"]["svrg32"]["seconds"] / r["sag_seconds"], None, None, None, None])
        parts.append(f"### {regime}: n = {r['n']}, d = {r['d']}\n\n" + table(
            ["solver", "epoch (ms)", "speedup vs svrg32", "bandwidth bound (ms)", "fraction of bound",
             "random-access bound (ms)", "fraction of it"], rows))
        if r["gather_seconds_per_row"]:
            parts.append("Random row read (prefetched 16 ahead), per row: " + ", ".join(
                f"{bits}-bit {1e9 * t:.0f} ns" for bits, t in r["gather_seconds_per_row"].items()))
    parts.append(f"Streaming-read bandwidth: {res['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s")
    return "\n\n".join(parts)


def _ms(seconds):
    return None if seconds is None else 1e3 * seconds


def format_targets(targets_: list[dict]) -> str:
    return table(["target", "value", "needed", "met"],
                 [[t["target"], f"{t['value']:.2f}", f">= {t['needed']:.2f}", "yes" if t["met"] else "NO"]
                  for t in targets_], "lrrl")


def summary(res: dict) -> str:
    return "\n\n".join([
        "## Speedup: seconds per epoch against fp32 SVRG and the bandwidth bound\n\n"
        f"Median over {res['rounds']} interleaved round(s). An epoch of SVRG / HALP is its full-gradient pass "
        "plus T = 2n steps, of SGD its T steps. The bound is the bytes an epoch must read at the "
        "streaming-read bandwidth measured in this run; in cache it is no bound at all (the data come "
        "from cache), so its fraction there can exceed 1. Out of cache, the random-access bound replaces "
        "the T sampled rows' streaming time with T random row reads at the rate measured in this run "
        "(rows drawn and prefetched as the solver does): the floor a step that reads a random row "
        "cannot beat.",
        format_table(res),
        format_targets(res["targets"]),
    ])


def one_line(res: dict) -> str:
    r = res["results"]
    met = sum(t["met"] for t in res["targets"])
    speedups = ", ".join(f"{g} {r[g]['rows']['halp8']['speedup_vs_svrg32']:.2f}x" for g in r)
    fractions = ", ".join(f"{g} {r[g]['rows']['halp8']['fraction_of_bound']:.2f}" for g in ("narrow", "wide"))
    return (f"halp8 epoch speedup over svrg32: {speedups}; halp8 fraction of its bandwidth bound: {fractions}; "
            f"{met}/{len(res['targets'])} targets met")


def plot(res: dict, out_dir: Path) -> str:
    """Speedup over fp32 SVRG per solver and regime, each bar's bandwidth bound marked.

    The mark is the speedup a solver would have if its epoch ran at its
    bandwidth bound (svrg32 seconds / bound seconds). It is left off in cache,
    where the data never come from memory.
    """
    plt = pyplot()
    regimes_ = list(res["results"])
    fig, axes = plt.subplots(1, len(regimes_), figsize=(4.2 * len(regimes_), 4.2), sharey=True)
    names = [name for name, _, _ in RUNS]
    for ax, regime in zip(axes, regimes_):
        r = res["results"][regime]
        base = r["rows"]["svrg32"]["seconds"]
        ax.bar(range(len(names)), [r["rows"][k]["speedup_vs_svrg32"] for k in names], color="tab:blue",
               label="measured")
        if regime != "in_cache":
            ax.scatter(range(len(names)), [base / r["rows"][k]["bound_seconds"] for k in names], marker="_",
                       s=300, color="black", zorder=3, label="at the bandwidth bound")
        ax.axhline(1.0, color="gray", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_title(f"{regime} (n={r['n']}, d={r['d']})" + ("\nno memory bound: the data stay in cache"
                                                             if regime == "in_cache" else ""))
        ax.legend(fontsize="small")
    axes[0].set_ylabel("epoch speedup over fp32 SVRG (x, log scale)")
    return save(fig, out_dir, "speedup_bars.png")


def main(argv=None) -> int:
    return script_main(run, __doc__, argv, rounds=True)


if __name__ == "__main__":
    sys.exit(main())
