"""Fuzz ``quantize``/``dequantize``, ``quantize_float``, ``shrinkage`` and ``dynamic_scale``.

The contract: a ValueError or TypeError with a message, or a result that
keeps the documented promises (on the grid, representable in the format,
finite statistics), the same on every backend for the same seed. Each case
runs in a forked child, so a crash fails the case with its input.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from hypothesis import event, given, note
from hypothesis import strategies as st
from fuzz.settings import FUZZ
from isolation import isolated

from lpcore import dequantize, formats, quantize, quantize_float, shrinkage, supported_backends
from lpcore.float_formats import DYNAMIC_SCALE_EXPONENTS, dynamic_scale

BACKENDS = supported_backends()
FORMATS = formats()
ML_DTYPES = {"fp16": np.float16, "bf16": ml_dtypes.bfloat16, "fp8_e4m3": ml_dtypes.float8_e4m3fn,
             "fp8_e5m2": ml_dtypes.float8_e5m2, "fp4_e2m1": ml_dtypes.float4_e2m1fn}
MAGNITUDES = [1.0, 1e-3, 1e3, 1e-45, 1e-40, 1e-20, 1e-8, 1e5, 1e20, 1e38, 3.4e38, 1e39, 1e200, 1e-200]


@st.composite
def values(draw):
    """Numbers as a user might pass them: any shape, dtype, magnitude, with zeros, NaN and infinity."""
    shape = draw(st.sampled_from([(), (0,), (1,), (5,), (33,), (1000,), (3, 4), (4, 3), (2, 3, 5), (0, 3)]))
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    x = np.asarray(rng.standard_normal(shape) * draw(st.sampled_from(MAGNITUDES)))
    if draw(st.booleans()) and x.size:  # a spread of magnitudes: subnormals beside large values
        x = np.asarray(x * np.exp(rng.uniform(-30, 30, shape)))
    hostile = draw(st.integers(0, 3)) == 0
    if hostile and x.size:
        special = draw(st.sampled_from([0.0, np.nan, np.inf, -np.inf, 1e39, 1e300, 5e-324]))
        x[np.unravel_index(rng.randint(x.size), x.shape)] = special
    if draw(st.integers(0, 4)) == 0:
        x = np.zeros(shape)
    dtype = draw(st.sampled_from(["float64", "float32"] + (["float16", "int64", "bool", "complex128", "object"]
                                                             if hostile else [])))
    with np.errstate(all="ignore"):
        x = x.astype(dtype)
    if x.ndim == 2 and draw(st.booleans()):
        x = np.asfortranarray(x) if draw(st.booleans()) else x[::-1, ::2]
    return x


def _message(exc):
    assert str(exc).strip(), f"{type(exc).__name__} with no message"
    return f"raised {type(exc).__name__}"


@FUZZ
@given(x=values(), bits=st.sampled_from([8, 16] * 4 + [32, 4, True, "8"]),
       scale=st.sampled_from([None] * 8 + [1.0, 1e-3, 1e-45, 1e30, 3e38, 0.0, -1.0, float("nan"), float("inf"),
                                           "array", "array", "bad array"]),
       rounding=st.sampled_from(["stochastic", "nearest"] * 4 + ["up"]),
       axis=st.sampled_from([None] * 4 + [0, 1, -1, 3, "0"]),
       seed=st.integers(0, 2**32 - 1))
def test_quantize_contract(x, bits, scale, rounding, axis, seed):
    if isinstance(scale, str):
        n = np.shape(x)[axis] if isinstance(axis, int) and -np.ndim(x) <= axis < np.ndim(x) else 1
        scale = np.abs(np.random.RandomState(seed).standard_normal(n)) + 0.1 if scale == "array" else np.ones(7)
    note(f"x {np.asarray(x).dtype}{np.shape(x)}, bits={bits!r}, scale={scale!r}, rounding={rounding!r}, axis={axis!r}")

    def run():
        try:
            q, s = quantize(x, bits, scale=scale, rounding=rounding, random_state=seed, axis=axis)
        except (ValueError, TypeError) as exc:
            return _message(exc)
        lim = 2 ** (bits - 1) - 1
        assert q.dtype == (np.int8 if bits == 8 else np.int16) and q.shape == np.shape(x)
        assert np.abs(q.astype(np.int64)).max(initial=0) <= lim
        s_arr = np.asarray(s, dtype=np.float64)
        assert np.isfinite(s_arr).all() and (s_arr > 0).all(), f"scale {s!r}"
        back = dequantize(q, s)
        assert back.shape == q.shape and np.isfinite(back).all()
        if scale is None:  # a chosen scale: nothing saturates, every value within one grid step
            err = np.abs(back.astype(np.float64) - np.asarray(x, dtype=np.float32).astype(np.float64))
            assert (err <= 1.001 * np.broadcast_to(s_arr, q.shape) + 1e-45).all(), f"off by {err.max()}"
        return "returned"
    event(isolated(run, timeout=60))


@FUZZ
@given(x=values(), fmt=st.sampled_from(sorted(FORMATS) + ["fp64", 3]),
       rounding=st.sampled_from(["nearest", "toward_zero", "stochastic", "up"]),
       overflow=st.sampled_from(["saturate", "ieee", "wrap"]), seed=st.integers(0, 2**32 - 1))
def test_quantize_float_contract(x, fmt, rounding, overflow, seed):
    note(f"x {np.asarray(x).dtype}{np.shape(x)}, {fmt!r}, {rounding!r}, {overflow!r}")

    def run():
        results = {}
        for be in BACKENDS:
            try:
                results[be] = quantize_float(x, fmt, rounding, overflow, random_state=seed, backend=be)
            except (ValueError, TypeError) as exc:
                results[be] = _message(exc)
        first = results[BACKENDS[0]]
        for be, r in results.items():
            assert type(r) is type(first), f"{be}: {r!r} vs {first!r}"
            if isinstance(r, np.ndarray):
                assert r.tobytes() == first.tobytes(), f"{be} differs from {BACKENDS[0]}"
        if isinstance(first, str):
            return first
        r = first
        assert r.dtype == np.float32 and r.shape == np.shape(x)
        top = FORMATS[fmt].max
        finite = np.isfinite(r)
        if overflow == "saturate":
            assert finite.all() and (np.abs(r) <= top).all()
        # Every value is representable: rounding it again to nearest changes nothing.
        again = quantize_float(r[finite], fmt)
        assert np.array_equal(again, r[finite])
        if rounding == "nearest":  # bit for bit ml_dtypes' cast, where the value is in range
            x32 = np.asarray(x).astype(np.float32)
            inside = np.abs(x32) <= top
            ref = x32[inside].astype(ML_DTYPES[fmt]).astype(np.float32)
            assert np.array_equal(r[inside], ref)
        return "returned"
    event(isolated(run, timeout=60))


@FUZZ
@given(g=values(), fmt=st.sampled_from(sorted(FORMATS) + ["fp64"]),
       rounding=st.sampled_from(["nearest", "toward_zero", "stochastic"]),
       scale=st.sampled_from([None, None, "dynamic", 1.0, 1e3, 1e-30, 1e30, 0.0, -1.0, float("inf"), "static", True]),
       overflow=st.sampled_from(["saturate", "ieee"]))
def test_shrinkage_contract(g, fmt, rounding, scale, overflow):
    note(f"g {np.asarray(g).dtype}{np.shape(g)}, {fmt!r}, {rounding!r}, scale={scale!r}, {overflow!r}")

    def run():
        try:
            s = shrinkage(g, fmt, rounding=rounding, scale=scale, overflow=overflow, random_state=0)
        except (ValueError, TypeError) as exc:
            return _message(exc)
        assert set(s) >= {"norm_ratio", "projection", "zero_fraction", "relative_error", "scale"}
        if overflow == "saturate":  # every measure finite; with "ieee" an overflow may give inf or NaN
            assert all(math.isfinite(v) for v in s.values()), s
            assert s["norm_ratio"] >= 0 and s["relative_error"] >= 0
        assert 0.0 <= s["zero_fraction"] <= 1.0 and s["scale"] > 0
        return "returned"
    event(isolated(run, timeout=60))


@FUZZ
@given(g=values(), fmt=st.sampled_from(sorted(FORMATS) + ["fp64"]))
def test_dynamic_scale_contract(g, fmt):
    def run():
        try:
            S = dynamic_scale(g, fmt)
        except (ValueError, TypeError) as exc:
            return _message(exc)
        m, k = math.frexp(S)
        assert m == 0.5 and DYNAMIC_SCALE_EXPONENTS[0] <= k - 1 <= DYNAMIC_SCALE_EXPONENTS[1], S
        amax = float(np.max(np.abs(np.asarray(g, dtype=np.float64)), initial=0.0))
        lo, hi = DYNAMIC_SCALE_EXPONENTS
        if amax == 0:
            assert S == 1.0
        else:  # the largest power of two that keeps S * max|g| within the format, within the limits
            top = FORMATS[fmt].max
            assert k - 1 == lo or S * amax <= top, (S, amax)
            assert k - 1 == hi or 2 * S * amax > top, (S, amax)
        return "returned"
    event(isolated(run, timeout=60))
