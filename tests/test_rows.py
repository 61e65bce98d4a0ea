"""Multi-row kernels of the full-gradient pass: bit for bit the single-row kernels, row after row."""

import numpy as np
import pytest
import reference
from conftest import BACKENDS
from hypothesis import given, settings
from hypothesis import strategies as st
from lpcore import _core

DTYPES = [np.float32, np.int8, np.int16]
# dtype -> (single-row dot, multi-row dot, single-row axpy, multi-row axpy)
KERNELS = {
    np.float32: (_core.dot_f32, _core.dot_rows_f32, _core.axpy_f32, _core.axpy_rows_f32),
    np.int8: (_core.dot_i8_f32, _core.dot_rows_i8_f32, _core.axpy_i8_f32, _core.axpy_rows_i8_f32),
    np.int16: (_core.dot_i16_f32, _core.dot_rows_i16_f32, _core.axpy_i16_f32, _core.axpy_rows_i16_f32),
}
LIM = {np.int8: 127, np.int16: 32767}
# Every length up to 300 (all tails of the 8- and 32-column blocks), then
# lengths with several 2048-column chunks, and rows long enough (8 KiB) to be
# walked in pairs at every width.
LENGTHS = list(range(0, 301)) + [2047, 2048, 2049, 4096 + 40, 8192 + 31, 16384 + 100]
# Row counts for the long lengths: odd counts leave a row out of the pairs,
# 17 and 20 spill over the 16 rows whose dot accumulators are kept at once.
LONG_ROWS = [1, 2, 3, 5, 16, 17, 20]


def bits(a):
    """The bytes of a float32 array, so that -0.0, NaN and every rounding compare exactly."""
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def block(rng, dtype, rows, ld, offset=0):
    """A (rows, ld) block of data whose first element sits `offset` elements past an allocation."""
    size = rows * ld + offset
    if dtype is np.float32:
        # Magnitudes over six decades: any change in the order of a sum changes its rounding.
        flat = (rng.standard_normal(size) * 10.0 ** rng.uniform(-3, 3, size)).astype(np.float32)
    else:
        lim = LIM[dtype]
        flat = rng.integers(-lim, lim + 1, size)
        extremes = rng.random(size) < 0.25
        flat[extremes] = rng.choice([-lim, lim], extremes.sum())
        flat = flat.astype(dtype)
    return flat[offset:].reshape(rows, ld)


def vector(rng, n, offset=0):
    return rng.standard_normal(n + offset).astype(np.float32)[offset:]


def single_row_dots(dtype, x, w, backend):
    dot = KERNELS[dtype][0]
    n = w.size
    return np.array([dot(np.ascontiguousarray(row[:n]), w, backend) for row in x], dtype=np.float32)


def single_row_axpys(dtype, a, x, y, backend):
    axpy = KERNELS[dtype][2]
    y = y.copy()
    for coef, row in zip(a, x):
        axpy(float(coef), np.ascontiguousarray(row[: y.size]), y, backend)
    return y


def check(dtype, x, w, a, y, backend):
    """The multi-row kernels on `backend` against the scalar single-row kernels."""
    _, dot_rows, _, axpy_rows = KERNELS[dtype]
    got = dot_rows(x, w, backend)
    assert got.shape == (x.shape[0],)
    np.testing.assert_array_equal(bits(got), bits(single_row_dots(dtype, x, w, "scalar")))
    out = y.copy()
    axpy_rows(a, x, out, backend)
    np.testing.assert_array_equal(bits(out), bits(single_row_axpys(dtype, a, x, y, "scalar")))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_length_and_row_count(dtype, backend):
    rng = np.random.default_rng(np.dtype(dtype).itemsize)
    for n in LENGTHS:
        for rows in [n % 21] if n <= 300 else LONG_ROWS:  # every row count 0..20 at every tail
            ld = n + n % 3  # rows padded by 0 to 2 elements
            x = block(rng, dtype, rows, ld)
            check(dtype, x, vector(rng, n), vector(rng, rows), vector(rng, n), backend)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset", [1, 3])
