"""The benchmark suite's entry point, at tiny size: files appear and the JSON holds its schema.

This measures nothing (tiny sizes); it checks that `python benchmarks/run.py`
runs end to end from a fresh directory and writes what it promises.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMOKE = ["kernels", "halp"]


def check_schema(results: dict, out: Path) -> list[str]:
    """Every way results.json departs from the suite's schema (empty: it holds)."""
    problems = []

    def need(obj, key, types, where):
        if not isinstance(obj, dict) or key not in obj:
            problems.append(f"{where}: missing {key!r}")
            return None
        if not isinstance(obj[key], types) or isinstance(obj[key], bool) and bool not in types:
            problems.append(f"{where}.{key}: {type(obj[key]).__name__}, expected {types}")
            return None
        return obj[key]

    machine = need(results, "machine", (dict,), "results") or {}
    for key in ("cpu", "backend", "lpcore", "python", "date"):
        need(machine, key, (str,), "machine")
    need(machine, "threads", (int,), "machine")
    settings = need(results, "settings", (dict,), "results") or {}
    if need(settings, "size", (str,), "settings") not in (None, "tiny", "default", "full"):
        problems.append(f"settings.size: {settings['size']!r}")
    need(settings, "seed", (int,), "settings")
    if "only" not in settings or not (settings["only"] is None or isinstance(settings["only"], list)):
        problems.append("settings.only: missing, or neither null nor a list")
    benchmarks = need(results, "benchmarks", (dict,), "results") or {}
    for name, entry in benchmarks.items():
        where = f"benchmarks.{name}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not an object")
        elif "skipped" in entry:
            need(entry, "skipped", (str,), where)
        else:
            need(entry, "summary", (str,), where)
            need(entry, "line", (str,), where)
            need(entry, "wall_seconds", (int, float), where)
            for f in need(entry, "figures", (list,), where) or []:
                if not isinstance(f, str) or not f.endswith(".png") or not (out / f).is_file():
                    problems.append(f"{where}.figures: {f!r} is not a PNG file in {out}")
    return problems


def run_suite(tmp_path, *args):
    return subprocess.run([sys.executable, str(RUN), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)


def test_smoke_run_writes_json_markdown_and_pngs(tmp_path):
    proc = run_suite(tmp_path, "--only", ",".join(SMOKE), "--quick", "--out", "out")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    assert check_schema(results, out) == []
    assert list(results["benchmarks"]) == SMOKE
    assert results["settings"] == {"size": "tiny", "seed": 0, "only": SMOKE, "threads": None}
    summary = (out / "summary.md").read_text()
    for name in SMOKE:
        entry = results["benchmarks"][name]
        assert "error" not in entry and "skipped" not in entry, entry
        assert entry["summary"] in summary  # each benchmark's tables are in summary.md
        assert entry["figures"], f"{name} wrote no figure"
        for figure in entry["figures"]:
            assert (out / figure).read_bytes()[:8] == PNG_MAGIC, figure
            assert f"]({figure})" in summary
        # Each benchmark printed its one-line result on stdout as it finished.
        assert f"[{name}]" in proc.stdout and entry["line"] in proc.stdout
    # The tables themselves: the kernel roofline table and HALP Figure 1's.
    assert "| kernel | regime | n |" in summary and "| epoch | SGD fp32 | SVRG fp32 |" in summary


def test_schema_check_can_fail(tmp_path):
    (tmp_path / "a.png").write_bytes(PNG_MAGIC)
    good = {"machine": {"cpu": "x", "backend": "avx2", "lpcore": "0", "python": "3", "date": "d", "threads": 1},
            "settings": {"size": "tiny", "seed": 0, "only": None},
            "benchmarks": {"a": {"summary": "s", "line": "l", "wall_seconds": 1.0, "figures": ["a.png"]},
                           "b": {"skipped": "why"}}}
    assert check_schema(good, tmp_path) == []
    bad = json.loads(json.dumps(good))
    bad["machine"]["threads"] = "two"
    bad["benchmarks"]["a"]["figures"] = ["missing.png"]
    del bad["settings"]["seed"]
    assert len(check_schema(bad, tmp_path)) == 3


def test_unknown_benchmark_is_a_clear_error(tmp_path):
    proc = run_suite(tmp_path, "--only", "nosuch", "--quick", "--out", "out")
    assert proc.returncode != 0
    assert "unknown benchmark 'nosuch'" in proc.stderr
    assert "kernels, speedup, halp, multiclass, shrinkage, peers" in proc.stderr  # the valid names
    assert not (tmp_path / "out").exists()


def load_runner():
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_missing_benchmark_module_is_reported_not_raised():
    runner = load_runner()
    module, why = runner.load("no_such_benchmark_module")
    assert module is None and "bench_no_such_benchmark_module.py is not in this checkout" in why


@pytest.mark.parametrize("argv", [["--threads", "0"], ["--full", "--quick"], ["--only", ","]])
def test_bad_options_are_rejected(argv):
    with pytest.raises(SystemExit) as e:
        load_runner().parse_args(argv)
    assert e.value.code == 2


def test_time_gather_times_random_rows_and_checks_sizes():
    from lpcore import _bench

    t = _bench.time_gather(1000, 100, 2000, 16, 3)
    assert 0 < t < 1e-3
    for bad in ((0, 100, 10, 16, 1), (10, 0, 10, 16, 1), (10, 100, 0, 16, 1), (10, 100, 10, 0, 1),
                (10, 100, 10, 16, 0), (1 << 30, 1 << 20, 10, 16, 1)):
        with pytest.raises(ValueError, match="time_gather"):
            _bench.time_gather(*bad)


ENDTOEND = RUN.parent / "bench_endtoend.py"


def test_endtoend_runs_only_the_problems_asked_for(tmp_path):
    """--problems picks some of a size's problems; an unknown name lists the known ones."""
    proc = subprocess.run([sys.executable, str(ENDTOEND), "--quick", "--problems", "logistic", "--out", str(tmp_path),
                           "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads((tmp_path / "r.json").read_text())["problems"]) == ["logistic"]
    proc = subprocess.run([sys.executable, str(ENDTOEND), "--quick", "--problems", "logistic,memmap"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode != 0
    assert "unknown problem(s) memmap at size tiny; the problems are least_squares, logistic, multinomial" in proc.stderr


def test_the_timing_harness_is_not_in_the_users_core():
    from lpcore import _bench, _core

    for name in ("time_kernel", "kernel_bytes", "time_gather"):
        assert hasattr(_bench, name) and not hasattr(_core, name)
