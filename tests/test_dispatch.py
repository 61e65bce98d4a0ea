"""Run-time backend selection: observable, forceable, and safe to force wrongly."""

import os
import subprocess
import sys
import textwrap

import lpcore
import pytest
from lpcore import kernels

PROBE = textwrap.dedent(
    """
    import lpcore
    from lpcore import _core, kernels
    kernels.dot_i8([1, 2, 3], [4, 5, 6])
    kernels.update_i8([0] * 40, [1] * 40, 0.1, [0] * 40, random_state=0)
    counts = _core.call_counts()
    print(lpcore.backend(), counts["scalar"], counts["avx2"])
    """
)


def run_probe(env_extra, code=PROBE):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LPCORE_")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/")


def test_backend_is_supported():
    assert lpcore.supported_backends()[0] == "scalar"
    assert lpcore.backend() in lpcore.supported_backends()
    if "LPCORE_FORCE_ISA" not in os.environ:
        # Unforced, lpcore takes the fastest backend the CPU has.
        assert lpcore.backend() == lpcore.supported_backends()[-1]


@pytest.mark.parametrize("isa", lpcore.supported_backends())
def test_forced_backend_is_the_one_that_runs(isa):
    res = run_probe({"LPCORE_FORCE_ISA": isa})
    assert res.returncode == 0, res.stderr
    name, n_scalar, n_avx2 = res.stdout.split()
    assert name == isa
    calls = {"scalar": int(n_scalar), "avx2": int(n_avx2)}
    other = "avx2" if isa == "scalar" else "scalar"
    assert calls[isa] == 2 and calls[other] == 0


def test_forcing_avx2_without_it_is_a_clear_error():
    res = run_probe({"LPCORE_FORCE_ISA": "avx2", "LPCORE_HIDE_AVX2": "1"})
    assert res.returncode == 1  # a Python exception, not a signal
    assert "LPCORE_FORCE_ISA=avx2" in res.stderr and "lacks AVX2" in res.stderr


def test_unknown_forced_backend_is_a_clear_error():
    res = run_probe({"LPCORE_FORCE_ISA": "sse9"})
    assert res.returncode == 1
    assert "LPCORE_FORCE_ISA='sse9'" in res.stderr and "'scalar' or 'avx2'" in res.stderr


def test_hidden_avx2_falls_back_to_scalar_and_rejects_explicit_avx2():
    code = PROBE + textwrap.dedent(
        """
        try:
            kernels.dot_i8([1], [1], backend="avx2")
        except ValueError as e:
            print("refused:", e)
        """
    )
    res = run_probe({"LPCORE_HIDE_AVX2": "1"}, code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("scalar ")
    assert "refused: backend 'avx2' is not supported" in res.stdout


def test_unknown_backend_argument():
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.dot_i8([1], [1], backend="neon")


def test_type_stub_lists_every_binding():
    """lpcore/_core.pyi declares every function, class and constant the extension exports, and nothing else."""
    import ast
    from pathlib import Path

    from lpcore import _core

    stub = ast.parse((Path(lpcore.__file__).parent / "_core.pyi").read_text())
    declared = {node.name for node in stub.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    declared |= {node.target.id for node in stub.body if isinstance(node, ast.AnnAssign)}
    exported = {name for name in dir(_core) if not name.startswith("_")}
    assert declared == exported, (sorted(exported - declared), sorted(declared - exported))
