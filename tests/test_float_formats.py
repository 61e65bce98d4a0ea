"""lpcore.quantize_float and lpcore.formats: exact float-format rounding."""

import math

import ml_dtypes
import numpy as np
import pytest
import reference
from conftest import BACKENDS
from lpcore import _core, formats, quantize_float
from lpcore.float_formats import FORMATS, OVERFLOWS, ROUNDINGS

DTYPES = {
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
}
CODE_BITS = {"fp16": 16, "bf16": 16, "fp8_e4m3": 8, "fp8_e5m2": 8, "fp4_e2m1": 4}


def finfo(fmt):
    return ml_dtypes.finfo(DTYPES[fmt])


def fmt_params(fmt):
    """(mantissa bits, emin, max) from ml_dtypes, independently of lpcore."""
    fi = finfo(fmt)
    return int(fi.nmant), int(fi.minexp), float(fi.max)


def grid(fmt):
    """Every finite non-negative value of the format, ascending (from ml_dtypes)."""
    codes = np.arange(2 ** CODE_BITS[fmt], dtype=np.uint16 if CODE_BITS[fmt] == 16 else np.uint8)
    if fmt == "fp4_e2m1":
        values = codes.astype(np.uint8).view(ml_dtypes.float4_e2m1fn)
    else:
        values = codes.view(DTYPES[fmt])
    with np.errstate(invalid="ignore"):
        v = values.astype(np.float64)
    return np.unique(v[np.isfinite(v) & (v >= 0)])


def cases(fmt, n_random=1_000_000, seed=0):
    """>= 10^6 float32 values: random over the whole range, every tie, subnormals, around overflow."""
    rng = np.random.default_rng(seed)
    parts = []
    bits = rng.integers(0, 2**32, n_random, dtype=np.uint64).astype(np.uint32)
    r = bits.view(np.float32)
    parts.append(r[np.isfinite(r)])
    # log-uniform magnitudes over the format's own range, where most of its grid is
    fi = finfo(fmt)
    lo, hi = math.log2(float(fi.smallest_subnormal)) - 3, math.log2(float(fi.max)) + 1
    with np.errstate(over="ignore"):  # bf16's range reaches past float32's: those become inf, dropped below
        parts.append((rng.choice([-1, 1], 200_000) * np.exp2(rng.uniform(lo, hi, 200_000))).astype(np.float32))
    g = grid(fmt)
    g = g[g < 2.0**120] if fmt == "bf16" else g  # keep neighbours finite in float32
    mid = ((g[1:] + g[:-1]) / 2).astype(np.float32)  # every tie (exact in float32)
    assert np.array_equal(mid.astype(np.float64), (g[1:] + g[:-1]) / 2)
    top = float(fi.max)
    above = np.array([top + k * float(fi.eps) * top for k in (0.25, 0.5, 0.75, 1, 2)] + [top * 1e3, 3e38])
    above = above[above < np.finfo(np.float32).max]
    centres = np.concatenate([mid, g.astype(np.float32), above.astype(np.float32)])
    for c in (centres, -centres):
        parts += [c, np.nextafter(c, np.float32(np.inf)), np.nextafter(c, np.float32(-np.inf))]
    # float32 subnormal inputs and the format's own subnormal range
    parts.append(rng.integers(0, 2**23, 20_000, dtype=np.uint32).view(np.float32))
    parts.append((rng.uniform(-1, 1, 50_000) * float(fi.smallest_normal)).astype(np.float32))
    parts.append(np.array([0.0, -0.0], dtype=np.float32))
    out = np.concatenate(parts).astype(np.float32)
    return out[np.isfinite(out)]


def same_bits(a, b):
    return (a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))


@pytest.mark.parametrize("fmt", FORMATS)
def test_nearest_matches_ml_dtypes_bit_for_bit(fmt, backend):
    x = cases(fmt)
    assert x.size >= 1_000_000
    fi = finfo(fmt)
    top = np.float32(fi.max)
    # saturate: ml_dtypes' E4M3FN cast turns overflow into NaN, so compare after
    # clipping (every other ml_dtypes cast here rounds first, then overflows)
    with np.errstate(over="ignore"):
        want_sat = np.clip(x, -top, top).astype(DTYPES[fmt]).astype(np.float32)
    got = quantize_float(x, fmt, "nearest", "saturate", backend=backend)
    bad = ~same_bits(got, want_sat)
    assert not bad.any(), (fmt, x[bad][:5], got[bad][:5], want_sat[bad][:5])
    # ieee: exactly ml_dtypes' cast (inf, or NaN for E4M3FN); FP4 has neither
    if fmt != "fp4_e2m1":
        with np.errstate(over="ignore"):
            want = x.astype(DTYPES[fmt]).astype(np.float32)
        got = quantize_float(x, fmt, "nearest", "ieee", backend=backend)
        bad = ~same_bits(got, want)
        assert not bad.any(), (fmt, x[bad][:5], got[bad][:5], want[bad][:5])
        overflowed = np.isinf(got) if formats()[fmt].has_inf else np.isnan(got) & ~np.isnan(x)
        assert overflowed.any()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rounding", ["toward_zero", "stochastic"])
