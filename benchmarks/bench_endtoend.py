"""End to end: whole fit() calls on float64 NumPy data, their wall time and peak memory.

What a user sees: X a float64 array in RAM, one call to fit(), default
settings. Every configuration fits the same data and penalty:

    lpcore HALP       LowPrecisionRegressor() / LowPrecisionClassifier() at three (data, model)
                      widths: D8M8 (bits=8), D8M16 (bits=16 on 8-bit rows) and D16M16
                      (data_bits=16); the default's row (D8M16) runs with no width set
    lpcore SVRG fp32  solver="svrg", bits=32: the reference, every ratio is to its wall time in this run
    scikit-learn      least squares: Ridge(solver="sag"), Ridge(solver="saga"), Ridge(solver="cholesky")
                      (a direct solve) and SGDRegressor; logistic: LogisticRegression(solver="lbfgs"),
                      LogisticRegression(solver="saga") and SGDClassifier(loss="log_loss")

lpcore runs with only random_state and tol set (and alpha, the problem's
penalty, which is lpcore's default 1e-4 except on --full's ill-conditioned
case). tol is the same for the three: lpcore's default 1e-4 (the full-gradient
norm relative to its start), which puts a converged fit far below the gap
target on these problems (about 1e-8), so none needs a smaller one; a fit that
stops at max_iter first (a ConvergenceWarning, in the table's note) shows its
gap as it is. The scikit-learn peers run with their defaults except the
penalty, mapped as in bench_peers.py: Ridge(alpha=alpha n),
LogisticRegression(C=1/(alpha n)), SGD*(alpha=alpha). On the multinomial
problem SGDClassifier fits one-vs-rest, a different model; its gap on the
multinomial objective is shown for what it is.

Problems: least squares (make_regression, noise at half the signal's spread),
binary logistic (make_classification, half the features informative, 5%
flipped labels) and multinomial logistic (the same with 5 classes), each
standardized and rounded once to lpcore's 8-bit per-row grid
(_common.eight_bit_data), so that every solver minimizes exactly the same
function. Sizes: 250,000 x 200 (50M elements, 400 MB as float64) for least
squares and logistic and 50,000 x 100 for multinomial by default; 1,000,000 x
256, 200,000 x 100 and the issue's ill-conditioned logistic case
(make_classification(300_000, 200) with its defaults: 2 informative and 2
redundant features, alpha = 1e-3) with --full; 2,000 x 20 with --quick. Each
fit reports the relative objective gap (f - f*)/f* it reached, f evaluated
here in float64 from coef_ and intercept_ (the objectives of _common); f* is
the float64 normal equations' optimum for least squares and
LogisticRegression(lbfgs, tol=1e-12) for logistic, or any lower objective a
fit reached. The target is 1e-4, as in bench_peers.py; a fit above it is
reported as not reached, with its gap.

Method. The data are generated once per problem and written to a temporary
.npy file (deleted afterwards; nothing is cached between runs). Each measured
fit runs in a fresh Python process (this file with --worker) that loads the
file into RAM as float64, imports the estimator's library, fits a copy of
the estimator on 10 rows (a warm-up: imports and first-call costs are not
counted), then reads its resident set size, resets its peak (writing "5" to
/proc/self/clear_refs; if the kernel refuses, the peak before the fit is the
baseline instead), times est.fit(X, y) with time.perf_counter and reads the
peak (VmHWM) again. Peak extra memory = peak during fit() - resident size
before it; per element = that / X.size (X itself, 8 bytes per element, is
already resident and not counted). A fit() that runs past the size's time
limit (8 s by default, for the suite's time budget; 900 s with --full) is
stopped and reported as "> limit", with the peak it had reached. The reported
time is the median of the repeats, each in its own process: 3 with --full,
and 1 by default, where three would not fit the suite's five minutes. With
--quick (a smoke test that measures nothing) all fits of a problem share one
worker process, to keep the check to seconds.

--full adds data larger than RAM would hold as floats: a float64 np.memmap
of at least 4 GiB on disk (written in chunks and dropped from the page cache,
so the fit reads it from disk), fitted by the default (D8M16: 8-bit rows)
LowPrecisionRegressor in a fresh process, whose peak anonymous memory
(RssAnon, sampled every 5 ms during fit()) is reported per element; an in-RAM
fit of the file's first eighth is the comparison, in seconds per element.

    python benchmarks/bench_endtoend.py [--size tiny|default|full] [--problems NAME[,NAME]] [--out DIR]
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (eight_bit_data, fmt, logistic_objective, multinomial_objective, pick, pyplot, report,
                     ridge_optimum, save, script_main, squared_objective, table)

TARGET = 1e-4
TOL = 1e-4  # lpcore's default tol
REFERENCE = "lpcore SVRG fp32"
WARMUP_ROWS = 10
MIB = 1 << 20
MEMMAP_BYTES = 4 << 30  # --full: the float64 np.memmap on disk


def n_jobs() -> int | None:
    """The runner's --threads (it sets OMP_NUM_THREADS), for SGDClassifier's one-vs-rest fits."""
    value = os.environ.get("OMP_NUM_THREADS")
    return int(value) if value and value.isdigit() else None


# ---- problems -------------------------------------------------------------------------


def problems(size: str) -> dict[str, dict]:
    """name -> kind, n, d, alpha (and classes) of each problem at this size."""
    ls = {"kind": "least_squares", "alpha": 1e-4}
    lg = {"kind": "logistic", "alpha": 1e-4}
    mn = {"kind": "multinomial", "alpha": 1e-4, "classes": 5}
    tiny = {"least_squares": {**ls, "n": 2000, "d": 20}, "logistic": {**lg, "n": 2000, "d": 20},
            "multinomial": {**mn, "n": 2000, "d": 20}}
    default = {"least_squares": {**ls, "n": 250_000, "d": 200}, "logistic": {**lg, "n": 250_000, "d": 200},
               "multinomial": {**mn, "n": 50_000, "d": 100}}
    full = {"least_squares": {**ls, "n": 1_000_000, "d": 256}, "logistic": {**lg, "n": 1_000_000, "d": 256},
            # The case: make_classification's defaults (2 informative features, 2 redundant
            # linear combinations of them, 196 noise features), so the Hessian is ill-conditioned.
            "logistic_redundant": {"kind": "logistic", "alpha": 1e-3, "n": 300_000, "d": 200, "defaults": True},
            "multinomial": {**mn, "n": 200_000, "d": 100}}
    return pick(size, tiny, default, full)


def make_data(spec: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standardized data on the 8-bit grid (float64) and the targets."""
    from sklearn.datasets import make_classification, make_regression
    from sklearn.preprocessing import StandardScaler

    n, d = spec["n"], spec["d"]
    if spec["kind"] == "least_squares":
        X, y = make_regression(n_samples=n, n_features=d, n_informative=d, random_state=seed)
        # Noise at half the signal's spread, so f* is not ~0 (as in bench_peers.py).
        y = y + np.random.default_rng(seed).normal(scale=0.5 * y.std(), size=n)
        y = (y - y.mean()) / y.std()
    elif spec.get("defaults"):
        X, y = make_classification(n_samples=n, n_features=d, random_state=seed)
    else:
        # shuffle=False and a permutation of the rows here: the same data up to the order of the
        # columns, in a third of the time (make_classification's own shuffle is slow at this size).
        X, y = make_classification(n_samples=n, n_features=d, n_informative=d // 2, n_redundant=0, flip_y=0.05,
                                   n_classes=spec.get("classes", 2), shuffle=False, random_state=seed)
        order = np.random.default_rng(seed).permutation(n)
        X, y = X[order], y[order]
    return eight_bit_data(StandardScaler(copy=False).fit_transform(X)), y


