"""Low-precision float formats simulated on float32, and gradient shrinkage.

Yun (2025), "Why does SGD slow down in low-precision training?", models a
gradient ``g`` stored in a low-precision float format as ``Q(g) = q g + eps``.
This module provides the quantizer ``Q`` for FP16, BF16, FP8 (OCP E4M3FN and
E5M2) and FP4 (OCP E2M1) and measures ``q``:

* :func:`quantize_float` rounds float32 values onto a format's grid (nearest
  with ties to even, toward zero, or stochastic), exactly, subnormals
  included, and returns them as float32;
* :func:`formats` describes each format;
* :func:`shrinkage` measures how much a quantized vector shrank.

Two measures of ``q``
---------------------
The paper measures shrinkage by the norm ratio ``||Q(g)|| / ||g||``. The
quantity that enters the descent inequality is instead the projection
``<Q(g), g> / ||g||^2``: the coefficient ``q`` in ``Q(g) = q g + eps`` with
``eps`` orthogonal to ``g``. The two disagree whenever ``eps`` is large, since
``||Q(g)||^2 = q^2 ||g||^2 + ||eps||^2``. Round-to-nearest flushes every entry
below half the smallest subnormal to zero and rounds the surviving entries up
or down by up to half a grid step; the rounding noise ``eps`` keeps the norm
ratio near 1, or above it, even when most entries are flushed, while the
projection falls with the flushed mass. Both can exceed 1: in the subnormal
range, rounding up can inflate an entry by up to 2x.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from . import _core
from ._backend import check_backend
from ._validation import seed_from

#: Format names, in the order of the C++ ``FloatFormat`` enum.
FORMATS = ("fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp4_e2m1")
#: Rounding modes, in the order of the C++ ``FloatRounding`` enum.
ROUNDINGS = ("nearest", "toward_zero", "stochastic")
#: Overflow policies, in the order of the C++ ``Overflow`` enum.
OVERFLOWS = ("saturate", "ieee")
#: Exponent range of the power-of-two loss scales chosen by ``scale="dynamic"``.
DYNAMIC_SCALE_EXPONENTS = (-100, 100)


@dataclass(frozen=True)
class FloatFormatInfo:
    """Parameters of a simulated float format (see :func:`formats`)."""

    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    max: float
    smallest_normal: float
    smallest_subnormal: float
    eps: float
    has_inf: bool
    has_nan: bool


def _info(d: dict) -> FloatFormatInfo:
    emin = 1 - d["bias"]
    m = d["mantissa_bits"]
    return FloatFormatInfo(
        name=d["name"],
        exponent_bits=d["exponent_bits"],
        mantissa_bits=m,
        bias=d["bias"],
        max=float(np.uint32(d["max_bits"]).view(np.float32)),
        smallest_normal=math.ldexp(1.0, emin),
        smallest_subnormal=math.ldexp(1.0, emin - m),
        eps=math.ldexp(1.0, -m),
        has_inf=bool(d["has_inf"]),
        has_nan=bool(d["has_nan"]),
    )


_INFO = {d["name"]: _info(d) for d in _core.float_formats()}


def formats() -> dict[str, FloatFormatInfo]:
    """Describe every supported float format.

    Returns
    -------
    dict of str to FloatFormatInfo
        Keyed by format name (``"fp16"``, ``"bf16"``, ``"fp8_e4m3"``,
        ``"fp8_e5m2"``, ``"fp4_e2m1"``). Each entry gives the exponent and
        mantissa widths, the bias, ``max`` (largest finite value),
        ``smallest_normal`` (``2**(1 - bias)``), ``smallest_subnormal``
        (``smallest_normal * 2**-mantissa_bits``), ``eps`` (machine epsilon,
        ``2**-mantissa_bits``) and whether the format has inf and NaN.
        ``fp8_e4m3`` is OCP E4M3FN: no infinities, a single NaN code per
        sign, max 448. ``fp4_e2m1`` has neither inf nor NaN.

    Examples
    --------
    >>> import lpcore
    >>> info = lpcore.formats()["fp8_e4m3"]
    >>> info.max, info.smallest_normal, info.smallest_subnormal, info.eps
    (448.0, 0.015625, 0.001953125, 0.125)
    >>> lpcore.formats()["fp4_e2m1"].max
    6.0
    """
    return dict(_INFO)


def check_format(format) -> int:
    """The enum code of a format name; raises ValueError for anything else."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    return FORMATS.index(format)


def check_rounding(rounding) -> int:
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    return ROUNDINGS.index(rounding)


def check_overflow(format: str, overflow) -> int:
    if overflow not in OVERFLOWS:
        raise ValueError(f"overflow must be one of {OVERFLOWS}, got {overflow!r}")
    if overflow == "ieee" and not (_INFO[format].has_inf or _INFO[format].has_nan):
        raise ValueError(
            f"{format} has no infinity and no NaN, so overflow='ieee' has nothing to overflow to; "
            f"use overflow='saturate' (values beyond {_INFO[format].max:g} become +-{_INFO[format].max:g})"
        )
    return OVERFLOWS.index(overflow)


