"""Quantization of float arrays onto lpcore's symmetric integer grids."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._data import quantize_rows
from ._validation import INT_DTYPES, check_bits, float32_array, seed_from

_ROUNDINGS = ("nearest", "stochastic")


def _as_rows(x: np.ndarray, axis):
    """View x as 2-D rows, one row per scale; return the rows and how to undo it."""
    if axis is None:
        return np.ascontiguousarray(x.reshape(1, -1)), lambda q: q.reshape(x.shape)
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"axis must be None or an int, got {axis!r}")
    if x.ndim == 0:
        raise ValueError("axis must be None for a 0-d x")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of {x.ndim} dimension(s)")
    moved = np.moveaxis(x, axis, -1)
    # math.prod, not -1: with a zero-length axis, -1 is ambiguous to reshape.
    rows = np.ascontiguousarray(moved.reshape(math.prod(moved.shape[:-1]), x.shape[axis]))
    return rows, lambda q: np.moveaxis(q.reshape(moved.shape), -1, axis)


def _scale_shape(shape, axis):
    if axis is None:
        return ()
    out = list(shape)
    out[axis] = 1
    return tuple(out)


def quantize(x, bits, scale=None, rounding="stochastic", random_state=None, axis=None):
    """Quantize a float array onto the symmetric ``bits``-bit integer grid.

    Each value becomes ``q = round(x / scale)`` on the grid
    ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]`` (``[-127, 127]`` for 8 bits).
    The grid is symmetric: the codes -128 and -32768 are never used, which is
    what keeps lpcore's SIMD dot products exact.

    Parameters
    ----------
    x : array-like of numbers
        Values to quantize. Any shape; float64, integer and non-contiguous
        input is accepted and converted to float32. NaN or inf raise.
    bits : {8, 16}
        Width of the integer grid.
    scale : float, array-like or None, default=None
        Grid step. None chooses ``max|x| / (2**(bits-1) - 1)`` (1.0 for an
        all-zero slice), so nothing saturates. A given scale must be positive
        and finite; values beyond the grid then saturate to its ends. With
        ``axis`` set, an array of scales must broadcast to the scale shape
        returned (``x.shape`` with ``axis`` set to 1).
    rounding : {"stochastic", "nearest"}, default="stochastic"
        ``"nearest"`` rounds half to even. ``"stochastic"`` rounds up with
        probability equal to the fractional part, so ``E[q] * scale == x``
        for values inside the grid.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        Seeds stochastic rounding. The same seed gives the same ``q`` on every
        backend.
    axis : int or None, default=None
        None uses one scale for the whole array. An int gives one scale per
        slice along the *other* axes, computed over ``axis``: for a 2-D array,
        ``axis=1`` gives one scale per row.

    Returns
    -------
    q : ndarray of int8 or int16
        The grid codes, with the shape of ``x``.
    scale : float or ndarray of float32
        A float when ``axis`` is None, else an array of shape ``x.shape`` with
        ``axis`` set to 1, so that ``q * scale`` broadcasts.

    Raises
    ------
    ValueError
        For ``bits`` other than 8 or 16, an unknown ``rounding``, NaN or inf
        in ``x``, or a non-positive or non-finite ``scale``.

    Examples
    --------
    >>> import numpy as np
    >>> import lpcore
    >>> q, s = lpcore.quantize([0.5, -1.0, 0.25], bits=8, rounding="nearest")
    >>> q
    array([  64, -127,   32], dtype=int8)
    >>> lpcore.dequantize(q, s)
    array([ 0.503937 , -1.       ,  0.2519685], dtype=float32)
    """
    bits = check_bits(bits)
    if rounding not in _ROUNDINGS:
        raise ValueError(f"rounding must be one of {_ROUNDINGS}, got {rounding!r}")
    xf = float32_array(x)
    rows, restore = _as_rows(xf, axis)
    axis_n = None if axis is None else int(axis) % xf.ndim
    if scale is None:
        row_scales = None  # the data path's rule: max |x| / qmax per row
    else:
        s = float32_array(scale, "scale")
        if (s <= 0).any():
            raise ValueError(f"scale must be positive, got a minimum of {s.min()}")
        if axis is None:
            if s.size != 1:
                raise ValueError(f"with axis=None, scale must be a single number, got shape {s.shape}")
            row_scales = s.reshape(1)
        else:
            try:
                s_full = np.broadcast_to(s, _scale_shape(xf.shape, axis_n))
            except ValueError:
                raise ValueError(
                    f"scale of shape {s.shape} does not broadcast to the scale shape "
                    f"{_scale_shape(xf.shape, axis_n)} for axis={axis}"
                ) from None
            row_scales = np.ascontiguousarray(np.moveaxis(s_full, axis_n, -1).reshape(-1), dtype=np.float32)

    q, row_scales, _ = quantize_rows(rows, bits, row_scales, rounding == "stochastic", seed_from(random_state))
    q = restore(q)
    if axis is None:
        return q, float(row_scales[0])
    scale_shape = _scale_shape(xf.shape, axis_n)
    moved_shape = np.moveaxis(np.empty(scale_shape, dtype=np.uint8), axis_n, -1).shape
    return q, np.moveaxis(row_scales.reshape(moved_shape), -1, axis_n)


def dequantize(q, scale):
    """Map grid codes back to float32: ``q * scale``.

    Parameters
    ----------
    q : array-like of int8 or int16
        Grid codes, as returned by :func:`quantize`.
    scale : float or array-like
        The scale returned by :func:`quantize` (or any positive scale that
        broadcasts against ``q``).

    Returns
    -------
    ndarray of float32
        ``float32(q) * float32(scale)``, the same rounding as the C++ kernels.

    Examples
    --------
    >>> import lpcore
    >>> lpcore.dequantize([3, -2], 0.5)
    array([ 1.5, -1. ], dtype=float32)
    """
    qa = np.asarray(q)
    if qa.dtype.kind not in "iu":
        raise ValueError(f"q must hold integer grid codes, got dtype {qa.dtype}")
    s = float32_array(scale, "scale")
    if (s <= 0).any():
        raise ValueError(f"scale must be positive, got a minimum of {s.min()}")
    return np.multiply(qa.astype(np.float32), s, dtype=np.float32)


__all__ = ["quantize", "dequantize", "INT_DTYPES"]
