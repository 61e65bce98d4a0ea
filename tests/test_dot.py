"""Dot products: exact integer results, bit-identical backends."""

import numpy as np
import pytest
from conftest import BACKENDS
from hypothesis import given, settings
from hypothesis import strategies as st
from lpcore import kernels

LANES = {8: 32, 16: 16}
LIM = {8: 127, 16: 32767}
DTYPE = {8: np.int8, 16: np.int16}
DOT = {8: kernels.dot_i8, 16: kernels.dot_i16}


def exact(a, b):
    return int(np.dot(a.astype(np.int64), b.astype(np.int64)))


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_lengths_offsets_extremes(bits, offset, backend):
    rng = np.random.default_rng(bits + offset)
    lim = LIM[bits]
    for n in range(2 * LANES[bits] + 2):
        for kind in ("random", "max", "mixed"):
            if kind == "random":
                buf = rng.integers(-lim, lim + 1, size=(2, n + offset))
            elif kind == "max":
                buf = np.full((2, n + offset), lim)
            else:
                buf = rng.choice([-lim, lim], size=(2, n + offset))
            buf = buf.astype(DTYPE[bits])
            a, b = buf[0, offset:], buf[1, offset:]  # misaligned start when offset > 0
            assert DOT[bits](a, b, backend=backend) == exact(a, b)


@pytest.mark.parametrize("bits", [8, 16])
def test_exact_for_long_vectors_of_extremes(bits, backend):
    n = 10**7 + 3
    lim = LIM[bits]
    rng = np.random.default_rng(7)
    a = np.full(n, lim, dtype=DTYPE[bits])
    assert DOT[bits](a, a, backend=backend) == n * lim * lim  # overflows int32 many times over
    signs = rng.choice(np.array([-lim, lim], dtype=DTYPE[bits]), size=n)
    assert DOT[bits](a, signs, backend=backend) == exact(a, signs)
    b = -a
    assert DOT[bits](a, b, backend=backend) == -n * lim * lim


@pytest.mark.parametrize("bits", [8, 16])
def test_off_grid_value_is_rejected(bits):
    bad = -(LIM[bits] + 1)
    with pytest.raises(ValueError, match="symmetric"):
        DOT[bits](np.array([1, bad], dtype=DTYPE[bits]), np.array([1, 1], dtype=DTYPE[bits]))
    with pytest.raises(TypeError, match="integer"):
        DOT[bits](np.array([1.5, 2.0]), np.array([1, 1]))
    with pytest.raises(ValueError, match="equal length"):
        DOT[bits](np.array([1, 2]), np.array([1]))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 400), st.integers(0, 2**32 - 1), st.sampled_from([8, 16]))
def test_random_differential(n, seed, bits):
    rng = np.random.default_rng(seed)
    lim = LIM[bits]
    a = rng.integers(-lim, lim + 1, n).astype(DTYPE[bits])
    b = rng.integers(-lim, lim + 1, n).astype(DTYPE[bits])
    results = {be: DOT[bits](a, b, backend=be) for be in BACKENDS}
    assert set(results.values()) == {exact(a, b)}


def test_dot_f32_identical_across_backends_and_accurate():
    rng = np.random.default_rng(3)
    for n in [0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 1000, 4097]:
        a = rng.standard_normal(n).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        got = [kernels.dot_f32(a, b, backend=be) for be in BACKENDS]
        assert len({np.float32(g).tobytes() for g in got}) == 1
        ref = float(np.dot(a.astype(np.float64), b.astype(np.float64)))
        assert got[0] == pytest.approx(ref, rel=1e-5, abs=1e-4 * np.sqrt(max(n, 1)))


def test_fp32_updates_identical_across_backends():
    rng = np.random.default_rng(4)
    for n in [0, 1, 7, 8, 15, 16, 17, 100, 1001]:
        x, y, c = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
        outs = [kernels.axpy_f32(0.37, x, y, backend=be) for be in BACKENDS]
        assert all(np.array_equal(outs[0], o) for o in outs)
        np.testing.assert_allclose(outs[0], 0.37 * x.astype(np.float64) + y, rtol=1e-6, atol=1e-6)
        outs = [kernels.update_f32(y, x, -0.2, c, backend=be) for be in BACKENDS]
        assert all(np.array_equal(outs[0], o) for o in outs)
        np.testing.assert_allclose(outs[0], y + c - 0.2 * x.astype(np.float64), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("offset", [0, 1, 5])
def test_stream_sum(offset, backend):
    rng = np.random.default_rng(offset)
    for n in list(range(0, 300)) + [4096 + 77]:
        buf = rng.integers(0, 256, n + offset, dtype=np.uint8)[offset:]
        assert kernels.stream_sum(buf, backend=backend) == int(buf.sum(dtype=np.uint64))


# ---- D8M16: an int8 data row against an int16 model ------------------------


@pytest.mark.parametrize("offset", [0, 1, 3])
def test_d8m16_dot_lengths_offsets_extremes(offset, backend):
    rng = np.random.default_rng(40 + offset)
    for n in list(range(0, 70)) + [2047, 2048, 2049, 4096 + 17]:
        for kind in ("random", "max", "mixed"):
            if kind == "random":
                x, z = rng.integers(-127, 128, n + offset), rng.integers(-32767, 32768, n + offset)
            elif kind == "max":
                x, z = np.full(n + offset, 127), np.full(n + offset, 32767)
            else:
                x, z = rng.choice([-127, 127], n + offset), rng.choice([-32767, 32767], n + offset)
            x, z = x.astype(np.int8)[offset:], z.astype(np.int16)[offset:]  # misaligned when offset > 0
            assert kernels.dot_i8_i16(x, z, backend=backend) == exact(x, z), (n, kind)


def test_d8m16_dot_is_exact_on_every_code_and_long_vectors(backend):
    # The kernel itself (_core) is exact for the codes off the grids too,
    # -128 and -32768, whose pair sums are the largest; 10^6 + 5 elements
    # pass many accumulator flushes.
    from lpcore import _core

    n = 10**6 + 5
    x, z = np.full(n, -128, np.int8), np.full(n, -32768, np.int16)
    assert _core.dot_i8_i16(x, z, backend) == n * 128 * 32768
    rng = np.random.default_rng(9)
    x = rng.integers(-128, 128, n).astype(np.int8)
    z = rng.choice(np.array([-32768, 32767], np.int16), n)
    assert _core.dot_i8_i16(x, z, backend) == exact(x, z)


def test_d8m16_dot_checks_its_grids():
    with pytest.raises(ValueError, match="symmetric 8-bit"):
        kernels.dot_i8_i16(np.array([-128, 0], np.int8), np.array([1, 1], np.int16))
    with pytest.raises(ValueError, match="symmetric 16-bit"):
        kernels.dot_i8_i16(np.array([1, 0], np.int8), np.array([-32768, 1], np.int16))
    with pytest.raises(ValueError, match="equal length"):
        kernels.dot_i8_i16(np.array([1, 2]), np.array([1]))