def _float32_input(x, overflow: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"x must be numeric (bool, integer or float), got dtype {arr.dtype}")
    with np.errstate(over="ignore"):
        out = np.asarray(arr, dtype=np.float32, order="C")
    if overflow == "saturate" and np.isnan(out).any():
        raise ValueError(
            "x contains NaN, which has no saturated value; remove it, or pass overflow='ieee' "
            "to let NaN through"
        )
    return out


def quantize_float(x, format, rounding="nearest", overflow="saturate", random_state=None, *, backend=None):
    """Round values onto the grid of a low-precision float format.

    The values are first converted to float32 (the working precision of the
    simulation), then rounded onto the format's grid exactly, including its
    subnormals, and returned as float32: every returned value is
    representable in ``format``. With ``rounding="nearest"`` the result is
    bit for bit what ``ml_dtypes`` gives when casting float32 to the format
    and back.

    Parameters
    ----------
    x : array-like of numbers
        Values to round. Any shape.
    format : {"fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp4_e2m1"}
        The target format (see :func:`formats`).
    rounding : {"nearest", "toward_zero", "stochastic"}, default="nearest"
        ``"nearest"`` rounds half to even. ``"toward_zero"`` truncates.
        ``"stochastic"`` rounds up in magnitude with probability equal to the
        dropped fraction of a grid step, so the expected result is ``x`` for
        values within range. It uses 32 random bits per value: exact for any
        value at least ``2**-32`` grid steps from the grid below it.
    overflow : {"saturate", "ieee"}, default="saturate"
        What a value beyond the largest finite one becomes. ``"saturate"``:
        ``+-max`` (infinite inputs too; NaN input raises). ``"ieee"``:
        ``+-inf`` for fp16, bf16 and fp8_e5m2, NaN for fp8_e4m3 (OCP
        E4M3FN has no infinity); ``"toward_zero"`` rounding gives ``+-max``
        as IEEE 754 specifies; NaN input stays NaN. fp4_e2m1 has neither
        inf nor NaN and accepts only ``"saturate"``.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        Seeds stochastic rounding. The same seed gives the same result on
        every backend.
    backend : {"scalar", "avx2"} or None, default=None
        Kernel backend; None uses the active one (:func:`lpcore.backend`).

    Returns
    -------
    ndarray of float32
        The rounded values, with the shape of ``x``.

    Raises
    ------
    ValueError
        For an unknown format, rounding or overflow policy, non-numeric
        input, NaN with ``overflow="saturate"``, or ``overflow="ieee"``
        with fp4_e2m1.

    Examples
    --------
    >>> import lpcore
    >>> lpcore.quantize_float([1.1, 300.0, 1000.0, 0.0009], "fp8_e4m3")
    array([  1.125, 288.   , 448.   ,   0.   ], dtype=float32)
    >>> lpcore.quantize_float([1000.0], "fp8_e4m3", overflow="ieee")
    array([nan], dtype=float32)
    >>> lpcore.quantize_float([0.2, 0.3, 2.4, 7.0], "fp4_e2m1")
    array([0. , 0.5, 2. , 6. ], dtype=float32)
    >>> lpcore.quantize_float([2.6, -2.6], "fp4_e2m1", rounding="toward_zero")
    array([ 2., -2.], dtype=float32)
    """
    fmt = check_format(format)
    mode = check_rounding(rounding)
    ovf = check_overflow(format, overflow)
    xf = _float32_input(x, overflow)
    seed = seed_from(random_state) if rounding == "stochastic" else 0
    out, _ = _core.quantize_float(xf.reshape(-1), fmt, mode, ovf, seed, check_backend(backend))
    return out.reshape(xf.shape)


def dynamic_scale(g, format) -> float:
    """The power-of-two loss scale that ``scale="dynamic"`` picks for ``g``.

    The largest ``S = 2**k`` with ``S * max|g| <= max`` of the format
    (``k`` limited to ``DYNAMIC_SCALE_EXPONENTS``), as FP8 training recipes
    choose per-tensor scales; 1.0 for an all-zero ``g``. The training loop
    (``grad_scaling="dynamic"``) uses the same rule for every step, and 1.0
    for a step whose gradient is not finite (the divergence check then
    stops the fit). Here a non-numeric ``g``, or NaN or infinity in it,
    raise ValueError.

    Examples
    --------
    >>> import lpcore
    >>> from lpcore.float_formats import dynamic_scale
    >>> dynamic_scale([0.01, -0.5], "fp8_e4m3")  # 0.5 * 512 = 256 <= 448 < 512
    512.0
    """
    check_format(format)
    ga = np.asarray(g)
    if ga.dtype.kind not in "biuf":
        raise ValueError(f"g must be numeric, got dtype {ga.dtype}")
    amax = float(np.max(np.abs(ga.astype(np.float64)), initial=0.0))
    if not math.isfinite(amax):
        raise ValueError("g contains NaN or infinity; a loss scale is chosen for finite gradients only")
    if amax == 0:
        return 1.0
    top = _INFO[format].max
    k = math.floor(math.log2(top) - math.log2(amax))  # not log2(top / amax): that overflows for a subnormal amax
    while math.ldexp(amax, k) > top:
        k -= 1
    while math.ldexp(amax, k + 1) <= top:
        k += 1
    lo, hi = DYNAMIC_SCALE_EXPONENTS
    return math.ldexp(1.0, min(max(k, lo), hi))


