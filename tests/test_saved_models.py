"""Every saved case (tests/saved_models.py) refits to the same bits on this backend."""

import numpy as np
import pytest
from saved_models import CASES, PATH, fit_case, results


@pytest.fixture(scope="module")
def saved():
    with np.load(PATH) as f:
        return dict(f)


def test_saved_data_are_the_problems(saved):
    # The stored inputs are what the fits below train on; they are read from
    # the file, so a change of NumPy's generators cannot move the targets.
    assert saved["X"].shape == (300, 20) and saved["X"].dtype == np.float64
    assert set(np.unique(saved["y_multi"])) == {0, 1, 2}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refit_is_bit_identical(case, saved):
    got = results(fit_case(case, saved))
    for key, value in got.items():
        want = saved[f"{case[0]}/{key}"]
        assert value.dtype == want.dtype and value.shape == want.shape, key
        # Bit for bit: compare the bytes, so that -0.0, NaN payloads and the
        # last ulp all count.
        assert value.tobytes() == want.tobytes(), (
            f"{case[0]}: {key} differs from the saved model in "
            f"{int(np.sum(value != want))} of {value.size} values (max |diff| {np.max(np.abs(value - want)):.3g})"
        )


# auto_delta on the saved problems, with a nonzero start (so that the start's
# margins count too), printed as exact hex floats.
_DELTA_PROBE = r"""
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from saved_models import problems
from lpcore import _data, _solver

d = problems()
data = _data.prepare(d["X"], 8)
width = data.rows.shape[1]
rng = np.random.default_rng(0)
cases = (("squared", d["y_reg"], 1), ("logistic", np.where(d["y_bin"] == 1, 1.0, -1.0), 1),
         ("multinomial", d["y_multi"].astype(np.float64), 3))
out = []
for loss, y, K in cases:
    coef0 = rng.standard_normal((K, width)).astype(np.float32)
    out.append(_solver.auto_delta(data, y, loss, 1e-3, coef0, np.zeros(K), 8, d["sample_weight"]).hex())
print(" ".join(out))
"""


def _openblas() -> bool:
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return "openblas" in str(blas.get("name", "")).lower()


@pytest.mark.skipif(not _openblas(), reason="NumPy is not built with OpenBLAS: OPENBLAS_CORETYPE selects nothing")
def test_delta_auto_has_the_same_bits_whatever_blas_kernel_runs(tmp_path):
    # The saved LP-SGD / LP-SVRG models hold on every machine only if their
    # grid, delta="auto", does: OpenBLAS picks its kernels by CPU, and two of
    # them (forced here) sum a matrix product in different orders.
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent)
    outputs = {}
    for core in ("Prescott", "Haswell"):
        env = {**os.environ, "OPENBLAS_CORETYPE": core}
        run = subprocess.run([sys.executable, "-c", _DELTA_PROBE, tests], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        outputs[core] = run.stdout.split()
    assert len(outputs["Prescott"]) == 3
    assert outputs["Prescott"] == outputs["Haswell"]
