"""Kernel throughput against the measured memory bandwidth (the roofline).

Every kernel is timed by the C++ harness (lpcore._bench.time_kernel), in cache
and out of cache, interleaved round by round so that machine noise hits all of
them alike; each figure is the median over all repetitions. Ratios compare
kernels measured in this same run.

    python benchmarks/bench_kernels.py                 # default size (256 MiB out of cache)
    python benchmarks/bench_kernels.py --size full     # 512 MiB, 5 rounds
    python benchmarks/bench_kernels.py --size tiny     # a smoke test, measures nothing
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import lpcore
from _common import fmt, pick, pyplot, report, save, script_main, table
from lpcore import _bench

KERNELS = ["stream", "dot_i8", "dot_i16", "dot_f32", "axpy_f32", "update_f32", "update_i8", "update_i16",
           "update_dot_f32", "update_dot_i8", "update_dot_i8_i16"]
# Bytes of memory each kernel's buffers occupy per element (its working set).
FOOTPRINT = {
    "stream": 1, "dot_i8": 2, "dot_i16": 4, "dot_f32": 8,
    "axpy_f32": 8, "update_f32": 12, "update_i8": 4, "update_i16": 8,
    # The solver's fused steps (the update and the next row's dot): model, row, offset, next row.
    "update_dot_f32": 16, "update_dot_i8": 5, "update_dot_i8_i16": 8,
}
# In-cache lengths: L1-resident (all buffers <= 64 KiB) and L2-resident (<= 384 KiB, but 512 KiB for
# update_dot_f32's four buffers: L2-resident only where L2 holds 1 MiB, as on Zen 4).
IN_CACHE = {"L1": 4096, "L2": 32768}

# (name, numerator, denominator, regime, minimum ratio) from the foundation issue.
TARGETS = [
    ("int8 dot / stream bandwidth (bytes/s)", "dot_i8", "stream", "out", 0.80),
    ("int8 dot / best read bandwidth, stream or fp32 dot (bytes/s)", "dot_i8", "best_read", "out", 0.80),
    ("int8 dot / fp32 dot, L1 (elements/s)", "dot_i8", "dot_f32", "L1", 2.5),
    ("int8 dot / fp32 dot, L2 (elements/s)", "dot_i8", "dot_f32", "L2", 2.5),
    ("int8 update / fp32 axpy, out of cache (elements/s)", "update_i8", "axpy_f32", "out", 2.0),
    ("int8 update / fp32 axpy, L1 (elements/s)", "update_i8", "axpy_f32", "L1", 1.0),
    ("int8 update / fp32 axpy, L2 (elements/s)", "update_i8", "axpy_f32", "L2", 1.0),
]


def measure(out_of_cache_bytes: int, rounds: int, inner_seconds: float, progress=None) -> dict:
    """Median seconds per call for every kernel and regime."""
    sizes = {regime: {k: n for k in KERNELS} for regime, n in IN_CACHE.items()}
    sizes["out"] = {k: max(1024, out_of_cache_bytes // FOOTPRINT[k]) for k in KERNELS}
    samples = {regime: {k: [] for k in KERNELS} for regime in sizes}
    for r in range(rounds):
        for regime, by_kernel in sizes.items():
            for k in KERNELS:
                n = by_kernel[k]
                # Enough back-to-back calls for ~inner_seconds per repetition.
                bytes_per_call = _bench.kernel_bytes(k, n)
                inner = max(1, int(inner_seconds * 20e9 / bytes_per_call)) if regime != "out" else 1
                samples[regime][k] += _bench.time_kernel(k, n, 3, inner)
        report(progress, r + 1, rounds, f"round {r + 1}/{rounds}")
    results = {}
    for regime, by_kernel in samples.items():
        for k, secs in by_kernel.items():
            n = sizes[regime][k]
            t = statistics.median(secs)
            results.setdefault(regime, {})[k] = {
                "n": n,
                "seconds": t,
                "elements_per_s": n / t,
                "bytes_per_s": _bench.kernel_bytes(k, n) / t,
                "spread": (max(secs) - min(secs)) / t,
            }
    return results


def ratios(results: dict) -> list[dict]:
    out = []
    for name, num, den, regime, minimum in TARGETS:
        if den == "best_read":
            best = max(results[regime]["stream"]["bytes_per_s"], results[regime]["dot_f32"]["bytes_per_s"])
            value = results[regime][num]["bytes_per_s"] / best
        else:
            key = "bytes_per_s" if den == "stream" else "elements_per_s"
            value = results[regime][num][key] / results[regime][den][key]
        out.append({"target": name, "ratio": value, "minimum": minimum, "met": value >= minimum})
    return out


def format_table(results: dict) -> str:
    stream_bw = results["out"]["stream"]["bytes_per_s"]
    rows = []
    for regime in ["L1", "L2", "out"]:
        for k in KERNELS:
            r = results[regime][k]
            frac = r["bytes_per_s"] / stream_bw if regime == "out" else None
            rows.append([k, regime, r["n"], r["elements_per_s"] / 1e9, r["bytes_per_s"] / 1e9, frac])
    return table(["kernel", "regime", "n", "Gelem/s", "GB/s", "GB/s / stream"], rows, "llrrrr")


def format_targets(rows: list[dict]) -> str:
    return table(["target", "measured", "needed", ""],
                 [[r["target"], f"{r['ratio']:.2f}", f">= {r['minimum']:.2f}", "met" if r["met"] else "MISSED"]
                  for r in rows], "lrrl")


def plot(results: dict, out_dir: Path) -> str:
    """Out-of-cache bandwidth of every kernel under the streaming-read roof, and
    element throughput in each regime."""
    plt = pyplot()
    fig, (ax_bw, ax_el) = plt.subplots(1, 2, figsize=(11, 4.2))
    stream_bw = results["out"]["stream"]["bytes_per_s"] / 1e9
    x = range(len(KERNELS))
    ax_bw.bar(x, [results["out"][k]["bytes_per_s"] / 1e9 for k in KERNELS], color="tab:blue")
    ax_bw.axhline(stream_bw, color="black", linestyle="--", label=f"streaming read {stream_bw:.1f} GB/s")
    ax_bw.set_xticks(list(x), KERNELS, rotation=35, ha="right")
    ax_bw.set_ylabel("memory traffic (GB/s)")
    ax_bw.set_title(f"Out of cache ({results['out']['stream']['n'] >> 20} MiB per kernel)")
    ax_bw.legend(fontsize="small")
    width = 0.27
    for i, regime in enumerate(["L1", "L2", "out"]):
        ax_el.bar([j + (i - 1) * width for j in x], [results[regime][k]["elements_per_s"] / 1e9 for k in KERNELS],
                  width, label="out of cache" if regime == "out" else f"{regime}-resident")
    ax_el.set_yscale("log")
    ax_el.set_xticks(list(x), KERNELS, rotation=35, ha="right")
    ax_el.set_ylabel("throughput (Gelem/s, log scale)")
    ax_el.set_title("Elements per second by regime")
    ax_el.legend(fontsize="small")
    return save(fig, out_dir, "kernels_roofline.png")


def run(size: str = "default", seed: int = 0, out_dir: Path | str = ".", progress=None,
        rounds: int | None = None) -> dict:
    """Time every kernel; seed is unused (the harness fills its buffers itself)."""
    out_bytes = pick(size, 8 << 20, 256 << 20, 512 << 20)
    rounds = rounds or pick(size, 1, 3, 5)
    inner = pick(size, 0.002, 0.01, 0.02)
    t0 = time.perf_counter()
    results = measure(out_bytes, rounds, inner, progress)
    targets = ratios(results)
    figure = plot(results, Path(out_dir))
    out = results["out"]
    stream_bw = out["stream"]["bytes_per_s"]
    met = sum(t["met"] for t in targets)
    line = (f"int8 dot out of cache {out['dot_i8']['bytes_per_s'] / 1e9:.1f} GB/s = "
            f"{out['dot_i8']['bytes_per_s'] / stream_bw:.2f} x streaming read ({stream_bw / 1e9:.1f} GB/s); "
            f"int8 dot / fp32 dot in L2 {results['L2']['dot_i8']['elements_per_s'] / results['L2']['dot_f32']['elements_per_s']:.2f}x "
            f"(elements/s); {met}/{len(targets)} targets met")
    summary = "\n\n".join([
        f"## Kernels: throughput against the memory roof\n\n"
        f"Median of {rounds} interleaved round(s); L1 n = {IN_CACHE['L1']}, L2 n = {IN_CACHE['L2']}, "
        f"out of cache {out_bytes >> 20} MiB per kernel. The roof is the single-threaded streaming-read "
        f"bandwidth measured in the same run: {fmt(stream_bw / 1e9)} GB/s.",
        format_table(results),
        format_targets(targets),
    ])
    return {
        "backend": lpcore.backend(),
        "size": size,
        "out_of_cache_bytes": out_bytes,
        "rounds": rounds,
        "seconds": time.perf_counter() - t0,
        "results": results,
        "targets": targets,
        "summary": summary,
        "figures": [figure],
        "line": line,
    }


def main(argv=None) -> int:
    return script_main(run, __doc__, argv, rounds=True)


if __name__ == "__main__":
    sys.exit(main())
