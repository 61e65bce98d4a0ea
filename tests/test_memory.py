"""Large-page arrays for the training data (lpcore/_memory.py)."""

import mmap

import numpy as np
import pytest

from lpcore._memory import HUGE_PAGE, MIN_LARGE_BYTES, empty_large, padded_width


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.float32])
def test_large_arrays_are_aligned_and_usable(dtype):
    rows = MIN_LARGE_BYTES // (64 * np.dtype(dtype).itemsize) + 3
    a = empty_large((rows, 64), dtype)
    assert a.shape == (rows, 64) and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    if hasattr(mmap, "MADV_HUGEPAGE"):
        assert a.ctypes.data % HUGE_PAGE == 0
    a[...] = 7
    a[-1, -1] = 3
    assert a.sum(dtype=np.int64) == 7 * a.size - 4


def test_small_arrays_are_plain():
    a = empty_large((10, 3), np.float32)
    assert a.shape == (10, 3) and a.flags.owndata


def test_padded_width_is_whole_vector_blocks():
    # the blocks come from the core (lpcore/width.hpp): 32 int8, 16 int16, 8 float32
    assert [padded_width(n, 8) for n in (0, 1, 32, 33)] == [0, 32, 32, 64]
    assert [padded_width(n, 16) for n in (4, 16, 17)] == [16, 16, 32]
    assert [padded_width(n, 32) for n in (1, 8, 9)] == [8, 8, 16]