def _loss_scale(g: np.ndarray, format: str, scale) -> float:
    if scale is None:
        return 1.0
    if isinstance(scale, str):
        if scale != "dynamic":
            raise ValueError(f"scale must be None, a positive float or 'dynamic', got {scale!r}")
        return dynamic_scale(g, format)
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not (0 < float(scale) < math.inf):
        raise ValueError(f"scale must be None, a positive finite float or 'dynamic', got {scale!r}")
    return float(scale)


def shrinkage(g, format, rounding="nearest", scale=None, overflow="saturate", random_state=None, *, backend=None):
    """Measure how quantizing ``g`` to a float format shrinks it.

    Computes ``g^ = Q(S g) / S`` with :func:`quantize_float` and compares it
    with ``g`` (both as float64).

    Parameters
    ----------
    g : array-like of numbers
        The vector (any shape; flattened). Must be finite and not all zero.
    format, rounding, overflow, random_state, backend
        As in :func:`quantize_float`.
    scale : None, float or "dynamic", default=None
        Loss scale ``S``. None: no scaling (the paper's setting). A float: a
        fixed scale. ``"dynamic"``: the power-of-two scale of
        :func:`dynamic_scale`.

    Returns
    -------
    dict
        ``norm_ratio``: ``||g^|| / ||g||``, the paper's measure of ``q``.
        ``projection``: ``<g^, g> / ||g||^2``, the ``q`` of ``g^ = q g + eps``
        with ``eps`` orthogonal to ``g``, which is what enters the descent
        inequality. ``zero_fraction``: the fraction of the nonzero entries of
        ``g`` flushed to zero. ``relative_error``: ``||g^ - g|| / ||g||``.
        ``scale``: the ``S`` used. The module docstring explains why the two
        measures of ``q`` disagree.

    Raises
    ------
    ValueError
        For NaN or inf in ``g``, an all-zero ``g``, a bad ``scale``, or the
        errors of :func:`quantize_float`.

    Examples
    --------
    >>> import numpy as np
    >>> import lpcore
    >>> g = np.exp(-0.2 * np.arange(100))
    >>> s = lpcore.shrinkage(g, "fp8_e4m3")
    >>> round(s["norm_ratio"], 4), round(s["projection"], 4), s["zero_fraction"]
    (1.0061, 1.0059, 0.65)
    >>> round(lpcore.shrinkage(g, "fp8_e4m3", scale="dynamic")["zero_fraction"], 2)
    0.37
    """
    ga = np.asarray(g)
    if ga.dtype.kind not in "biuf":
        raise ValueError(f"g must be numeric, got dtype {ga.dtype}")
    g64 = ga.astype(np.float64).ravel()
    if not np.isfinite(g64).all():
        raise ValueError("g contains NaN or infinity; shrinkage is measured on finite gradients only")
    peak = float(np.abs(g64).max()) if g64.size else 0.0
    if peak == 0:
        raise ValueError("g is all zeros, so q (a ratio to ||g||) is undefined; pass a nonzero vector")
    S = _loss_scale(g64, format, scale)
    with np.errstate(over="ignore"):
        scaled32 = (g64 * S).astype(np.float32)
    if not np.isfinite(scaled32).all():
        raise ValueError(
            f"g * scale reaches {peak * S:.3g}, beyond the float32 range (3.4e38) in which the formats are "
            f"simulated; rescale g, or pass a smaller scale (or scale='dynamic')"
        )
    q = quantize_float(scaled32, format, rounding, overflow, random_state, backend=backend).astype(np.float64) / S
    # The ratios, on g and q divided by max |g|: no square overflows or underflows.
    gn, qn = g64 / peak, q / peak
    gg = float(gn @ gn)
    nonzero = g64 != 0
    return {
        "norm_ratio": float(np.sqrt((qn @ qn) / gg)),
        "projection": float((qn @ gn) / gg),
        "zero_fraction": float(np.count_nonzero(nonzero & (q == 0)) / np.count_nonzero(nonzero)),
        "relative_error": float(np.linalg.norm(qn - gn) / math.sqrt(gg)),
        "scale": S,
    }


__all__ = [
    "FORMATS",
    "OVERFLOWS",
    "ROUNDINGS",
    "FloatFormatInfo",
    "dynamic_scale",
    "formats",
    "quantize_float",
    "shrinkage",
]
