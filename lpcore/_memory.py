"""Training data in large pages.

The solvers read one random row per step. Out of cache, each such row costs a
cache miss and, with 4 KiB pages, a TLB miss whose page walk a prefetch does
not hide well (on this project's benchmark machine, a random 256-byte row
took about 2x longer with 4 KiB pages than with 2 MiB pages; see
benchmarks/bench_speedup.py). Arrays from :func:`empty_large` are 2 MiB
aligned and advised as transparent huge pages on Linux, so one TLB entry
covers 2 MiB of rows. Elsewhere, or for small arrays, they are plain arrays.
"""

from __future__ import annotations

import mmap

import numpy as np

from ._constants import BLOCK_COLUMNS

HUGE_PAGE = 2 << 20
# Below this size the data fits the TLB's reach with 4 KiB pages anyway.
MIN_LARGE_BYTES = 8 << 20
# The data path's per-row arrays (scales, norms) are read in order, so the TLB
# does not matter there, but their first touch does: from 1 MiB on, one huge
# page fault costs less than 256 small ones, and rounding up to 2 MiB at most
# doubles an array that is 1/d of the rows' size.
MIN_PER_ROW_LARGE_BYTES = 1 << 20


def empty_large(shape, dtype, min_bytes: int = MIN_LARGE_BYTES) -> np.ndarray:
    """An uninitialized C-contiguous array, in huge pages when it has at least
    ``min_bytes``."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    advise = getattr(mmap, "MADV_HUGEPAGE", None)
    if nbytes < max(min_bytes, 1) or advise is None:
        return np.empty(shape, dtype=dtype)
    buf = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        buf.madvise(advise)
    except OSError:  # advice only: THP may be disabled
        pass
    raw = np.frombuffer(buf, dtype=np.uint8)  # keeps buf alive as its base
    start = (-raw.ctypes.data) % HUGE_PAGE
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def padded_width(n_columns: int, bits: int) -> int:
    """n_columns rounded up to a whole number of the solvers' vector blocks."""
    block = BLOCK_COLUMNS[bits]
    return -(-n_columns // block) * block