def test_other_roundings_match_numpy_reference(fmt, rounding, backend):
    x = cases(fmt, n_random=100_000, seed=1)[::4].copy()
    M, emin, top = fmt_params(fmt)
    seed = 12345
    words = reference.float_words(seed, x.size) if rounding == "stochastic" else None
    want = reference.quantize_float_reference(x, M, emin, top, rounding, words)
    got = quantize_float(x, fmt, rounding, "saturate", random_state=seed, backend=backend)
    bad = ~same_bits(got, want)
    assert not bad.any(), (fmt, rounding, x[bad][:5], got[bad][:5], want[bad][:5])
    # every result lies on the format's grid
    assert np.isin(np.abs(got).astype(np.float64), grid(fmt)).all()


def test_nearest_reference_agrees_with_ml_dtypes():
    """The NumPy twin is itself checked, so the comparisons above mean something."""
    for fmt in FORMATS:
        x = cases(fmt, n_random=20_000, seed=2)[::7].copy()
        M, emin, top = fmt_params(fmt)
        with np.errstate(over="ignore"):
            want = np.clip(x, -top, top).astype(DTYPES[fmt]).astype(np.float32)
        assert same_bits(reference.quantize_float_reference(x, M, emin, top, "nearest"), want).all(), fmt


@pytest.mark.parametrize("rounding", ["nearest", "toward_zero", "stochastic"])
def test_backends_agree_on_every_length_and_alignment(rounding):
    if len(BACKENDS) < 2:
        pytest.skip("only the scalar backend on this CPU")
    rng = np.random.default_rng(3)
    base = (rng.standard_normal(200) * np.exp2(rng.integers(-30, 30, 200))).astype(np.float32)
    for fmt in FORMATS:
        for start in range(4):
            for n in range(0, 18):
                x = base[start : start + n]  # misaligned views of one buffer
                a = quantize_float(x, fmt, rounding, random_state=7, backend="scalar")
                b = quantize_float(x, fmt, rounding, random_state=7, backend="avx2")
                assert same_bits(a, b).all(), (fmt, rounding, start, n)


def test_backends_agree_on_special_values():
    if len(BACKENDS) < 2:
        pytest.skip("only the scalar backend on this CPU")
    special = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 1.0] * 3,
                       dtype=np.float32)
    for fmt in FORMATS:
        for rounding in ("nearest", "toward_zero", "stochastic"):
            for overflow in ("saturate", "ieee"):
                codes = (FORMATS.index(fmt), ROUNDINGS.index(rounding), OVERFLOWS.index(overflow))
                a = _core.quantize_float(special, *codes, 5, "scalar")
                b = _core.quantize_float(special, *codes, 5, "avx2")
                assert same_bits(a[0], b[0]).all() and a[1] == b[1], (fmt, rounding, overflow)


def test_special_values_and_overflow_policies(backend):
    inf = np.float32(np.inf)
    x = np.array([inf, -inf, 1e6, -1e6, 0.0, -0.0], dtype=np.float32)
    out = quantize_float(x, "fp16", overflow="saturate", backend=backend)
    assert out.tolist() == [65504.0, -65504.0, 65504.0, -65504.0, 0.0, 0.0]
    assert np.signbit(out[5]) and not np.signbit(out[4])
    out = quantize_float(x, "fp16", overflow="ieee", backend=backend)
    assert out[:4].tolist() == [inf, -inf, inf, -inf]
    # IEEE 754 roundTowardZero: finite overflow gives the largest finite value
    out = quantize_float(x, "fp16", "toward_zero", overflow="ieee", backend=backend)
    assert out[:4].tolist() == [inf, -inf, 65504.0, -65504.0]
    out = quantize_float(x, "fp8_e4m3", overflow="ieee", backend=backend)
    assert np.isnan(out[:4]).all()
    out = quantize_float([np.nan, -5.0], "bf16", overflow="ieee", backend=backend)
    assert np.isnan(out[0]) and out[1] == -5.0
    assert quantize_float([7.0, -100.0], "fp4_e2m1", backend=backend).tolist() == [6.0, -6.0]
    # values just below the smallest subnormal's half flush to zero, just above round up
    tiny = formats()["fp8_e5m2"].smallest_subnormal
    got = quantize_float([tiny / 2, np.nextafter(np.float32(tiny / 2), 1)], "fp8_e5m2", backend=backend)
    assert got.tolist() == [0.0, tiny]


