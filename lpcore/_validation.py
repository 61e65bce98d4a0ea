"""Input checks shared by the public functions."""

from __future__ import annotations

import numbers

import numpy as np

from ._constants import GRID_MAX, INT_DTYPES


def check_bits(bits, allowed=tuple(GRID_MAX)) -> int:
    """bits as an int, one of ``allowed`` (by default the integer grids' widths, 8 and 16)."""
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or int(bits) not in allowed:
        raise ValueError(f"bits must be one of {allowed}, got {bits!r}")
    return int(bits)


def float32_array(x, name: str = "x") -> np.ndarray:
    """x as a C-contiguous float32 array; rejects non-numeric, NaN and inf."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric (bool, integer or float), got dtype {arr.dtype}")
    with np.errstate(over="ignore"):
        out = np.asarray(arr, dtype=np.float32, order="C")
    if not np.isfinite(out).all():
        if arr.dtype.kind == "f" and np.isfinite(arr).all():
            raise ValueError(f"{name} has values beyond the float32 range (|x| > 3.4e38); rescale it first")
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those values first")
    return out


def grid_array(x, bits: int, name: str) -> np.ndarray:
    """x as a C-contiguous int8/int16 array on the symmetric grid."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array on the {bits}-bit grid, got dtype {arr.dtype}")
    lim = GRID_MAX[bits]
    if arr.size and (arr.min() < -lim or arr.max() > lim):
        bad = arr.min() if arr.min() < -lim else arr.max()
        raise ValueError(
            f"{name} has value {bad} outside the symmetric {bits}-bit grid [-{lim}, {lim}] "
            f"that lpcore's kernels use; clip it to the grid first"
        )
    return np.ascontiguousarray(arr, dtype=INT_DTYPES[bits])


def seed_from(random_state) -> int:
    """A 64-bit seed from None, an int, a RandomState or a Generator."""
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**63 - 1))
    if isinstance(random_state, bool):
        raise ValueError(f"random_state must be None, an int or a numpy random generator, got {random_state!r}")
    if isinstance(random_state, numbers.Integral):
        if int(random_state) < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return int(random_state) % 2**64
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise ValueError(f"random_state must be None, an int or a numpy random generator, got {random_state!r}")