def objective(spec: dict, X, y, coef, intercept) -> float:
    if spec["kind"] == "least_squares":
        return squared_objective(X, y, coef, intercept, spec["alpha"])
    if spec["kind"] == "logistic":
        return logistic_objective(X, np.where(y == 1, 1.0, -1.0), coef, intercept, spec["alpha"])
    return multinomial_objective(X, y, coef, intercept, spec["alpha"])


def exact_objective(spec: dict, X, y) -> tuple[float, str]:
    """The optimum's objective in float64, and how it was found."""
    if spec["kind"] == "least_squares":
        w, b = ridge_optimum(X, y, spec["alpha"])
        return objective(spec, X, y, w, b), "float64 normal equations"
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = LogisticRegression(C=1 / (spec["alpha"] * len(y)), tol=1e-12, max_iter=100_000).fit(X, y)
    return objective(spec, X, y, exact.coef_, exact.intercept_), "LogisticRegression(lbfgs, tol=1e-12)"


# HALP's (bits, data_bits) pairs: model and data at 8 bits, the 16-bit model on
# 8-bit rows (D8M16), and both at 16 bits.
HALP_WIDTHS = [(8, 8), (16, 8), (16, 16)]


def default_widths() -> tuple[int, int]:
    """(bits, data_bits) of the default estimators, as they resolve data_bits="auto"."""
    from lpcore import LowPrecisionClassifier, LowPrecisionRegressor
    from lpcore._solver import data_width

    pairs = set()
    for cls in (LowPrecisionRegressor, LowPrecisionClassifier):
        est = cls()
        assert est.solver == "halp", "the table labels the default as HALP"
        pairs.add((est.bits, data_width(est.data_bits, est.bits)))
    (pair,) = pairs  # both estimators share their defaults
    return pair


