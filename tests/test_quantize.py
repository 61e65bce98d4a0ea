"""lpcore.quantize / dequantize and the quantization kernels."""

import numpy as np
import pytest
import reference
from conftest import BACKENDS
from lpcore import dequantize, kernels, quantize


def test_nearest_rounds_half_to_even_and_roundtrips():
    q, s = quantize([0.5, 1.5, 2.5, -0.5, -2.5, 127.0], bits=8, scale=1.0, rounding="nearest")
    assert q.dtype == np.int8 and s == 1.0
    assert q.tolist() == [0, 2, 2, 0, -2, 127]
    x = np.random.default_rng(0).standard_normal((50, 20))
    for bits in (8, 16):
        q, s = quantize(x, bits=bits, rounding="nearest")
        assert q.dtype == (np.int8 if bits == 8 else np.int16)
        assert np.abs(q).max() == 2 ** (bits - 1) - 1  # the default scale uses the whole grid
        assert np.abs(dequantize(q, s) - x).max() <= s / 2 * (1 + 1e-5)
        q, s = quantize(x, bits=bits, rounding="stochastic", random_state=0)
        assert np.abs(dequantize(q, s) - x).max() < s * (1 + 1e-5)


def test_per_row_and_per_column_scales():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 9)) * np.arange(1, 7)[:, None]
    q, s = quantize(x, bits=8, axis=1, rounding="nearest")
    assert s.shape == (6, 1)
    np.testing.assert_allclose(s[:, 0], np.abs(x).max(axis=1) / 127, rtol=1e-6)
    assert (np.abs(q).max(axis=1) == 127).all()
    q0, s0 = quantize(x, bits=16, axis=0, rounding="nearest")
    assert s0.shape == (1, 9) and q0.shape == x.shape
    np.testing.assert_allclose(dequantize(q0, s0), x, atol=float(s0.max()))
    q_given, _ = quantize(x, bits=8, axis=1, scale=s, rounding="nearest")
    assert np.array_equal(q_given, q)


def test_given_scale_saturates_and_zero_rows():
    q, s = quantize([10.0, -10.0, 0.1], bits=8, scale=0.01, rounding="nearest")
    assert q.tolist() == [127, -127, 10]
    q, s = quantize(np.zeros((2, 3)), bits=8, axis=1)
    assert (q == 0).all() and (s == 1.0).all()
    q, s = quantize(np.zeros(0), bits=16)
    assert q.shape == (0,) and q.dtype == np.int16


def test_accepts_float64_noncontiguous_and_lists():
    rng = np.random.default_rng(2)
    big = rng.standard_normal((40, 30))
    view = big[::2, ::3]
    assert not view.flags.c_contiguous
    q1, s1 = quantize(view, bits=8, random_state=5)
    q2, s2 = quantize(np.ascontiguousarray(view, dtype=np.float32), bits=8, random_state=5)
    assert np.array_equal(q1, q2) and s1 == s2
    q3, _ = quantize(view.tolist(), bits=8, random_state=5)
    assert np.array_equal(q1, q3)


@pytest.mark.parametrize("bits", [0, 4, 7, 32, True, "8", 8.5])
def test_bits_must_be_8_or_16(bits):
    with pytest.raises(ValueError, match="bits must be one of"):
        quantize([1.0], bits=bits)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad):
    with pytest.raises(ValueError, match="NaN or infinity"):
        quantize([1.0, bad], bits=8)


def test_other_bad_input():
    with pytest.raises(ValueError, match="numeric"):
        quantize(["a", "b"], bits=8)
    with pytest.raises(ValueError, match="float32 range"):
        quantize([1e300], bits=8)
    with pytest.raises(ValueError, match="rounding"):
        quantize([1.0], bits=8, rounding="up")
    for scale in (0.0, -1.0):
        with pytest.raises(ValueError, match="positive"):
            quantize([1.0], bits=8, scale=scale)
    with pytest.raises(ValueError, match="NaN"):
        quantize([1.0], bits=8, scale=np.nan)
    with pytest.raises(ValueError, match="out of range"):
        quantize([1.0], bits=8, axis=1)
    with pytest.raises(ValueError, match="broadcast"):
        quantize(np.ones((3, 4)), bits=8, axis=1, scale=[1.0, 2.0])
    with pytest.raises(ValueError, match="random_state"):
        quantize([1.0], bits=8, random_state="seed")
    with pytest.raises(ValueError, match="integer"):
        dequantize([0.5], 1.0)


def test_same_seed_same_codes_on_every_backend():
    rng = np.random.default_rng(3)
    for bits in (8, 16):
        for n in list(range(0, 18)) + [1000]:
            x = rng.standard_normal((3, n)).astype(np.float32)
            scales = np.array([0.01, 0.1, 1.0], dtype=np.float32) * (1 if bits == 8 else 1e-3)
            for stochastic in (False, True):
                want = reference.quantize_reference(x, scales, bits, stochastic, 42)
                for be in BACKENDS:
                    got, _ = kernels.quantize_rows(x, scales, bits, stochastic=stochastic, random_state=42, backend=be)
                    assert np.array_equal(got, want), (bits, n, stochastic, be)
    a, _ = quantize(x, bits=8, random_state=1)
    b, _ = quantize(x, bits=8, random_state=1)
    c, _ = quantize(x, bits=8, random_state=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_stochastic_rounding_is_unbiased():
    """Mean over 10^5 seeds lies within 4 standard errors of x / scale."""
    x = np.array([0.1, -0.37, 0.5, 0.999, -0.001, 3.25, -5.95, 0.3333], dtype=np.float32)
    scale = 0.05
    seeds = 100_000
    samples = np.empty((seeds, x.size))
    for s in range(seeds):
        samples[s] = quantize(x, bits=8, scale=scale, rounding="stochastic", random_state=s)[0]
    target = x.astype(np.float64) / scale
    se = samples.std(axis=0, ddof=1) / np.sqrt(seeds)
    frac = target - np.floor(target)
    assert (se[frac > 1e-3] > 0).all()
    assert np.all(np.abs(samples.mean(axis=0) - target) <= 4 * se + 1e-5)


def test_dequantize_rows_kernel_matches_numpy(backend):
    rng = np.random.default_rng(4)
    for dtype in (np.int8, np.int16):
        q = rng.integers(-127, 128, (5, 37)).astype(dtype)
        s = rng.uniform(0.01, 2, 5).astype(np.float32)
        got = kernels.dequantize_rows(q, s, backend=backend)
        assert np.array_equal(got, q.astype(np.float32) * s[:, None])
        assert np.array_equal(dequantize(q, s[:, None]), got)


def test_row_kernels_refuse_widths_without_a_grid():
    with pytest.raises(ValueError, match="bits must be one of"):
        kernels.quantize_rows([[1.0]], [1.0], 32)
    with pytest.raises(TypeError, match="int8 or int16"):
        kernels.dequantize_rows(np.array([[1]], dtype=np.int32), [1.0])
