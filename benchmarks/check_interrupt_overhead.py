"""What polling for Ctrl-C costs the training loop (not part of the suite).

The same fit, interleaved, on Python's main thread (where lpcore installs the
signal check: the loops take the GIL back every 2**24 units of work) and on
a worker thread (where it installs none). Solver seconds per epoch come from
``history_``, so the data path is not counted.

    python benchmarks/check_interrupt_overhead.py [--reps 7]

Run it under a build from before the polling existed too: there both columns
measure the loop without any poll, and its "main" column is the baseline for
this build's "main" column.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import warnings

import numpy as np

from lpcore import LowPrecisionRegressor

CASES = {"in cache, 2,000 x 64": (2_000, 64), "out of cache, 200,000 x 256": (200_000, 256)}
CONFIGS = {"halp 8": dict(bits=8), "halp 16": dict(bits=16), "svrg 32": dict(solver="svrg", bits=32)}


def seconds_per_epoch(params, X, y) -> float:
    est = LowPrecisionRegressor(max_iter=3, tol=0, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return float(np.sum(est.history_["seconds"])) / len(est.history_["seconds"])


def on_worker_thread(fn, *args):
    out = []
    worker = threading.Thread(target=lambda: out.append(fn(*args)))
    worker.start()
    worker.join()
    return out[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'case':30s} {'solver':8s} {'main ms/epoch':>14s} {'worker ms/epoch':>16s} {'main/worker':>12s}")
    for case, (n, d) in CASES.items():
        X = rng.standard_normal((n, d), dtype=np.float32)
        y = X @ rng.standard_normal(d).astype(np.float32) + 0.1 * rng.standard_normal(n).astype(np.float32)
        for name, params in CONFIGS.items():
            main_s, worker_s = [], []
            for _ in range(args.reps):  # interleaved, so that drift hits both alike
                main_s.append(seconds_per_epoch(params, X, y))
                worker_s.append(on_worker_thread(seconds_per_epoch, params, X, y))
            m, w = statistics.median(main_s), statistics.median(worker_s)
            print(f"{case:30s} {name:8s} {1e3 * m:14.3f} {1e3 * w:16.3f} {m / w:12.3f}")


if __name__ == "__main__":
    main()