def configurations(spec: dict, seed: int) -> dict[str, tuple[str, dict]]:
    """label -> (estimator class path, parameters), lpcore's first."""
    n, alpha = spec["n"], spec["alpha"]
    lp = "lpcore.LowPrecisionRegressor" if spec["kind"] == "least_squares" else "lpcore.LowPrecisionClassifier"
    common = {"alpha": alpha, "tol": TOL, "random_state": seed}
    default = default_widths()
    out = {}
    for bits, data_bits in HALP_WIDTHS:  # the default's parameters are left to the estimator
        params = common if (bits, data_bits) == default else {**common, "bits": bits, "data_bits": data_bits}
        out[f"lpcore D{data_bits}M{bits} HALP" + (" (default)" if (bits, data_bits) == default else "")] = (lp, params)
    out[REFERENCE] = (lp, {**common, "solver": "svrg", "bits": 32})
    if spec["kind"] == "least_squares":
        for solver in ("sag", "saga"):
            out[f"Ridge {solver}"] = ("sklearn.linear_model.Ridge",
                                      {"alpha": alpha * n, "solver": solver, "random_state": seed})
        out["Ridge cholesky (direct)"] = ("sklearn.linear_model.Ridge", {"alpha": alpha * n, "solver": "cholesky"})
        out["SGDRegressor"] = ("sklearn.linear_model.SGDRegressor", {"alpha": alpha, "random_state": seed})
    else:
        out["LogisticRegression lbfgs"] = ("sklearn.linear_model.LogisticRegression", {"C": 1 / (alpha * n)})
        out["LogisticRegression saga"] = ("sklearn.linear_model.LogisticRegression",
                                          {"C": 1 / (alpha * n), "solver": "saga", "random_state": seed})
        out["SGDClassifier log_loss"] = ("sklearn.linear_model.SGDClassifier",
                                         {"loss": "log_loss", "alpha": alpha, "random_state": seed, "n_jobs": n_jobs()})
    return out


# ---- the worker: one fit in a fresh process --------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) * 1024
    return out


