"""lpcore benchmark suite: the one entry point.

    python benchmarks/run.py                        # the default suite (sized for 5 minutes on 2 cores)
    python benchmarks/run.py --full                 # paper-size settings (no time limit)
    python benchmarks/run.py --only kernels,halp    # selected benchmarks
    python benchmarks/run.py --quick                # tiny sizes: checks the pipeline, measures nothing

The benchmarks, in the order they run:

    kernels     kernel throughput against the measured memory bandwidth (the roofline)
    speedup     per-epoch time of every solver x bits, in and out of cache, against fp32 SVRG
    halp        HALP paper Figure 1, and a condition-number sweep (its Figure 5)
    multiclass  multinomial logistic regression on load_digits: objective, seconds, accuracy
    shrinkage   gradient shrinkage of the low-precision float formats (Yun et al., Figures 1 and 2)
    peers       time to within 1e-4 of the optimum against scikit-learn's solvers
    endtoend    whole fit() calls on float64 data, each in a fresh process: wall time, peak memory, gap
    dask        one pass of dask-ml's Incremental over a chunked array against SGDClassifier (the [dask] extra)

Data are built in: synthetic, or bundled with scikit-learn. Results go to
DIR/results.json (every number, with the machine), DIR/summary.md (the
tables) and one PNG per figure in DIR. A progress bar on stderr follows long
work; each benchmark prints a one-line result on stdout when it finishes.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("kernels", "speedup", "halp", "multiclass", "shrinkage", "peers", "endtoend", "dask")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="paper-size settings: more rounds, epochs and data")
    size.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the pipeline")
    p.add_argument("--only", metavar="NAME[,NAME]", help=f"run only these benchmarks, of: {', '.join(BENCHMARKS)}")
    p.add_argument("--out", metavar="DIR", default="bench-results", help="output directory (default: bench-results)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads for BLAS/OpenMP (and n_jobs of scikit-learn solvers that take it); lpcore's "
                        "estimators keep n_jobs=None (every core for the data path and the full-gradient passes, "
                        "the inner loop on one) whatever N is (default: the libraries' own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and the solvers (default: 0)")
    args = p.parse_args(argv)
    if args.only is not None:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown or not names:
            p.error(f"--only: unknown benchmark {', '.join(map(repr, unknown)) or '(none given)'}; "
                    f"choose from {', '.join(BENCHMARKS)}")
        args.only = [n for n in BENCHMARKS if n in names]  # registry order
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be at least 1; got {args.threads}")
    args.size = "full" if args.full else "tiny" if args.quick else "default"
    return args


def load(name: str):
    """The module benchmarks/bench_<name>.py, or (None, why) if this checkout has none or it says
    what it needs (its UNAVAILABLE)."""
    module = f"bench_{name}"
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:  # the benchmark exists but needs something missing: a real error
            raise
        return None, f"not available: benchmarks/{module}.py is not in this checkout"
    if getattr(loaded, "UNAVAILABLE", None):
        return None, f"not available: {loaded.UNAVAILABLE}"
    return loaded, None


# ---- machine ------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(requested_threads: int | None) -> dict:
    import lpcore
    from threadpoolctl import threadpool_info

    blas = max((p.get("num_threads", 1) for p in threadpool_info()), default=1)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "backend": lpcore.backend(),
        "threads": requested_threads if requested_threads is not None else blas,
        "threads_note": "BLAS/OpenMP threads of numpy and scikit-learn; lpcore's estimators use every core for the "
                        "data path and the full-gradient passes, one for the inner loop",
        "lpcore": lpcore.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


# ---- progress -------------------------------------------------------------------------


class ProgressBar:
    """A one-line text bar on stderr: redrawn in place on a terminal, a line
    every 10% (and at least 2 s apart) in a log."""

    def __init__(self, name: str, stream=sys.stderr, width: int = 30):
        self.name, self.stream, self.width = name, stream, width
        self.tty = stream.isatty()
        self.t0 = time.perf_counter()
        self.last_print, self.last_decile = 0.0, -1

    def __call__(self, *args) -> None:
        # progress(done, total, label): numbers and an optional label, in any order.
        numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        label = " ".join(str(a) for a in args if isinstance(a, str))
        if len(numbers) < 2 or numbers[1] <= 0:
            return
        frac = min(1.0, numbers[0] / numbers[1])
        elapsed = time.perf_counter() - self.t0
        filled = int(round(frac * self.width))
        text = (f"[{self.name}] |{'#' * filled}{'.' * (self.width - filled)}| {100 * frac:3.0f}% "
                f"{elapsed:5.0f} s  {label}")
        if self.tty:
            self.stream.write("\r" + text[:150].ljust(150))
            self.stream.flush()
            return
        decile = int(frac * 10)
        if decile > self.last_decile and (elapsed - self.last_print >= 2.0 or frac >= 1.0):
            self.stream.write(text + "\n")
            self.stream.flush()
            self.last_decile, self.last_print = decile, elapsed

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 150 + "\r")
            self.stream.flush()


# ---- the suite -----------------------------------------------------------------------


def run_one(name: str, module, args, out: Path) -> dict:
    bar = ProgressBar(name)
    t0 = time.perf_counter()
    try:
        result = module.run(args.size, args.seed, out, progress=bar)
    except Exception as e:  # record it, run the rest, fail at the end
        bar.close()
        traceback.print_exc()
        return {"error": f"{type(e).__name__}: {e}", "wall_seconds": time.perf_counter() - t0}
    bar.close()
    result["wall_seconds"] = time.perf_counter() - t0
    return result


def summary_markdown(machine: dict, settings: dict, benchmarks: dict) -> str:
    from _common import table

    rows = []
    for name, r in benchmarks.items():
        if "skipped" in r:
            rows.append([name, None, f"skipped: {r['skipped']}"])
        elif "error" in r:
            rows.append([name, r["wall_seconds"], f"FAILED: {r['error']}"])
        else:
            rows.append([name, r["wall_seconds"], r["line"]])
    parts = [
        "# lpcore benchmark summary",
        f"{machine['date']}: {machine['cpu']} ({machine['cores']} cores), lpcore {machine['lpcore']}, "
        f"{machine['backend']} backend, {machine['threads']} BLAS thread(s), Python {machine['python']}. "
        f"Size: {settings['size']}, seed {settings['seed']}.",
        table(["benchmark", "wall time (s)", "result"], rows, "lrl"),
    ]
    for name, r in benchmarks.items():
        if "summary" in r:
            parts.append(r["summary"])
            parts += [f"![{name}: {f}]({f})" for f in r["figures"]]
    return "\n\n".join(parts) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        # Before numpy is imported (below, by lpcore and the benchmarks): the
        # BLAS and OpenMP pools read these once, at load.
        for var in THREAD_VARIABLES:
            os.environ[var] = str(args.threads)
    sys.path.insert(0, str(HERE))
    names = args.only or list(BENCHMARKS)
    modules = {}
    for name in names:
        modules[name] = load(name)
        if modules[name][0] is None and args.only:
            print(f"error: benchmark {name!r} is {modules[name][1]}", file=sys.stderr)
            return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    machine = machine_info(args.threads)
    settings = {"size": args.size, "seed": args.seed, "only": args.only, "threads": args.threads}
    print(f"lpcore {machine['lpcore']} on {machine['cpu']} ({machine['backend']} backend), "
          f"size {args.size}: {', '.join(names)}", flush=True)
    benchmarks = {}
    for name in names:
        module, why = modules[name]
        if module is None:
            benchmarks[name] = {"skipped": why}
            print(f"[{name}] skipped: {why}", flush=True)
            continue
        benchmarks[name] = r = run_one(name, module, args, out)
        outcome = f"FAILED: {r['error']}" if "error" in r else r["line"]
        print(f"[{name}] {r['wall_seconds']:.0f} s: {outcome}", flush=True)

    from _common import plain

    results = {"machine": machine, "settings": settings, "benchmarks": benchmarks}
    (out / "results.json").write_text(json.dumps(plain(results), indent=2, allow_nan=False))
    (out / "summary.md").write_text(summary_markdown(machine, settings, benchmarks))
    total = sum(r.get("wall_seconds", 0.0) for r in benchmarks.values())
    print(f"wrote {out / 'results.json'}, {out / 'summary.md'} and the figures ({total:.0f} s in all)")
    return 1 if any("error" in r for r in benchmarks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
