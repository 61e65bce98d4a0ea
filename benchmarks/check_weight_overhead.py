"""What sample weights cost the training loop (not part of the suite).

The same fit, interleaved, without weights and with random integer weights
in 1..4 (none of weight 0: both epochs take the same number of steps, the
weighted one drawing rows in proportion to their weights). Solver seconds per epoch come from
``history_``, so the data path is not counted. A weighted step draws its row
through the alias table (a 16-byte entry read at random, prefetched 16 draws
ahead) and the full pass multiplies each row's derivative by its weight.

    python benchmarks/check_weight_overhead.py [--reps 7]
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np

from lpcore import LowPrecisionRegressor

CASES = {"in cache, 2,000 x 64": (2_000, 64), "out of cache, 1,000,000 x 256": (1_000_000, 256)}
CONFIGS = {"halp 8": dict(bits=8), "halp 16": dict(bits=16), "svrg 32": dict(solver="svrg", bits=32)}


def seconds_per_epoch(params, X, y, w) -> float:
    est = LowPrecisionRegressor(max_iter=3, tol=0, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y, sample_weight=w)
    return float(np.median(est.history_["seconds"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'case':32s} {'solver':8s} {'plain ms/epoch':>15s} {'weighted ms/epoch':>18s} {'weighted/plain':>15s}")
    for case, (n, d) in CASES.items():
        X = rng.standard_normal((n, d), dtype=np.float32)
        y = X @ rng.standard_normal(d).astype(np.float32) + 0.1 * rng.standard_normal(n).astype(np.float32)
        w = rng.integers(1, 5, n).astype(np.float64)
        for name, params in CONFIGS.items():
            plain, weighted = [], []
            for _ in range(args.reps):  # interleaved, so that drift hits both alike
                plain.append(seconds_per_epoch(params, X, y, None))
                weighted.append(seconds_per_epoch(params, X, y, w))
            p, q = statistics.median(plain), statistics.median(weighted)
            print(f"{case:32s} {name:8s} {1e3 * p:15.3f} {1e3 * q:18.3f} {q / p:15.3f}", flush=True)


if __name__ == "__main__":
    main()
