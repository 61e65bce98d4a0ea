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
