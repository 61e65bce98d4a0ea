"""Low-level access to lpcore's compute kernels.

These functions validate their input and call one kernel of the compiled
core, on the active backend or on the one named by ``backend``. The solvers
call the same kernels from C++; this module exists for tests, benchmarks and
users who want the building blocks. Each function returns new arrays and
never modifies its arguments.

Integer kernels work on the symmetric grids [-127, 127] (int8) and
[-32767, 32767] (int16); values off the grid raise ``ValueError``.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core, _data
from ._backend import check_backend
from ._validation import INT_DTYPES, check_bits, float32_array, grid_array, seed_from

#: Coordinates per dither offset of the fused updates.
DITHER_CHUNK = 4096
#: Largest |c| the fused updates accept, in fixed-point units (Q8 / Q16).
MAX_OFFSET = {8: 16383, 16: 1 << 29}


def _pair(a, b, convert, **kw):
    a, b = convert(a, **kw), convert(b, **kw)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"expected two 1-D arrays of equal length, got shapes {a.shape} and {b.shape}")
    return a, b


def dot_i8(a, b, *, backend=None) -> int:
    """Exact ``sum(a * b)`` of two int8 grid vectors (int64 result, any length).

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.dot_i8([127, -127, 3], [127, 127, 2])
    6
    """
    a, b = _pair(a, b, grid_array, bits=8, name="a")
    return _core.dot_i8(a, b, check_backend(backend))


def dot_i16(a, b, *, backend=None) -> int:
    """Exact ``sum(a * b)`` of two int16 grid vectors (int64 result, any length).

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.dot_i16([32767, 2], [32767, -3])
    1073676283
    """
    a, b = _pair(a, b, grid_array, bits=16, name="a")
    return _core.dot_i16(a, b, check_backend(backend))


def dot_f32(a, b, *, backend=None) -> float:
    """fp32 dot product with 32 FMA partial sums (same result on every backend).

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.dot_f32([1.0, 2.0], [3.0, 4.0])
    11.0
    """
    a, b = _pair(a, b, float32_array)
    return _core.dot_f32(a, b, check_backend(backend))


def axpy_f32(a: float, x, y, *, backend=None) -> np.ndarray:
    """Return ``fma(a, x, y)`` in float32.

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.axpy_f32(2.0, [1.0, 2.0], [0.5, 0.5])
    array([2.5, 4.5], dtype=float32)
    """
    x, y = _pair(x, y, float32_array)
    out = y.copy()
    _core.axpy_f32(_finite(a, "a"), x, out, check_backend(backend))
    return out


def update_f32(w, x, a: float, c, *, backend=None) -> np.ndarray:
    """Return ``fma(a, x, w + c)`` in float32: the fp32 SGD / SVRG inner update.

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.update_f32([1.0, 1.0], [1.0, 2.0], -0.5, [0.25, 0.0])
    array([0.75, 0.  ], dtype=float32)
    """
    w, x = _pair(w, x, float32_array)
    _, c = _pair(w, c, float32_array)
    out = w.copy()
    _core.update_f32(out, x, _finite(a, "a"), c, check_backend(backend))
    return out


def _finite(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {v!r}")
    return float(v)


def _dither(dither, random_state):
    if dither is not None:
        if not isinstance(dither, _core.Dither):
            raise TypeError(f"dither must be an lpcore.kernels.Dither, got {type(dither).__name__}")
        return dither
    return _core.Dither(seed_from(random_state))


def _update(bits, z, x, a, c, random_state, dither, backend, data_bits=None):
    data_bits = bits if data_bits is None else data_bits
    z, x = grid_array(z, bits, "z"), grid_array(x, data_bits, "x")
    if z.ndim != 1 or z.shape != x.shape:
        raise ValueError(f"expected two 1-D arrays of equal length, got shapes {z.shape} and {x.shape}")
    c = np.asarray(c)
    if c.dtype.kind not in "iu" or c.shape != z.shape:
        raise ValueError(f"c must be an integer array of the shape of z {z.shape}, got {c.dtype} {c.shape}")
    lim = MAX_OFFSET[bits]
    # Compared in c's own dtype: no cast or np.abs that could wrap (-2**63, uint64).
    if c.size and (c.min() < -lim or c.max() > lim):
        bad = c.min() if c.min() < -lim else c.max()
        raise ValueError(
            f"offsets c must satisfy |c| <= {lim} (fixed point, {lim / 2 ** (8 if bits == 8 else 16):.0f} "
            f"grid steps); got {int(bad)}"
        )
    a = _finite(a, "a")
    out = z.copy()
    if bits == 8:
        packed = _core.pack_offsets_i8(np.ascontiguousarray(c, dtype=np.int16))
        n_sat = _core.update_i8(out, x, a, packed, _dither(dither, random_state), check_backend(backend))
    else:
        packed = _core.pack_offsets_i16(np.ascontiguousarray(c, dtype=np.int32))
        kernel = _core.update_i16 if data_bits == 16 else _core.update_i8_i16
        n_sat = kernel(out, x, a, packed, _dither(dither, random_state), check_backend(backend))
    return out, int(n_sat)


def update_i8(z, x, a: float, c, *, random_state=None, dither=None, backend=None):
    """Fused stochastic-rounding update on the int8 grid.

    Computes ``z <- clip(stochastic_round(z + a * x + c / 256), -127, 127)``:
    the inner step of HALP and LP-SVRG, in integer arithmetic.

    The multiplier ``a`` is rounded stochastically to a multiple of 1/256
    once per call and every coordinate gets an independent dither byte, so
    ``E[z_new] = z + a * x + c / 256`` exactly before saturation. The fast
    path covers ``|a| <= 1/2``; larger multipliers take an exact slower path.

    Parameters
    ----------
    z, x : array-like of int on [-127, 127]
        Current offset and data row, same length.
    a : float
        Step multiplier.
    c : array-like of int
        Per-coordinate offset in Q8 (units of 1/256 grid step),
        ``|c| <= 16383``.
    random_state : None, int or numpy random generator
        Seeds a fresh :class:`Dither` when ``dither`` is None.
    dither : Dither, optional
        Dither stream to continue (successive calls draw fresh offsets).
    backend : {"scalar", "avx2"} or None
        Kernel backend; None uses the active one.

    Returns
    -------
    z_new : ndarray of int8
    n_saturated : int
        Coordinates whose dithered value left ``[-127, 128 - 1/256)``: every
        clipped coordinate, plus the rare one whose dithered value is exactly
        ``127 + 255/256``.

    Examples
    --------
    >>> from lpcore import kernels
    >>> z, n_sat = kernels.update_i8([0, 10, 127], [0, 0, 0], 0.0, [256, -512, 256], random_state=0)
    >>> z, n_sat
    (array([  1,   8, 127], dtype=int8), 1)
    """
    return _update(8, z, x, a, c, random_state, dither, backend)


def update_i16(z, x, a: float, c, *, random_state=None, dither=None, backend=None):
    """Fused stochastic-rounding update on the int16 grid.

    The int16 twin of :func:`update_i8`: ``z <- clip(stochastic_round(z + a * x + c / 2**16))``
    with ``c`` in Q16 (``|c| <= 2**29``), ``a`` rounded to a multiple of
    ``2**-16`` and a 16-bit dither per coordinate; the fast path covers
    ``|a| < 1/2``. Saturated coordinates are those whose rounded value left
    ``[-32767, 32767]``.

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.update_i16([100, -100], [0, 0], 0.0, [65536, 0], random_state=0)
    (array([ 101, -100], dtype=int16), 0)
    """
    return _update(16, z, x, a, c, random_state, dither, backend)


def update_i8_i16(z, x, a: float, c, *, random_state=None, dither=None, backend=None):
    """Fused stochastic-rounding update of an int16 model by an int8 data row (D8M16).

    :func:`update_i16` with ``x`` on the int8 grid: ``z <- clip(stochastic_round(z + a * x + c / 2**16))``,
    ``c`` in Q16 (``|c| <= 2**29``). The kernel reads the row as ``256 x``
    and rounds ``a`` to a multiple of ``2**-8`` (the same ``a x`` in Q16 as at
    16 bits); the fast path covers ``|a| < 128``.

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.update_i8_i16([1000, -1000], [100, 0], 0.5, [0, 0], random_state=0)
    (array([ 1050, -1000], dtype=int16), 0)
    """
    return _update(16, z, x, a, c, random_state, dither, backend, data_bits=8)


def dot_i8_i16(x, z, *, backend=None) -> int:
    """Exact ``sum(x * z)`` of an int8 data row and an int16 model (int64 result, any length).

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.dot_i8_i16([127, -3], [32767, 2])
    4161403
    """
    x, z = grid_array(x, 8, "x"), grid_array(z, 16, "z")
    if x.ndim != 1 or x.shape != z.shape:
        raise ValueError(f"expected two 1-D arrays of equal length, got shapes {x.shape} and {z.shape}")
    return _core.dot_i8_i16(x, z, check_backend(backend))


def stream_sum(buf, *, backend=None) -> int:
    """Sum of the bytes of a uint8 buffer: a pure streaming read.

    Examples
    --------
    >>> import numpy as np
    >>> from lpcore import kernels
    >>> kernels.stream_sum(np.arange(10, dtype=np.uint8))
    45
    """
    arr = np.asarray(buf)
    if arr.dtype != np.uint8:
        raise TypeError(f"buf must be a uint8 array, got {arr.dtype}")
    return int(_core.stream_sum(np.ascontiguousarray(arr).reshape(-1), check_backend(backend)))


def random_bytes(seed: int, n_blocks: int, *, backend=None) -> np.ndarray:
    """``32 * n_blocks`` bytes of the four-lane xorshift128+ stream seeded by ``seed``.

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.random_bytes(1, 2).shape
    (64,)
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, numbers.Integral) or n_blocks < 0:
        raise ValueError(f"n_blocks must be a non-negative int, got {n_blocks!r}")
    return _core.fill_random(seed_from(seed), int(n_blocks), check_backend(backend))


