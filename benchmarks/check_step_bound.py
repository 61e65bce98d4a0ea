"""What bounds an inner-loop step: its kernel, its memory, or the rest of
its dependency chain (not part of the suite; docs/performance.md quotes it).

Least squares on normal data at d = 200, in L2 (n = 2000: fp32 rows of 1.6
MB) and out of it (n = 250000, the size of check_fit_breakdown's problems,
and n = 1000000), for the default (D8M16 HALP), D8M8 HALP and fp32 SVRG.
Per configuration and n, interleaved rounds of short fits (epochs of T =
max(2n, 500000) steps: the default 2n, but at least about 50 ms, since a
short epoch pays for the full pass before it); each figure is a median over
the rounds:

    step      an inner-loop step (history_["inner_seconds"] / T), ns
    kernel    the step's fused update (update_dot_*) alone, called back to
              back on rows in L1 with a fixed multiplier (lpcore._bench), ns

A step's multiplier waits for the loss derivative, which waits for the dot
the previous step's update computed: consecutive steps cannot overlap, so a
step costs its kernel's latency plus the scalar chain margin -> derivative
(-> the stochastic multiplier, at 8 and 16 bits), not the kernel's
throughput. The kernel column is close to its throughput, so "step -
kernel" in L2 is an upper bound on that chain and the loop's own work; the
growth from L2 to the larger n is what memory adds.

    python benchmarks/check_step_bound.py [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from lpcore import LowPrecisionRegressor, _bench
from lpcore._memory import padded_width

D = 200
SIZES = (2_000, 250_000, 1_000_000)
# label: (estimator parameters, fused kernel of its inner loop, (data bits, model bits))
CONFIGS = {
    "D8M16 HALP (default)": ({}, "update_dot_i8_i16", (8, 16)),
    "D8M8 HALP": ({"bits": 8}, "update_dot_i8", (8, 8)),
    "SVRG fp32": ({"solver": "svrg", "bits": 32}, "update_dot_f32", (32, 32)),
}


def step_ns(X, y, params: dict, widths: tuple[int, int]) -> float:
    steps = max(2 * X.shape[0], 500_000)
    est = LowPrecisionRegressor(alpha=1e-4, random_state=0, max_iter=4, tol=0, epoch_length=steps, **params)
    est.fit(X, y)
    if (est.data_bits_, est.bits_) != widths:
        raise RuntimeError(f"{params}: the fit ended at D{est.data_bits_}M{est.bits_}, not the configuration timed")
    return 1e9 * float(np.median(est.history_["inner_seconds"])) / steps


def kernel_ns(kernel: str, bits: int, calls: int = 100_000) -> float:
    """Seconds per call (time_kernel's unit), as ns."""
    return 1e9 * statistics.median(_bench.time_kernel(kernel, padded_width(D, bits), 7, calls))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    steps: dict[tuple[str, int], list[float]] = {}
    kernels: dict[str, list[float]] = {}
    for n in SIZES:
        X = rng.standard_normal((n, D))
        y = X @ rng.standard_normal(D) + rng.standard_normal(n)
        for _ in range(args.rounds):
            for label, (params, kernel, widths) in CONFIGS.items():
                steps.setdefault((label, n), []).append(step_ns(X, y, params, widths))
                kernels.setdefault(label, []).append(kernel_ns(kernel, widths[0]))
        del X, y
    print(f"least squares, d = {D}: ns a step (medians of {args.rounds} interleaved rounds)\n")
    print("| configuration | kernel alone | " + " | ".join(f"step, n = {n}" for n in SIZES) + " | step - kernel, n = "
          f"{SIZES[0]} |")
    print("|---|---:|" + "---:|" * (len(SIZES) + 1))
    med = {key: statistics.median(v) for key, v in steps.items()}
    for label in CONFIGS:
        k = statistics.median(kernels[label])
        cells = " | ".join(f"{med[(label, n)]:.0f}" for n in SIZES)
        print(f"| {label} | {k:.0f} | {cells} | {med[(label, SIZES[0])] - k:.0f} |")
    ref = "SVRG fp32"
    print("\nstep / fp32 SVRG's step: " + "; ".join(
        f"{label}: " + ", ".join(f"{med[(label, n)] / med[(ref, n)]:.2f}" for n in SIZES)
        for label in CONFIGS if label != ref) + f" (n = {', '.join(map(str, SIZES))})")


if __name__ == "__main__":
    main()