def test_stochastic_rounding_is_unbiased():
    """Mean of 200,000 stochastic roundings of each value lies within 4 standard errors of it."""
    values = np.array([0.3, -1.7, 2.6, 5.9, 0.001, -0.0123, 333.3, 1e-5, 7e-3, 0.26], dtype=np.float32)
    repeats = 200_000
    for fmt in ("fp8_e4m3", "fp4_e2m1", "bf16"):
        x = np.repeat(values, repeats)
        top = formats()[fmt].max
        inside = np.abs(values) <= top
        q = quantize_float(x, fmt, "stochastic", random_state=0).astype(np.float64).reshape(values.size, repeats)
        mean, se = q.mean(axis=1), q.std(axis=1, ddof=1) / math.sqrt(repeats)
        target = values.astype(np.float64)
        on_grid = se == 0
        assert (on_grid == np.isin(np.abs(target), grid(fmt)))[inside].all()
        assert np.all(np.abs(mean - target)[inside] <= 4 * se[inside] + 1e-12 * np.abs(target[inside])), fmt
        # the same test catches a biased rounding: truncation fails it
        t = quantize_float(x, fmt, "toward_zero").astype(np.float64).reshape(values.size, repeats).mean(axis=1)
        assert np.any(np.abs(t - target)[inside & ~on_grid] > 4 * se[inside & ~on_grid])


def test_same_seed_same_result_different_seed_different():
    x = np.linspace(-3, 3, 1001, dtype=np.float32)
    a = quantize_float(x, "fp4_e2m1", "stochastic", random_state=1)
    b = quantize_float(x, "fp4_e2m1", "stochastic", random_state=1)
    c = quantize_float(x, "fp4_e2m1", "stochastic", random_state=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_formats_match_ml_dtypes_finfo():
    info = formats()
    assert list(info) == list(FORMATS)
    for fmt in FORMATS:
        fi = finfo(fmt)
        got = info[fmt]
        assert got.max == float(fi.max)
        assert got.smallest_normal == float(fi.smallest_normal)
        assert got.smallest_subnormal == float(fi.smallest_subnormal)
        assert got.eps == float(fi.eps)
        assert got.mantissa_bits == int(fi.nmant)
        assert got.has_inf == bool(np.isinf(np.array(np.inf, np.float32).astype(DTYPES[fmt]).astype(np.float32)))
    assert not info["fp8_e4m3"].has_inf and info["fp8_e4m3"].has_nan
    assert not info["fp4_e2m1"].has_nan


def test_shape_and_dtype():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4)[:, ::2]
    out = quantize_float(x, "bf16")
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.array_equal(out, x.astype(np.float32))
    assert quantize_float([], "fp16").shape == (0,)
    assert quantize_float(3, "fp16").shape == ()


def test_bad_input_is_rejected_clearly():
    with pytest.raises(ValueError, match="format must be one of"):
        quantize_float([1.0], "fp32")
    with pytest.raises(ValueError, match="rounding must be one of"):
        quantize_float([1.0], "fp16", rounding="up")
    with pytest.raises(ValueError, match="overflow must be one of"):
        quantize_float([1.0], "fp16", overflow="wrap")
    with pytest.raises(ValueError, match="no infinity and no NaN"):
        quantize_float([1.0], "fp4_e2m1", overflow="ieee")
    with pytest.raises(ValueError, match="NaN"):
        quantize_float([1.0, np.nan], "fp16")
    with pytest.raises(ValueError, match="numeric"):
        quantize_float(["a"], "fp16")
    with pytest.raises(ValueError, match="random_state"):
        quantize_float([1.0], "fp16", "stochastic", random_state="x")
    with pytest.raises(ValueError, match="backend"):
        quantize_float([1.0], "fp16", backend="neon")
    # the private core range-checks the enum codes it indexes tables with
    x = np.ones(3, dtype=np.float32)
    for args in ((5, 0, 0), (-1, 0, 0), (0, 3, 0), (0, 0, 2)):
        with pytest.raises(ValueError, match="out of range"):
            _core.quantize_float(x, *args, 0)
