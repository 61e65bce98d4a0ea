"""lpcore benchmark suite: the one entry point.

    python benchmarks/run.py                 # the default suite
    python benchmarks/run.py --quick         # tiny sizes, seconds (a smoke test)
    python benchmarks/run.py --out DIR       # where results.json and summary.md go

The suite: the kernel roofline (bench_kernels.py) and the per-epoch solver
speedups (bench_speedup.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_kernels  # noqa: E402
import bench_speedup  # noqa: E402
import lpcore  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the pipeline, measures nothing")
    p.add_argument("--out", default="bench-results", help="output directory (default: bench-results)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    machine = {"cpu": cpu_model(), "backend": lpcore.backend(), "lpcore": lpcore.__version__,
               "python": platform.python_version()}
    print(f"lpcore {machine['lpcore']} on {machine['cpu']} ({machine['backend']} backend)", flush=True)

    print("[kernels] timing kernels in and out of cache ...", flush=True)
    kernels = bench_kernels.run(args.quick, progress=lambda r, n: print(f"  round {r}/{n}", flush=True))
    met = sum(t["met"] for t in kernels["targets"])
    print(f"[kernels] done in {kernels['seconds']:.0f} s: {met}/{len(kernels['targets'])} targets met", flush=True)

    print("[speedup] timing every solver x bits per epoch ...", flush=True)
    speedup = bench_speedup.run(args.quick, progress=lambda g, r, n: print(f"  {g}: round {r}/{n}", flush=True))
    met_s = sum(t["met"] for t in speedup["targets"])
    print(f"[speedup] done in {speedup['seconds']:.0f} s: {met_s}/{len(speedup['targets'])} targets met", flush=True)

    summary = "\n\n".join([
        f"# lpcore benchmark summary\n\n{machine['cpu']}, backend {machine['backend']}, lpcore {machine['lpcore']}",
        "## Kernels\n\n" + bench_kernels.format_table(kernels["results"]),
        bench_kernels.format_targets(kernels["targets"]),
        "## Solvers: seconds per epoch\n\n" + bench_speedup.format_table(speedup),
        bench_speedup.format_targets(speedup["targets"]),
    ]) + "\n"
    (out / "summary.md").write_text(summary)
    (out / "results.json").write_text(json.dumps({"machine": machine, "kernels": kernels, "speedup": speedup}, indent=2))
    print()
    print(summary)
    print(f"wrote {out / 'results.json'} and {out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