def quantize_rows(x, scales, bits, *, stochastic=True, random_state=None, backend=None):
    """Quantize each row of a 2-D float array with its own scale; returns ``(q, n_clipped)``.

    The data path (``lpcore._data``) with given scales, as :func:`lpcore.quantize` uses it.

    Examples
    --------
    >>> from lpcore import kernels
    >>> kernels.quantize_rows([[1.0, -2.0]], [1.0], 8, stochastic=False)
    (array([[ 1, -2]], dtype=int8), 0)
    """
    x = float32_array(x)
    scales = float32_array(scales, "scales")
    if x.ndim != 2 or scales.shape != (x.shape[0],):
        raise ValueError(f"expected a 2-D x and one scale per row, got shapes {x.shape} and {scales.shape}")
    if (scales <= 0).any():
        raise ValueError("scales must be positive")
    bits = check_bits(bits)
    q, _, clipped = _data.quantize_rows(x, bits, scales, bool(stochastic), seed_from(random_state), backend)
    return q, clipped


def dequantize_rows(q, scales, *, backend=None) -> np.ndarray:
    """``float32(q) * scale`` row by row, for an int8 or int16 2-D array.

    Examples
    --------
    >>> from lpcore import kernels
    >>> import numpy as np
    >>> kernels.dequantize_rows(np.array([[2, -4]], dtype=np.int8), [0.5])
    array([[ 1., -2.]], dtype=float32)
    """
    q = np.ascontiguousarray(q)
    scales = float32_array(scales, "scales")
    if q.ndim != 2 or scales.shape != (q.shape[0],):
        raise ValueError(f"expected a 2-D q and one scale per row, got shapes {q.shape} and {scales.shape}")
    kernel = {np.dtype(dtype): f"dequantize_i{bits}" for bits, dtype in INT_DTYPES.items()}.get(q.dtype)
    fn = getattr(_core, kernel) if kernel is not None else None
    if fn is None:
        raise TypeError(f"q must be int8 or int16, got {q.dtype}")
    return fn(q, scales, check_backend(backend))


Dither = _core.Dither

__all__ = [
    "DITHER_CHUNK",
    "Dither",
    "MAX_OFFSET",
    "axpy_f32",
    "dequantize_rows",
    "dot_f32",
    "dot_i8",
    "dot_i16",
    "dot_i8_i16",
    "quantize_rows",
    "random_bytes",
    "stream_sum",
    "update_f32",
    "update_i8",
    "update_i16",
    "update_i8_i16",
]
