"""Large-page arrays for the training data (lpcore/_memory.py)."""

import mmap

import numpy as np
import pytest

from lpcore._memory import HUGE_PAGE, MIN_LARGE_BYTES, copy_large, empty_large, padded_width


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


def test_copy_large_casts_and_copies():
    src = np.arange(-6, 6, dtype=np.float64).reshape(3, 4)
    out = copy_large(src, np.float32)
    assert out.dtype == np.float32 and np.array_equal(out, src)
    src[0, 0] = 100
    assert out[0, 0] == -6


def test_copy_large_pads_columns_with_zeros():
    src = np.arange(1, 13, dtype=np.int8).reshape(3, 4)
    out = copy_large(src, width=padded_width(4, 8))
    assert out.shape == (3, 32) and out.flags.c_contiguous
    assert np.array_equal(out[:, :4], src) and not out[:, 4:].any()
    assert [padded_width(d, bits) for d, bits in ((0, 8), (1, 8), (32, 8), (33, 8), (100, 16), (100, 32))] == \
        [0, 32, 32, 64, 112, 104]