def test_misaligned_and_padded_rows(dtype, offset, backend):
    rng = np.random.default_rng(offset)
    for n in [0, 7, 8, 31, 32, 33, 100, 2048 + 33, 8192 + 7]:
        for rows in [0, 1, 4, 7]:
            x = block(rng, dtype, rows, n + 37, offset)
            check(dtype, x, vector(rng, n, offset), vector(rng, rows, offset), vector(rng, n, offset), backend)


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_are_the_dot_and_axpy(dtype, backend):
    # Equal to the single-row kernels, and those compute what they should.
    rng = np.random.default_rng(5)
    n, rows = 3000, 6
    x = block(rng, dtype, rows, n)
    w, a, y = vector(rng, n), vector(rng, rows), vector(rng, n)
    x64 = x.astype(np.float64)
    got = KERNELS[dtype][1](x, w, backend)
    want = x64 @ w.astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(x64 * w).sum(1).max())
    out = y.copy()
    KERNELS[dtype][3](a, x, out, backend)
    want = y + a.astype(np.float64) @ x64
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4 * np.abs(a @ x64).max())


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_integer_axpy_is_one_fma(dtype, backend):
    # y + a x rounded once (fma), not twice. The constructed cases: a x = 64 + 2^-24
    # beside y = 2^30 is just above a float32 midpoint, which a product rounded
    # first, or the float64 sum rounded again, would take down to even; and
    # exact midpoints (1 + 2^-24 and its neighbours) that round to even.
    axpy = KERNELS[dtype][2]
    a_up = np.float32(16519105 * 2.0**-24)  # 65 a = 64 + 2^-24 exactly
    cases = [(a_up, 65, 2.0**30), (-a_up, 65, -(2.0**30)), (-a_up, -65, 2.0**30),
             (2.0**-24, 1, 1.0), (2.0**-24, 3, 1.0), (-(2.0**-25), 1, 1.0), (2.0**-24, -1, -1.0)]
    want_special = [2.0**30 + 128, -(2.0**30 + 128), 2.0**30 + 128, 1.0, 1.0 + 2.0**-22, 1.0, -1.0]
    rng = np.random.default_rng(7)
    lim = LIM[dtype]
    n = 4000
    x = rng.integers(-lim, lim + 1, n)
    y = (rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 6, n)).astype(np.float32)
    for a in [np.float32(0.7), np.float32(-3.1e-4), np.float32(1e5)]:
        out = y.copy()
        axpy(float(a), x.astype(dtype), out, backend)
        np.testing.assert_array_equal(bits(out), bits(reference.fma32(a, x, y)))
    for (a, xi, yi), want in zip(cases, want_special):
        out = np.full(9, yi, np.float32)  # a full 8-lane block and a scalar tail
        axpy(float(a), np.full(9, xi, dtype), out, backend)
        assert np.all(out == np.float32(want)), (a, xi, yi, out)
        assert np.all(reference.fma32(np.float32(a), np.full(9, xi), np.full(9, yi, np.float32)) == np.float32(want))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 700), st.integers(0, 20), st.integers(0, 40), st.integers(0, 2**32 - 1),
       st.sampled_from(DTYPES), st.sampled_from(BACKENDS))
def test_random_differential(n, rows, pad, seed, dtype, backend):
    rng = np.random.default_rng(seed)
    x = block(rng, dtype, rows, n + pad)
    check(dtype, x, vector(rng, n), vector(rng, rows), vector(rng, n), backend)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_arguments_raise(dtype):
    _, dot_rows, _, axpy_rows = KERNELS[dtype]
    x = np.zeros((3, 10), dtype)
    w, y, a = np.zeros(10, np.float32), np.zeros(10, np.float32), np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="x must be 2-D"):
        dot_rows(np.zeros(10, dtype), w)
    with pytest.raises(ValueError, match="w must be 1-D"):
        dot_rows(x, np.zeros((1, 10), np.float32))
    with pytest.raises(ValueError, match="n must not exceed ld"):
        dot_rows(x, np.zeros(11, np.float32))
    with pytest.raises(ValueError, match="x must be 2-D"):
        axpy_rows(a, np.zeros((3, 2, 5), dtype), y)
    with pytest.raises(ValueError, match="y must be 1-D"):
        axpy_rows(a, x, np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="n must not exceed ld"):
        axpy_rows(a, x, np.zeros(11, np.float32))
    with pytest.raises(ValueError, match="one coefficient per row of x"):
        axpy_rows(np.zeros(2, np.float32), x, y)
    with pytest.raises(ValueError, match="one coefficient per row of x"):
        axpy_rows(np.zeros((3, 1), np.float32), x, y)
    with pytest.raises(ValueError, match="unknown backend"):
        dot_rows(x, w, "sse9")
    other = np.int16 if dtype is np.int8 else np.int8
    with pytest.raises(TypeError):  # no silent conversion of the data or the vectors
        dot_rows(x.astype(other), w)
    with pytest.raises(TypeError):
        dot_rows(x, w.astype(np.float64))
    with pytest.raises(TypeError):
        axpy_rows(a, x, y.astype(np.float64))
    with pytest.raises(TypeError):  # a strided view is not a (rows, ld) block
        dot_rows(np.zeros((3, 20), dtype)[:, ::2], w)


def test_empty_blocks(backend):
    for dtype in DTYPES:
        _, dot_rows, _, axpy_rows = KERNELS[dtype]
        assert dot_rows(np.zeros((0, 5), dtype), np.ones(5, np.float32), backend).shape == (0,)
        assert np.array_equal(dot_rows(np.ones((4, 0), dtype), np.ones(0, np.float32), backend), np.zeros(4))
        y = np.arange(5, dtype=np.float32)
        axpy_rows(np.zeros(0, np.float32), np.zeros((0, 5), dtype), y, backend)
        assert np.array_equal(y, np.arange(5))
