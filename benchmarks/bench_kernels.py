"""Kernel throughput against the measured memory bandwidth (the roofline).

Every kernel is timed by the C++ harness (lpcore._core.time_kernel), in cache
and out of cache, interleaved round by round so that machine noise hits all of
them alike; each figure is the median over all repetitions. Ratios compare
kernels measured in this same run.

    python benchmarks/bench_kernels.py            # full sizes (>= 512 MiB out of cache)
    python benchmarks/bench_kernels.py --quick    # tiny sizes, for smoke tests
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import lpcore
from lpcore import _core

KERNELS = ["stream", "dot_i8", "dot_i16", "dot_f32", "axpy_f32", "update_f32", "update_i8", "update_i16"]
# Bytes of memory each kernel's buffers occupy per element (its working set).
FOOTPRINT = {
    "stream": 1, "dot_i8": 2, "dot_i16": 4, "dot_f32": 8,
    "axpy_f32": 8, "update_f32": 12, "update_i8": 4, "update_i16": 8,
}
# In-cache lengths: L1-resident (all buffers <= 64 KiB) and L2-resident (<= 384 KiB).
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
                bytes_per_call = _core.kernel_bytes(k, n)
                inner = max(1, int(inner_seconds * 20e9 / bytes_per_call)) if regime != "out" else 1
                samples[regime][k] += _core.time_kernel(k, n, 3, inner)
        if progress:
            progress(r + 1, rounds)
    results = {}
    for regime, by_kernel in samples.items():
        for k, secs in by_kernel.items():
            n = sizes[regime][k]
            t = statistics.median(secs)
            results.setdefault(regime, {})[k] = {
                "n": n,
                "seconds": t,
                "elements_per_s": n / t,
                "bytes_per_s": _core.kernel_bytes(k, n) / t,
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
    lines = [
        f"| kernel | regime | n | Gelem/s | GB/s | GB/s / stream |",
        f"|---|---|---:|---:|---:|---:|",
    ]
    for regime in ["L1", "L2", "out"]:
        for k in KERNELS:
            r = results[regime][k]
            frac = f"{r['bytes_per_s'] / stream_bw:.2f}" if regime == "out" else ""
            lines.append(
                f"| {k} | {regime} | {r['n']} | {r['elements_per_s'] / 1e9:.2f} | "
                f"{r['bytes_per_s'] / 1e9:.2f} | {frac} |"
            )
    return "\n".join(lines)


def format_targets(rows: list[dict]) -> str:
    lines = ["| target | measured | needed | |", "|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['target']} | {r['ratio']:.2f} | >= {r['minimum']:.2f} | {'met' if r['met'] else 'MISSED'} |")
    return "\n".join(lines)


def run(quick: bool = False, rounds: int | None = None, progress=None) -> dict:
    out_bytes = (8 << 20) if quick else (512 << 20)
    rounds = rounds or (1 if quick else 5)
    t0 = time.perf_counter()
    results = measure(out_bytes, rounds, 0.002 if quick else 0.02, progress)
    return {
        "backend": lpcore.backend(),
        "out_of_cache_bytes": out_bytes,
        "rounds": rounds,
        "seconds": time.perf_counter() - t0,
        "results": results,
        "targets": ratios(results),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not a measurement)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5)")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    report = run(args.quick, args.rounds, lambda r, n: print(f"  round {r}/{n}", file=sys.stderr, flush=True))
    print(f"backend: {report['backend']}, rounds: {report['rounds']}, "
          f"out of cache: {report['out_of_cache_bytes'] >> 20} MiB per kernel\n")
    print(format_table(report["results"]))
    print()
    print(format_targets(report["targets"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
