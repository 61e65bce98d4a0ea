"""Where a whole fit() goes: data preparation, inner loops and full-gradient
passes, for the default estimator (D8M16 HALP) and fp32 SVRG (not part of the
suite; docs/performance.md quotes it).

The endtoend benchmark times whole fits in fresh processes; this script
explains its ratios from inside one process, on the same data (its default
least squares and logistic problems, bench_endtoend.make_data). For each
problem, configuration and n_jobs (1, then None: every core), fits run
round by round, interleaved, and each figure is the median over the rounds:

    wall      fit() on the float64 array
    epochs    n_iter_
    inner     an epoch's inner loop (history_["inner_seconds"]), ms
    pass      an epoch's full-gradient pass (history_["seconds"] minus inner), ms
    other     wall minus the epochs' seconds: the data path, the last pass and Python

Then the data path alone: lpcore._data.prepare(X, bits) at 8 bits (the
default's rows; on every core and on one) and at 32 bits (fp32 SVRG's),
against fp32 SVRG's epoch (issue target: the 8-bit preparation at most half
of it), and the 8-bit call into outputs allocated once (what the page faults
of new outputs do not cost).

    python benchmarks/check_fit_breakdown.py [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from bench_endtoend import make_data, problems
from lpcore import LowPrecisionClassifier, LowPrecisionRegressor, _core, _data
from lpcore._memory import empty_large, padded_width

CONFIGS = {"D8M16 HALP (default)": {}, "SVRG fp32": {"solver": "svrg", "bits": 32}}


def fit_once(spec: dict, X, y, params: dict, n_jobs) -> dict:
    cls = LowPrecisionRegressor if spec["kind"] == "least_squares" else LowPrecisionClassifier
    est = cls(alpha=spec["alpha"], random_state=0, n_jobs=n_jobs, **params)
    start = time.perf_counter()
    est.fit(X, y)
    wall = time.perf_counter() - start
    seconds = np.asarray(est.history_["seconds"])
    inner = np.asarray(est.history_["inner_seconds"])
    return {"wall": wall, "epochs": est.n_iter_, "inner": float(np.median(inner)),
            "pass": float(np.median(seconds - inner)), "other": wall - float(seconds.sum())}


def reused_outputs(X):
    """The 8-bit data path's C++ call into outputs allocated (and touched) once:
    _data.prepare less its allocations and their first-touch page faults."""
    n, d = X.shape
    rows = empty_large((n, padded_width(d, 8)), np.int8)
    scale, sq_norm, sq_x, sq_err = np.empty(n, np.float32), np.empty(n), np.empty(n), np.empty(n)
    threads = _data.n_threads(None)

    def call():
        _core.prepare_rows(X, 8, rows, scale=scale, sq_norm=sq_norm, sq_x=sq_x, sq_err=sq_err, n_threads=threads)

    call()
    return call


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = p.parse_args(argv)
    specs = problems("default")
    for name in ("least_squares", "logistic"):
        spec = specs[name]
        X, y = make_data(spec, 0)
        runs: dict[tuple[str, object], list[dict]] = {}
        for _ in range(args.rounds):
            for label, params in CONFIGS.items():
                for n_jobs in (1, None):
                    runs.setdefault((label, n_jobs), []).append(fit_once(spec, X, y, params, n_jobs))
        print(f"## {name}: n = {spec['n']}, d = {spec['d']}, medians of {args.rounds} rounds\n")
        print("| configuration | n_jobs | wall s | epochs | inner ms | pass ms | other ms |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for (label, n_jobs), rs in runs.items():
            med = {k: statistics.median(r[k] for r in rs) for k in ("wall", "inner", "pass", "other")}
            print(f"| {label} | {n_jobs} | {med['wall']:.3f} | {rs[0]['epochs']} | {1e3 * med['inner']:.1f} | "
                  f"{1e3 * med['pass']:.1f} | {1e3 * med['other']:.0f} |")
        prep = {}
        reused = reused_outputs(X)
        for _ in range(args.rounds + 2):
            for bits, n_jobs in ((8, None), (32, None), (8, 1)):
                start = time.perf_counter()
                rows = _data.prepare(X, bits, n_jobs=n_jobs)
                prep.setdefault((bits, n_jobs), []).append(time.perf_counter() - start)
                del rows
            start = time.perf_counter()
            reused()
            prep.setdefault("reused", []).append(time.perf_counter() - start)
        epoch = statistics.median(r["inner"] + r["pass"] for r in runs[("SVRG fp32", None)])
        p8, p32, p8one, p8reused = (statistics.median(prep[k]) for k in ((8, None), (32, None), (8, 1), "reused"))
        print(f"\ndata path (n_jobs=None): 8-bit rows {1e3 * p8:.1f} ms, fp32 rows {1e3 * p32:.1f} ms "
              f"(8-bit rows on one thread: {1e3 * p8one:.1f} ms; into outputs allocated once, no page "
              f"faults: {1e3 * p8reused:.1f} ms); fp32 SVRG epoch {1e3 * epoch:.1f} ms: "
              f"8-bit preparation / fp32 epoch = {p8 / epoch:.2f}\n")


if __name__ == "__main__":
    main()
