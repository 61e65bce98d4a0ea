"""One pass of dask-ml's Incremental over a chunked array: lpcore against SGDClassifier.

    python benchmarks/run.py --only dask

The data (default: 5M x 100 float64, 4 GB, in 20 chunks of 250k rows) are
made chunk by chunk inside the dask graph, labels from a linear model with
noise, y = [x . w + noise > 0]: no chunk exists before dask computes it, so the
array is never in memory at once. Each estimator runs in a fresh process:
``Incremental(est).fit(X, y, classes=[0, 1])`` (one ``partial_fit`` per chunk,
in dask-ml's shuffled chunk order, on dask's threaded scheduler). The table
gives the wall time of that fit, the accuracy on two more chunks held out,
and the process's peak resident memory during the fit above its resident
memory before it (VmHWM after - VmRSS before), against the size of one chunk.
Needs the [dask] extra (``pip install ".[dask]"``); without it the benchmark
is listed as skipped.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import fmt, pick, report, script_main, table

try:
    import dask  # noqa: F401
    import dask_ml  # noqa: F401

    UNAVAILABLE = None
except ModuleNotFoundError:
    UNAVAILABLE = 'needs the [dask] extra: python -m pip install ".[dask]"'  # run.py lists it as skipped

ESTIMATORS = ("lpcore HALP 8-bit", "lpcore SVRG fp32", "sklearn SGDClassifier")


def sizes(size: str) -> dict:
    return pick(size, dict(n=40_000, d=20, chunks=10, repeats=1), dict(n=5_000_000, d=100, chunks=20, repeats=1),
                dict(n=5_000_000, d=100, chunks=20, repeats=3))


def dataset(n: int, d: int, chunks: int, seed: int):
    """(X, y) of n rows in `chunks` chunks, and 2 more chunks held out, as lazy dask arrays."""
    import dask
    import dask.array as da

    rows = n // chunks
    w = np.random.default_rng([seed, 0]).standard_normal(d) / np.sqrt(d)

    def block(k):
        rng = np.random.default_rng([seed, 1, k])
        X = rng.standard_normal((rows, d))
        return X, (X @ w + 0.3 * rng.standard_normal(rows) > 0).astype(np.int64)

    def arrays(first, count):
        parts = [dask.delayed(block)(k) for k in range(first, first + count)]
        X = da.concatenate([da.from_delayed(p[0], (rows, d), np.float64) for p in parts])
        y = da.concatenate([da.from_delayed(p[1], (rows,), np.int64) for p in parts])
        return X, y

    return arrays(0, chunks), arrays(chunks, 2), rows


# Seconds inside each partial_fit call of this process (the threaded scheduler
# runs them here): the training, without the making of the chunks.
PARTIAL_SECONDS: list[float] = []


def timed(cls):
    """cls with its partial_fit timed into PARTIAL_SECONDS (clone keeps the class)."""

    class Timed(cls):
        def partial_fit(self, X, y, **kwargs):
            t0 = time.perf_counter()
            out = super().partial_fit(X, y, **kwargs)
            PARTIAL_SECONDS.append(time.perf_counter() - t0)
            return out

    Timed.__name__ = Timed.__qualname__ = cls.__name__
    return Timed


def estimator(name: str, seed: int):
    if name.startswith("lpcore"):
        from lpcore import LowPrecisionClassifier

        cfg = dict(solver="halp", bits=8) if "HALP" in name else dict(solver="svrg", bits=32)
        return timed(LowPrecisionClassifier)(random_state=seed, **cfg)
    from sklearn.linear_model import SGDClassifier

    return timed(SGDClassifier)(loss="log_loss", random_state=seed)


def status() -> dict[str, int]:
    from bench_endtoend import proc_status

    return proc_status()


def worker(job: dict) -> int:
    """One Incremental fit in this (fresh) process; prints its measurements as JSON."""
    import dask
    from bench_endtoend import reset_peak
    from dask_ml.wrappers import Incremental

    dask.config.set(scheduler="threads")
    (X, y), (X_test, y_test), rows = dataset(job["n"], job["d"], job["chunks"], job["seed"])
    model = Incremental(estimator(job["name"], job["seed"]), random_state=job["seed"])
    exact_peak = reset_peak()
    before = status()["VmRSS"]
    t0 = time.perf_counter()
    model.fit(X, y, classes=[0, 1])
    seconds = time.perf_counter() - t0
    peak = status()["VmHWM"] - before
    accuracy = float(model.score(X_test, y_test))
    print(json.dumps({"seconds": seconds, "partial_fit_seconds": sum(PARTIAL_SECONDS), "calls": len(PARTIAL_SECONDS),
                      "accuracy": accuracy, "peak_bytes": peak, "exact_peak": exact_peak,
                      "chunk_bytes": rows * job["d"] * 8, "n_iter": int(getattr(model.estimator_, "n_iter_", 0))}))
    return 0


def measure(job: dict) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(size: str = "default", seed: int = 0, out_dir: Path | str = ".", progress=None) -> dict:
    t0 = time.perf_counter()
    s = sizes(size)
    results = {}
    total, done = len(ESTIMATORS) * s["repeats"], 0
    for name in ESTIMATORS:
        runs = []
        for _ in range(s["repeats"]):
            runs.append(measure(dict(s, name=name, seed=seed)))
            done += 1
            report(progress, done, total, name)
        ok = [r for r in runs if "error" not in r]
        if not ok:
            results[name] = runs[0]
            continue
        keys = ("seconds", "partial_fit_seconds", "accuracy", "peak_bytes")
        results[name] = {key: statistics.median(r[key] for r in ok) for key in keys}
        results[name].update(chunk_bytes=ok[0]["chunk_bytes"], n_iter=ok[0]["n_iter"], calls=ok[0]["calls"],
                             exact_peak=all(r["exact_peak"] for r in ok), repeats=len(ok))
    sgd = results.get("sklearn SGDClassifier", {})
    rows = []
    for name, r in results.items():
        if "error" in r:
            rows.append([name, "failed: " + r["error"], "", "", "", ""])
            continue
        ratio = fmt(sgd["partial_fit_seconds"] / r["partial_fit_seconds"]) if "partial_fit_seconds" in sgd else "n/a"
        rows.append([name, fmt(r["seconds"]), fmt(r["partial_fit_seconds"]), ratio, f"{r['accuracy']:.4f}",
                     f"{r['peak_bytes'] / 1e6:.0f} MB ({fmt(r['peak_bytes'] / r['chunk_bytes'], 2)} chunks)"])
    chunk_mb = s["n"] // s["chunks"] * s["d"] * 8 / 1e6
    summary = "\n\n".join([
        "## Dask: one pass of Incremental over a chunked array",
        f"{s['n']:,} x {s['d']} float64 ({s['n'] * s['d'] * 8 / 1e9:.2g} GB) in {s['chunks']} chunks of "
        f"{chunk_mb:.0f} MB, made chunk by chunk in the dask graph; each estimator in a fresh process, "
        f"`Incremental(est).fit(X, y, classes=[0, 1])` on dask's threaded scheduler "
        f"({'median of ' + str(s['repeats']) if s['repeats'] > 1 else 'one run'}). fit() includes making the "
        f"chunks (drawing the random data); partial_fit is the time inside the estimator's partial_fit calls, "
        f"the training alone. Accuracy on 2 held-out chunks; peak memory is the process's peak resident memory "
        f"during fit() above its resident memory before.",
        table(["estimator", "fit() s", "partial_fit s", "training speedup vs SGDClassifier", "accuracy",
               "peak extra memory"], rows),
    ])
    line = "; ".join(
        f"{name}: {fmt(r['seconds'])} s ({fmt(r['partial_fit_seconds'])} s training), accuracy {r['accuracy']:.4f}, "
        f"{fmt(r['peak_bytes'] / r['chunk_bytes'], 2)} "
        f"chunks of memory" if "error" not in r else f"{name}: failed" for name, r in results.items())
    return {"size": size, "seed": seed, "sizes": s, "results": results, "summary": summary, "figures": [],
            "line": line, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    sys.exit(script_main(run, __doc__, worker=worker))
