"""Per-epoch time of every solver x bits, against fp32 SVRG and the memory bound.

Three regimes of dense synthetic least squares (the same data for every
solver, generated once per regime):

    in cache   n = 1000,  d = 100
    narrow     d = 256,   int8 data >= 256 MiB (out of cache)
    wide       d = 2^18,  int8 data >= 256 MiB; the model no longer fits in L2

The solvers run through lpcore._core.fit on data already stored at their
width, so the times are the training loop's own: an epoch of SVRG / HALP is
its full-gradient pass plus T = 2n inner steps (history "seconds"); an epoch of
SGD is its T steps (history "inner_seconds"; SGD needs no full gradient).
Runs are interleaved round by round and each figure is the median over all
rounds and epochs.

The bandwidth bound of an epoch is the bytes it must move divided by the
streaming-read bandwidth measured in this run (see epoch_bytes). scikit-learn's
SAG (Ridge, solver="sag") runs on the same float32 data as a reference point.

    python benchmarks/bench_speedup.py           # full sizes (a few minutes)
    python benchmarks/bench_speedup.py --quick   # tiny sizes, a smoke test
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np
from lpcore import _core
from lpcore._memory import copy_large
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

def regimes(quick: bool) -> dict:
    if quick:
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
    # Every width in huge pages, as the estimators store it (lpcore/_memory.py).
    data = {32: (copy_large(X), None)}
    for bits, quantize, qmax in ((8, _core.quantize_i8, 127), (16, _core.quantize_i16, 32767)):
        scale = (np.abs(X).max(axis=1) / qmax).astype(np.float32)
        scale[scale == 0] = 1.0
        data[bits] = (copy_large(quantize(X, scale, False, 0)[0]), scale)
    return data, y


def streaming_bandwidth(n_bytes: int, reps: int = 5) -> float:
    """Bytes/s of the streaming-read kernel over an out-of-cache buffer (median)."""
    times = _core.time_kernel("stream", n_bytes, reps, 1)
    return n_bytes / statistics.median(times)


def time_epochs(data, y, method, bits, epochs, eta):
    X, scale = data[bits]
    n, d = X.shape
    r = _core.fit(X, scale, y, np.zeros((1, d), np.float32), np.zeros(1), method=method, loss="squared",
                  eta=eta, alpha=1e-4, mu=1.0, delta=0.05, epoch_length=2 * n, max_iter=epochs, tol=0.0,
                  fit_intercept=True, seed=1, verbose=0)
    key = "inner_seconds" if method == "sgd" else "seconds"
    return list(r["history"][key])


def time_sag(X, y, epochs: int) -> float:
    """Seconds per epoch of scikit-learn's SAG on the same float32 data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model = Ridge(alpha=1e-4 * len(X), solver="sag", max_iter=epochs, tol=0.0, random_state=0).fit(X, y)
        elapsed = time.perf_counter() - t0
    return elapsed / max(1, int(np.max(model.n_iter_)))


def run(quick: bool = False, rounds: int | None = None, progress=None) -> dict:
    t_start = time.time()
    rounds = rounds or (1 if quick else 3)
    bandwidth = streaming_bandwidth(64 * MIB if quick else 512 * MIB)
    results = {}
    for regime, (n, d) in regimes(quick).items():
        data, y = make_data(n, d)
        eta = 0.5 / (d + 1.0)  # stable for standard-normal rows (||x||^2 ~ d)
        epochs = 10 if regime == "in_cache" else 2
        samples = {name: [] for name, _, _ in RUNS}
        sag = []
        for r in range(rounds):
            for name, method, bits in RUNS:
                samples[name] += time_epochs(data, y, method, bits, epochs, eta)
            if regime != "wide":  # SAG on 2^18 features x 1024 rows tells nothing new
                sag.append(time_sag(data[32][0], y, 1 if regime == "narrow" else epochs))
            if progress:
                progress(regime, r + 1, rounds)
        rows = {}
        base = statistics.median(samples["svrg32"])
        for name, method, bits in RUNS:
            sec = statistics.median(samples[name])
            bound = epoch_bytes(method, bits, n, d, 2 * n) / bandwidth
            rows[name] = {"seconds": sec, "speedup_vs_svrg32": base / sec, "bound_seconds": bound,
                          "fraction_of_bound": bound / sec}
        results[regime] = {"n": n, "d": d, "rows": rows,
                           "sag_seconds": statistics.median(sag) if sag else None}
    return {"bandwidth_bytes_per_s": bandwidth, "results": results, "targets": targets(results),
            "seconds": time.time() - t_start, "quick": quick}


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
    lines = []
    for regime, r in res["results"].items():
        lines.append(f"### {regime}: n = {r['n']}, d = {r['d']}\n")
        lines.append("| solver | epoch (ms) | speedup vs svrg32 | bandwidth bound (ms) | fraction of bound |")
        lines.append("|---|---:|---:|---:|---:|")
        for name, row in r["rows"].items():
            lines.append(f"| {name} | {1e3 * row['seconds']:.3f} | {row['speedup_vs_svrg32']:.2f} | "
                         f"{1e3 * row['bound_seconds']:.3f} | {row['fraction_of_bound']:.2f} |")
        if r["sag_seconds"] is not None:
            lines.append(f"| sklearn SAG (n steps) | {1e3 * r['sag_seconds']:.3f} | "
                         f"{r['rows']['svrg32']['seconds'] / r['sag_seconds']:.2f} | | |")
        lines.append("")
    lines.append(f"Streaming-read bandwidth: {res['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s")
    return "\n".join(lines)


def format_targets(targets_: list[dict]) -> str:
    lines = ["| target | value | needed | met |", "|---|---:|---:|---|"]
    for t in targets_:
        lines.append(f"| {t['target']} | {t['value']:.2f} | >= {t['needed']:.2f} | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    res = run(args.quick, args.rounds, progress=lambda g, r, n: print(f"  {g}: round {r}/{n}", flush=True))
    print(format_table(res))
    print()
    print(format_targets(res["targets"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