def reset_peak() -> bool:
    """Reset this process's VmHWM to its VmRSS (Linux: clear_refs 5); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    s = proc_status()
    return s["VmHWM"] <= s["VmRSS"]


def warmup_rows(y: np.ndarray, classify: bool) -> np.ndarray:
    """WARMUP_ROWS rows, with every class among them when classifying."""
    rows = set(range(min(WARMUP_ROWS, len(y))))
    if classify:
        rows |= set(np.unique(y, return_index=True)[1].tolist())
    return np.array(sorted(rows))


def worker(jobs: list[dict]) -> int:
    """Load the data, then per job: warm up, print READY, time one fit, print RESULT.

    One job per process, except at tiny size (a smoke test), where all fits of
    a problem share one process to keep the check to seconds.
    """
    import gc
    import importlib
    import threading

    first = jobs[0]
    if first.get("address_space_limit"):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (first["address_space_limit"], first["address_space_limit"]))
    X = np.load(first["X"], mmap_mode="r" if first.get("mmap") else None)
    if first.get("rows"):
        X = np.array(X[: first["rows"]])  # the first rows, in RAM
    y = np.load(first["y"])[: X.shape[0]]
    rows = warmup_rows(y, first["classify"])
    for job in jobs:
        module, name = job["estimator"].rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls(**job["params"]).fit(np.asarray(X[rows]), y[rows])
        est = cls(**job["params"])
        gc.collect()
        before = proc_status()
        hwm_reset = reset_peak()
        base = proc_status()

        peak_anon = [base["RssAnon"]]
        stop = threading.Event()

        def sample(peak=peak_anon, stop=stop):
            while not stop.wait(0.005):
                peak[0] = max(peak[0], proc_status()["RssAnon"])

        sampler = threading.Thread(target=sample, daemon=True) if job.get("sample_anon") else None
        print("READY " + json.dumps({"rss": base["VmRSS"], "hwm": base["VmHWM"], "anon": base["RssAnon"]}),
              flush=True)
        if sampler:
            sampler.start()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                t0 = time.perf_counter()
                est.fit(X, y)
                wall = time.perf_counter() - t0
            except Exception as e:  # MemoryError under the address-space limit, DivergenceError, ...
                wall, error = None, f"{type(e).__name__}: {str(e)[:300]}"
            else:
                error = None
        after = proc_status()
        if sampler:
            stop.set()
            sampler.join()
            peak_anon[0] = max(peak_anon[0], after["RssAnon"])
        n_iter = getattr(est, "n_iter_", None)
        if error is None:
            np.savez(job["coef_out"], coef=np.asarray(est.coef_, dtype=np.float64),
                     intercept=np.asarray(est.intercept_, dtype=np.float64))
        result = {
            "seconds": wall, "hwm_reset": hwm_reset,
            "rss_before_bytes": before["VmRSS"], "baseline_bytes": base["VmHWM"],
            "peak_extra_bytes": max(0, after["VmHWM"] - base["VmHWM"]),
            "rss_anon_before_bytes": base["RssAnon"], "rss_anon_after_bytes": after["RssAnon"],
            "peak_anon_extra_bytes": max(0, peak_anon[0] - base["RssAnon"]) if sampler else None,
            "n_iter": None if n_iter is None else int(np.max(n_iter)),
            "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:160]}" for w in caught}),
            "n_elements": int(X.size),
        }
        if error is not None:
            result["error"] = error
        print("RESULT " + json.dumps(result), flush=True)
        del est
    return 0


def measure(jobs: list[dict], tmp: Path, limit: float) -> list[dict]:
    """The jobs' fits in one fresh process (this file, --worker); a fit() still running after
    limit seconds is stopped, with the peak it had reached, and the jobs after it are not run."""
    import queue
    import threading

    stderr_path = tmp / "worker.stderr"
    results = []
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(jobs)],
                                stdout=subprocess.PIPE, stderr=err, text=True)
        lines: queue.Queue = queue.Queue()

        def pump():
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

        def died(when):
            proc.wait()
            return {"error": f"worker exited ({proc.returncode}) {when}: {stderr_path.read_text()[-500:].strip()}"}

        for _ in jobs:
            line = lines.get()  # loading and the warm-up: no limit
            while line is not None and not line.startswith("READY "):
                line = lines.get()
            if line is None:
                results.append(died("before the fit"))
                break
            ready = json.loads(line[6:])
            deadline = time.monotonic() + limit
            try:
                line = lines.get(timeout=limit)
                while line is not None and not line.startswith("RESULT "):
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                try:
                    hwm = proc_status(proc.pid)["VmHWM"]
                except (OSError, KeyError):
                    hwm = None
                proc.kill()
                proc.wait()
                results.append({"timed_out": True, "seconds": None, "limit_seconds": limit,
                                "peak_extra_bytes": None if hwm is None else max(0, hwm - ready["hwm"])})
                break
            if line is None:
                results.append(died("during the fit"))
                break
            results.append(json.loads(line[7:]))
        proc.wait()
    results += [{"error": "not run: an earlier fit in its process failed or was stopped"}] * (len(jobs) - len(results))
    return results


# ---- one problem ----------------------------------------------------------------------


def run_problem(name: str, spec: dict, seed: int, repeats: int, limit: float, fresh: bool, tmp: Path, progress,
                step: int, total: int) -> tuple[dict, int]:
    t0 = time.perf_counter()
    X, y = make_data(spec, seed)
    data_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    f_exact, f_source = exact_objective(spec, X, y)
    exact_seconds = time.perf_counter() - t0
    x_path, y_path = tmp / "X.npy", tmp / "y.npy"
    np.save(x_path, X)
    np.save(y_path, y)
    step += 1
    report(progress, step, total, f"{name}: data")
    jobs = {label: {"estimator": estimator, "params": params, "X": str(x_path), "y": str(y_path),
                    "coef_out": str(tmp / f"coef{i}.npz"), "classify": spec["kind"] != "least_squares"}
            for i, (label, (estimator, params)) in enumerate(configurations(spec, seed).items())}
    runs: dict[str, list] = {label: [] for label in jobs}
    failed: dict[str, dict] = {}
    try:
        if fresh:  # every fit in its own process
            for label, job in jobs.items():
                for _ in range(repeats):
                    r = measure([job], tmp, limit)[0]
                    step += 1
                    report(progress, step, total, f"{name}: {label}")
                    if r.get("timed_out") or "error" in r:
                        failed[label] = r
                        step += repeats - len(runs[label]) - 1
                        break
                    runs[label].append(r)
        else:  # tiny: one process for all (a smoke test of the same code)
            for label, r in zip(jobs, measure(list(jobs.values()), tmp, limit)):
                if r.get("timed_out") or "error" in r:
                    failed[label] = r
                else:
                    runs[label].append(r)
            step += len(jobs) * repeats
            report(progress, step, total, f"{name}: all configurations")
        configs = {}
        for label, job in jobs.items():
            entry = {"estimator": job["estimator"], "params": job["params"], "runs": runs[label]}
            if label in failed:
                r = failed[label]
                entry.update({k: v for k, v in r.items() if k in ("timed_out", "limit_seconds", "error")})
                if r.get("timed_out"):
                    entry["peak_extra_bytes"] = r["peak_extra_bytes"]
            else:
                fitted = np.load(job["coef_out"])
                first = runs[label][0]
                entry.update({
                    "seconds": statistics.median(x["seconds"] for x in runs[label]),
                    "n_iter": first["n_iter"],
                    "objective": objective(spec, X, y, fitted["coef"], fitted["intercept"]),
                    "peak_extra_bytes": max(x["peak_extra_bytes"] for x in runs[label]),
                    "rss_anon_after_bytes": first["rss_anon_after_bytes"] - first["rss_anon_before_bytes"],
                    "hwm_reset": all(x["hwm_reset"] for x in runs[label]),
                    "warnings": first["warnings"],
                })
            if entry.get("peak_extra_bytes") is not None:
                entry["bytes_per_element"] = entry["peak_extra_bytes"] / X.size
            configs[label] = entry
    finally:
        for path in [x_path, y_path] + [Path(job["coef_out"]) for job in jobs.values()]:
            path.unlink(missing_ok=True)
    f_star = min([f_exact] + [c["objective"] for c in configs.values() if "objective" in c])
    ref = configs[REFERENCE].get("seconds")
    for c in configs.values():
        if "objective" in c:
            c["gap"] = (c["objective"] - f_star) / abs(f_star)
            c["reached"] = c["gap"] <= TARGET
        if ref:
            if c.get("seconds") is not None:
                c["ratio_to_reference"] = c["seconds"] / ref
            elif c.get("timed_out"):
                c["ratio_lower_bound"] = c["limit_seconds"] / ref
    return {**spec, "elements": int(X.size), "x_bytes": int(X.nbytes), "data_seconds": data_seconds,
            "f_exact": f_exact, "f_exact_source": f_source, "exact_seconds": exact_seconds, "f_star": f_star,
            "configs": configs}, step


# ---- item 6 (--full): data larger than RAM as floats --------------------------------------


def out_of_core(seed: int, nbytes: int, tmp: Path, limit: float, d: int = 200, chunk_rows: int = 50_000) -> dict:
    """Fit the default regressor (8-bit rows) on a float64 np.memmap of at least nbytes on disk."""
    n = -(-nbytes // (8 * d))
    size = n * d * 8
    free = shutil.disk_usage(tmp).free
    if free < 2 * size:
        return {"skipped": f"{free / 2**30:.1f} GiB free on {tmp}, under twice the {size / 2**30:.1f} GiB memmap"}
    x_path, y_path, coef_path = tmp / "X_memmap.npy", tmp / "y_memmap.npy", tmp / "coef_memmap.npz"
    try:
        t0 = time.perf_counter()
        rng = np.random.default_rng(seed)
        w = rng.normal(size=d) / math.sqrt(d)
        header = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float64, shape=(n, d))  # a sparse file
        offset = header.offset
        del header
        y = np.empty(n)
        with open(x_path, "r+b") as f:  # written in chunks: the parent never holds the array
            f.seek(offset)
            for start in range(0, n, chunk_rows):
                rows = min(chunk_rows, n - start)
                chunk = rng.standard_normal((rows, d))
                y[start:start + rows] = chunk @ w + 0.5 * rng.standard_normal(rows)
                f.write(chunk.tobytes())
            f.flush()
            os.fsync(f.fileno())
            if hasattr(os, "posix_fadvise"):  # out of the page cache: the fit reads the disk
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        np.save(y_path, y)
        write_seconds = time.perf_counter() - t0
        mem_available = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                             if line.startswith("MemAvailable"))
        job = {"estimator": "lpcore.LowPrecisionRegressor", "params": {"tol": TOL, "random_state": seed},
               "X": str(x_path), "y": str(y_path), "coef_out": str(coef_path), "classify": False,
               "sample_anon": True,
               # A copy too large for this machine ends in MemoryError, not in the OOM killer.
               "address_space_limit": int(size + 0.8 * mem_available)}
        mapped = measure([{**job, "mmap": True}], tmp, limit)[0]
        in_ram = measure([{**job, "mmap": True, "rows": n // 8}], tmp, limit)[0]
    finally:
        for path in (x_path, y_path, coef_path):
            path.unlink(missing_ok=True)
    out = {"n": n, "d": d, "file_bytes": size, "write_seconds": write_seconds, "chunk_rows": chunk_rows,
           "memmap": mapped, "in_ram": {**in_ram, "rows": n // 8}}
    for key, rows in (("memmap", n), ("in_ram", n // 8)):
        r = out[key]
        if r.get("seconds"):
            r["seconds_per_element"] = r["seconds"] / (rows * d)
        if r.get("peak_anon_extra_bytes") is not None:
            r["anon_bytes_per_element"] = r["peak_anon_extra_bytes"] / (rows * d)
    return out


def format_out_of_core(r: dict) -> str:
    head = ("### Out of core: a float64 np.memmap on disk (the path of data larger than RAM as floats), "
            "default LowPrecisionRegressor (D8M16: 8-bit rows)")
    if "skipped" in r:
        return f"{head}\n\nSkipped: {r['skipped']}."
    rows = []
    for key, label, n in (("memmap", "np.memmap on disk", r["n"]),
                          ("in_ram", "in RAM (first eighth)", r["in_ram"]["rows"])):
        x = r[key]
        note = "stopped at the time limit" if x.get("timed_out") else x.get("error", "")
        rows.append([label, n, x.get("seconds"), x.get("seconds_per_element"), x.get("n_iter"),
                     None if x.get("peak_anon_extra_bytes") is None else x["peak_anon_extra_bytes"] / MIB,
                     x.get("anon_bytes_per_element"), note])
    return "\n\n".join([
        head,
        f"{r['n']} x {r['d']} float64 = {r['file_bytes'] / 2**30:.2f} GiB, written in chunks of {r['chunk_rows']} "
        f"rows in {fmt(r['write_seconds'])} s and dropped from the page cache (posix_fadvise) before the fit. "
        "Peak anonymous memory (RssAnon, sampled every 5 ms) above the process's before fit(); the mapped file's "
        "pages are file-backed and not counted. The target is about 1 byte per element plus one chunk.",
        table(["X", "rows", "wall (s)", "s / element", "n_iter", "peak RssAnon extra (MB)", "bytes / element",
               "note"], rows, "lrrrrrrl")])


# ---- report ----------------------------------------------------------------------------


def note(label: str, spec: dict, c: dict) -> str:
    if "error" in c:
        return f"failed: {c['error'][:120]}"
    if c.get("timed_out"):
        return f"stopped at the {fmt(c['limit_seconds'])} s limit (peak so far)"
    tiny = "; tiny size: all fits of a problem in one process, a smoke test that measures nothing"
    parts = []
    if label == REFERENCE:
        parts.append("reference")
    if not c["reached"]:
        parts.append(f"not reached ({fmt(TARGET)})")
    if any(w.startswith("ConvergenceWarning") for w in c["warnings"]):
        parts.append("ConvergenceWarning")
    if spec["kind"] == "multinomial" and label.startswith("SGDClassifier"):
        parts.append("one-vs-rest: a different model")
    return ", ".join(parts)


def format_table(results: dict) -> str:
    rows = []
    for name, res in results.items():
        for label, c in res["configs"].items():
            ratio = c.get("ratio_to_reference")
            if ratio is None and c.get("ratio_lower_bound") is not None:
                ratio = f"> {fmt(c['ratio_lower_bound'])}"
            seconds = c.get("seconds")
            if seconds is None and c.get("timed_out"):
                seconds = f"> {fmt(c['limit_seconds'])}"
            peak = c.get("peak_extra_bytes")
            rows.append([f"**{label}**" if label == REFERENCE else label, name.replace("_", " "), seconds, ratio,
                         c.get("n_iter"), c.get("gap"), None if peak is None else peak / MIB,
                         c.get("bytes_per_element"), note(label, res, c)])
    return table(["configuration", "problem", "wall (s)", "wall / fp32 SVRG", "n_iter", "(f - f*)/f*",
                  "peak extra (MB)", "bytes / element of X", "note"], rows, "llrrrrrrl")


def plot(results: dict, out_dir: Path) -> str:
    """Per problem: wall time (log) and peak extra bytes per element of X, side by side."""
    plt = pyplot()
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(len(results), 2, figsize=(12, 2.9 * len(results)), squeeze=False)
    for (ax_t, ax_m), (name, res) in zip(axes, results.items()):
        labels = list(res["configs"])
        configs = [res["configs"][k] for k in labels]
        colors = ["tab:orange" if k == REFERENCE else "tab:purple" if k.startswith("lpcore") else "tab:gray"
                  for k in labels]
        ticks = [f"{k} (reference)" if k == REFERENCE else k for k in labels]
        ref = res["configs"][REFERENCE]
        seconds = [c.get("seconds") or (c["limit_seconds"] if c.get("timed_out") else 0.0) for c in configs]
        bars = ax_t.barh(range(len(labels)), seconds, color=colors)
        for i, c in enumerate(configs):
            if c.get("timed_out"):
                bars[i].set_hatch("//")
                ax_t.text(seconds[i], i, "  > limit", va="center", fontsize="small")
            elif "error" in c:
                ax_t.text(ax_t.get_xlim()[0], i, "  failed", va="center", fontsize="small")
            elif not c["reached"]:
                ax_t.text(seconds[i], i, f"  gap {fmt(c['gap'], 2)}", va="center", fontsize="small")
        if ref.get("seconds"):
            ax_t.axvline(ref["seconds"], color="tab:orange", linestyle="--", linewidth=1)
        ax_t.set_xscale("log")
        lo, hi = ax_t.get_xlim()
        ax_t.set_xlim(lo, hi * 4)  # room for the notes
        ax_t.xaxis.set_minor_formatter(NullFormatter())
        ax_t.set_yticks(range(len(labels)), ticks, fontsize="small")
        ax_t.invert_yaxis()
        ax_t.set_xlabel("wall time of fit() (s, log scale)")
        ax_t.set_title(f"{name.replace('_', ' ')} (n={res['n']}, d={res['d']}, alpha={res['alpha']:g})")
        per = [c.get("bytes_per_element") or 0.0 for c in configs]
        bars = ax_m.barh(range(len(labels)), per, color=colors)
        for i, c in enumerate(configs):
            if c.get("timed_out"):
                bars[i].set_hatch("//")
            if c.get("bytes_per_element") is not None:
                ax_m.text(per[i], i, f" {fmt(per[i], 2)}{' so far' if c.get('timed_out') else ''}", va="center",
                          fontsize="small")
        if ref.get("bytes_per_element") is not None:
            ax_m.axvline(ref["bytes_per_element"], color="tab:orange", linestyle="--", linewidth=1)
        ax_m.set_xlim(0, max(per + [1.0]) * 1.2)
        ax_m.set_yticks(range(len(labels)), [""] * len(labels))
        ax_m.invert_yaxis()
        ax_m.set_xlabel("peak extra memory during fit() (bytes per element of X)")
        ax_m.set_title("peak extra memory (X itself is 8 bytes per element)")
    return save(fig, out_dir, "endtoend_time_memory.png")


def run(size: str = "default", seed: int = 0, out_dir: Path | str = ".", progress=None,
        select: list[str] | None = None) -> dict:
    """``select``: run only these of the size's problems ("memmap": --full's out-of-core fit)."""
    t0 = time.perf_counter()
    specs = problems(size)
    with_memmap = size == "full"
    if select is not None:
        known = list(specs) + (["memmap"] if with_memmap else [])
        unknown = [name for name in select if name not in known]
        if unknown:
            raise ValueError(f"unknown problem(s) {', '.join(unknown)} at size {size}; the problems are {', '.join(known)}")
        specs = {name: spec for name, spec in specs.items() if name in select}
        with_memmap = with_memmap and "memmap" in select
    repeats = pick(size, 1, 1, 3)
    limit = pick(size, 60.0, 8.0, 900.0)  # seconds of one fit() before it is stopped
    total = sum(1 + repeats * len(configurations(s, seed)) for s in specs.values()) + with_memmap
    results, step = {}, 0
    with tempfile.TemporaryDirectory(prefix="lpcore-endtoend-") as tmp:
        for name, spec in specs.items():
            results[name], step = run_problem(name, spec, seed, repeats, limit, size != "tiny", Path(tmp), progress,
                                              step, total)
        big = out_of_core(seed, MEMMAP_BYTES, Path(tmp), 1800.0) if with_memmap else None
        if big is not None:
            report(progress, total, total, "memmap")
    figures = [plot(results, Path(out_dir))]
    heads = []
    for name, res in results.items():
        heads.append(f"{name.replace('_', ' ')}: n = {res['n']}, d = {res['d']} "
                     f"({res['elements'] / 1e6:.3g}M elements, "
                     f"{res['x_bytes'] / 1e6:.0f} MB as float64), alpha = {res['alpha']:g}; data built in "
                     f"{fmt(res['data_seconds'])} s, f* = {res['f_star']:.6g} ({res['f_exact_source']}, "
                     f"{fmt(res['exact_seconds'])} s, or a lower objective a fit reached)")
    tiny = "; tiny size: all fits of a problem in one process, a smoke test that measures nothing"
    parts = [
        "## End to end: whole fit() calls on float64 data, time and peak memory",
        f"Each fit() in a fresh process on a float64 array in RAM; the wall time of fit() alone "
        f"({'median of ' + str(repeats) if repeats > 1 else 'one fit per configuration, for the time budget'}"
        f"{tiny if size == 'tiny' else ''}), "
        f"its peak extra resident memory (VmHWM after - VmRSS before; X itself, 8 bytes per element, is not "
        f"counted) and the relative gap (f - f*)/f* it reached, evaluated in float64 (target {TARGET:g}). "
        f"lpcore runs with tol={TOL:g}; the ratios are to lpcore SVRG fp32 in this run. A fit still running "
        f"after {fmt(limit)} s is stopped (its wall time is then a lower bound).",
        "\n".join(f"* {h}" for h in heads),
        format_table(results),
    ]
    if big is not None:
        parts.append(format_out_of_core(big))
    summary = "\n\n".join(parts)

    def outcome(name):
        res = results[name]
        c = res["configs"]
        ref = c[REFERENCE]
        lp = [k for k in c if k.startswith("lpcore") and k != REFERENCE]
        bits = [f"{k.split(' ')[1]} {fmt(c[k]['ratio_to_reference'])}x" if c[k].get("ratio_to_reference")
                else f"{k.split(' ')[1]} n/a" for k in lp]
        bpe = "/".join(fmt(c[k].get("bytes_per_element"), 2) for k in lp + [REFERENCE])
        reached = sum(bool(x.get("reached")) for x in c.values())
        return (f"{name.replace('_', ' ')}: fp32 SVRG {fmt(ref.get('seconds'))} s, " + ", ".join(bits)
                + f", {bpe} B/element; {reached}/{len(c)} reached {TARGET:g}")

    line = "; ".join(outcome(name) for name in results)
    if big is not None:
        m, r = big.get("memmap", {}), big.get("in_ram", {})
        if "skipped" in big:
            line += f"; memmap skipped ({big['skipped']})"
        elif (m.get("anon_bytes_per_element") is not None and m.get("seconds_per_element")
              and r.get("seconds_per_element")):
            line += (f"; {big['file_bytes'] / 2**30:.1f} GiB memmap: {fmt(m['anon_bytes_per_element'], 2)} B/element "
                     f"anonymous peak, {fmt(m['seconds_per_element'] / r['seconds_per_element'])}x the in-RAM "
                     f"seconds per element")
        else:
            line += f"; memmap fit: {m.get('error') or 'stopped at the time limit'}"
    return {"size": size, "seed": seed, "target": TARGET, "tol": TOL, "repeats": repeats, "limit_seconds": limit,
            "n_jobs": n_jobs(), "problems": results, "out_of_core": big, "summary": summary, "figures": figures,
            "line": line, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    sys.exit(script_main(run, __doc__, worker=worker, select=True))
