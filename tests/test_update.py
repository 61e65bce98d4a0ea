"""Fused stochastic-rounding updates: bit-exact backends, exact arithmetic, unbiased."""

import numpy as np
import pytest
import reference
from conftest import BACKENDS
from hypothesis import given, settings
from hypothesis import strategies as st
from lpcore import _core, kernels

LIM = {8: 127, 16: 32767}
CMAX = kernels.MAX_OFFSET
UPDATE = {8: kernels.update_i8, 16: kernels.update_i16}
# Up to 8 blocks of 32 (n < 288) the int8 kernel applies the multiplier's sign
# with vpsignw, from 9 blocks on it branches on it: both sides of that edge.
LENGTHS = list(range(0, 66)) + [255, 256, 287, 288, 300, 4095, 4096, 4097, 9000]
# Fast path (|a| <= 1/2), both signs, zero, and the exact slow path.
MULTIPLIERS = [0.0, 0.03, -0.03, 0.5, -0.5, 0.77, -2.5, 1e6]


def random_case(rng, bits, n, extreme=False):
    lim, cmax = LIM[bits], CMAX[bits]
    if extreme:
        z = rng.choice([-lim, lim], n)
        x = rng.choice([-lim, lim], n)
        c = rng.choice([-cmax, cmax], n)
    else:
        z = rng.integers(-lim, lim + 1, n)
        x = rng.integers(-lim, lim + 1, n)
        c = rng.integers(-cmax // 8, cmax // 8, n)
    return z, x, c


@pytest.mark.parametrize("bits", [8, 16])
def test_backends_agree_bit_for_bit(bits):
    rng = np.random.default_rng(bits)
    for n in LENGTHS:
        for a in MULTIPLIERS:
            for extreme in (False, True):
                z, x, c = random_case(rng, bits, n, extreme)
                outs = [UPDATE[bits](z, x, a, c, random_state=n, backend=be) for be in BACKENDS]
                for z_new, n_sat in outs[1:]:
                    assert np.array_equal(z_new, outs[0][0]) and n_sat == outs[0][1], (n, a, extreme)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("a", MULTIPLIERS)
def test_matches_exact_reference(bits, a, backend):
    rng = np.random.default_rng(abs(hash((bits, a))) % 2**32)
    for n in [0, 1, 2, 33, 64, 4097]:
        for extreme in (False, True):
            z, x, c = random_case(rng, bits, n, extreme)
            seed = int(rng.integers(2**62))
            got = UPDATE[bits](z, x, a, c, random_state=seed, backend=backend)
            want = reference.update_reference(z, x, a, c, seed, bits)
            assert np.array_equal(got[0], want[0])
            assert got[1] == want[1]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 200), st.floats(-0.6, 0.6), st.integers(0, 2**62), st.sampled_from([8, 16]))
def test_random_differential(n, a, seed, bits):
    rng = np.random.default_rng(seed % 2**32)
    z, x, c = random_case(rng, bits, n)
    want = reference.update_reference(z, x, a, c, seed, bits)
    for be in BACKENDS:
        got = UPDATE[bits](z, x, a, c, random_state=seed, backend=be)
        assert np.array_equal(got[0], want[0]) and got[1] == want[1]


@pytest.mark.parametrize("bits", [8, 16])
def test_unbiased_over_seeds(bits):
    """Mean over 10^5 seeds lies within 4 standard errors of z + a*x + c/2^F."""
    frac = 8 if bits == 8 else 16
    rng = np.random.default_rng(11)
    n = 40
    z = rng.integers(-60, 60, n)
    x = rng.integers(-LIM[bits], LIM[bits] + 1, n)
    a = 0.0123 if bits == 8 else 1.3e-4
    c = rng.integers(-3 * 2**frac, 3 * 2**frac, n)
    target = z + np.float64(np.float32(a)) * x + c / 2.0**frac
    seeds = 100_000
    samples = np.empty((seeds, n))
    for s in range(seeds):
        samples[s] = UPDATE[bits](z, x, a, c, random_state=s)[0]
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(seeds)
    assert (se > 0).all()  # every coordinate really is rounded at random
    assert np.all(np.abs(mean - target) <= 4 * se), np.max(np.abs(mean - target) / se)


def test_dither_stream_continues_across_calls(backend):
    z = np.zeros(100, dtype=np.int8)
    c = np.full(100, 128)  # +1/2 step: each coordinate rounds up with probability 1/2
    d = kernels.Dither(5)
    first, _ = kernels.update_i8(z, z, 0.0, c, dither=d, backend=backend)
    second, _ = kernels.update_i8(z, z, 0.0, c, dither=d, backend=backend)
    assert not np.array_equal(first, second)
    again, _ = kernels.update_i8(z, z, 0.0, c, random_state=5, backend=backend)
    assert np.array_equal(first, again)


@pytest.mark.parametrize("bits", [8, 16])
def test_saturation_is_clipped_and_counted(bits, backend):
    lim = LIM[bits]
    n = 300
    z = np.full(n, lim - 1)
    x = np.full(n, lim)
    z_new, n_sat = UPDATE[bits](z, x, 0.4, np.zeros(n, dtype=np.int64), random_state=0, backend=backend)
    assert (z_new == lim).all() and n_sat == n
    z_new, n_sat = UPDATE[bits](-z, x, -0.4, np.zeros(n, dtype=np.int64), random_state=0, backend=backend)
    assert (z_new == -lim).all() and n_sat == n
    z_new, n_sat = UPDATE[bits](np.zeros(n, dtype=np.int64), x, 0.5 / lim, np.zeros(n, dtype=np.int64), random_state=0, backend=backend)
    assert n_sat == 0 and np.abs(z_new).max() <= 1


def test_int16_saturation_edges(backend):
    """v = 32767 and -32767 are kept, 32768 and below -32767 are saturated: in every
    lane of a vector block and in the tail. (Whole-step offsets, a = 0: no randomness.)"""
    step = 2**16
    n = 37  # two blocks of 16 and a tail of 5
    for k, (z0, steps, want, saturated) in enumerate([
        (32766, 1, 32767, False), (32767, 1, 32767, True), (32767, 8000, 32767, True),
        (-32766, -1, -32767, False), (-32767, -1, -32767, True), (-32767, -8000, -32767, True),
        (10000, 8000, 18000, False), (-10000, -8000, -18000, False),
    ]):
        z = np.full(n, z0)
        got, n_sat = kernels.update_i16(z, np.zeros(n, np.int16), 0.0, np.full(n, steps * step), random_state=k,
                                        backend=backend)
        assert (got == want).all() and n_sat == (n if saturated else 0), (z0, steps)


def test_pack_offsets_layout_bias_and_domain():
    rng = np.random.default_rng(5)
    for n in [0, 1, 15, 16, 17, 31, 32, 33, 100]:
        c8 = rng.integers(-CMAX[8], CMAX[8] + 1, n).astype(np.int16)
        np.testing.assert_array_equal(_core.pack_offsets_i8(c8), reference.pack(c8, 32))
        c16 = rng.integers(-CMAX[16], CMAX[16] + 1, n).astype(np.int32)
        want = reference.pack(c16.astype(np.int64), 16) + 2**15  # the int16 layout's bias
        np.testing.assert_array_equal(_core.pack_offsets_i16(c16), want)
    with pytest.raises(ValueError, match=r"\|c\| <= 536870912"):
        _core.pack_offsets_i16(np.array([0, 2**29 + 1], np.int32))
    with pytest.raises(ValueError, match=r"\|c\| <= 16383"):
        _core.pack_offsets_i8(np.array([-16384], np.int16))


def test_bad_input():
    z = np.zeros(4, dtype=np.int8)
    with pytest.raises(ValueError, match=r"\|c\| <= 16383"):
        kernels.update_i8(z, z, 0.1, [0, 0, 0, 16384])
    with pytest.raises(ValueError, match="finite"):
        kernels.update_i8(z, z, float("nan"), [0, 0, 0, 0])
    with pytest.raises(ValueError, match="shape"):
        kernels.update_i8(z, z, 0.1, [0, 0, 0])
    with pytest.raises(ValueError, match="equal length"):
        kernels.update_i8(z, z[:3], 0.1, [0, 0, 0, 0])
    with pytest.raises(ValueError, match="grid"):
        kernels.update_i8(np.array([0, 0, 0, -128]), z, 0.1, [0, 0, 0, 0])
    with pytest.raises(TypeError, match="Dither"):
        kernels.update_i8(z, z, 0.1, [0, 0, 0, 0], dither="not a dither")


# (fused kernel, update, dot, model dtype, offset dtype, row dtype), by
# (model bits, data bits).
FUSED = {(8, 8): (_core.update_dot_i8, _core.update_i8, _core.dot_i8, np.int8, np.int16, np.int8),
         (16, 16): (_core.update_dot_i16, _core.update_i16, _core.dot_i16, np.int16, np.int32, np.int16),
         (16, 8): (_core.update_dot_i8_i16, _core.update_i8_i16, _core.dot_i8_i16, np.int16, np.int32, np.int8)}


@pytest.mark.parametrize("bits,data_bits", list(FUSED))
def test_update_dot_is_update_then_dot(bits, data_bits, backend):
    """The solver's fused step equals the update followed by the next row's dot, bit for bit."""
    fused, update, dot, zt, ct, xt = FUSED[bits, data_bits]
    rng = np.random.default_rng(bits + data_bits + 100)
    for n in LENGTHS:
        for a in MULTIPLIERS:
            for extreme in (False, True):
                z, x, c = random_case(rng, bits, n, extreme)
                if data_bits != bits:
                    x = random_case(rng, data_bits, n, extreme)[1]
                z, x = z.astype(zt), x.astype(xt)
                c = _core.pack_offsets_i8(c.astype(ct)) if bits == 8 else _core.pack_offsets_i16(c.astype(ct))
                # the next row may hold the code -128 / -32768 (dot_i8 / dot_i16 define it)
                x_next = rng.integers(np.iinfo(xt).min, np.iinfo(xt).max + 1, n).astype(xt)
                z_fused, z_plain = z.copy(), z.copy()
                seed = int(rng.integers(2**62))
                sat, got = fused(z_fused, x, a, c, _core.Dither(seed), x_next, backend)
                want_sat = update(z_plain, x, a, c, _core.Dither(seed), backend)
                assert np.array_equal(z_fused, z_plain), (n, a, extreme)
                assert sat == want_sat and got == dot(x_next, z_plain, backend), (n, a, extreme)
                assert got == int(np.dot(x_next.astype(np.int64), z_plain.astype(np.int64)))


def test_update_dot_f32_is_update_then_dot(backend):
    rng = np.random.default_rng(7)
    for n in list(range(0, 80)) + [1000, 4099]:
        w, x, c, x_next = (rng.standard_normal(n).astype(np.float32) for _ in range(4))
        for offsets in (c, None):
            w_fused, w_plain = w.copy(), w.copy()
            got = _core.update_dot_f32(w_fused, x, -0.3, offsets, x_next, backend)
            if offsets is None:
                _core.axpy_f32(-0.3, x, w_plain, backend)
            else:
                _core.update_f32(w_plain, x, -0.3, offsets, backend)
            assert np.array_equal(w_fused, w_plain), n
            want = _core.dot_f32(x_next, w_plain, backend)
            assert np.float32(got).tobytes() == np.float32(want).tobytes(), n


def test_update_dot_rejects_mismatched_lengths():
    z = np.zeros(4, dtype=np.int8)
    c = np.zeros(4, dtype=np.int16)
    with pytest.raises(ValueError, match="lengths differ"):
        _core.update_dot_i8(z, z, 0.1, c, _core.Dither(0), z[:3], None)
    w = np.zeros(4, dtype=np.float32)
    with pytest.raises(ValueError, match="lengths differ"):
        _core.update_dot_f32(w, w, 0.1, None, w[:3], None)


# ---- the int8 solvers' offset re-rounding ------------------------------------


def offsets_case(rng, n):
    c = rng.uniform(-64, 64, n).astype(np.float32)
    c[::7] = rng.uniform(-1e-3, 1e-3, len(c[::7]))  # below one Q8 unit
    specials = np.array([0.0, -0.0, 63.99, -63.99, 1e30, -1e30, np.inf, -np.inf, np.nan, 1e-40, -1e-40,
                         2.0**-24, -(2.0**-24), 0.5 / 256, -0.5 / 256], np.float32)
    k = min(n, len(specials))
    c[:k] = specials[:k]
    return c


def test_round_offsets_matches_twin_and_backends_agree(backend):
    rng = np.random.default_rng(11)
    for n in LENGTHS:
        for start in (0, 1):  # 1: a start that is not 32-byte aligned
            c = offsets_case(rng, n + start)[start:]
            seed = int(rng.integers(2**62))
            got = _core.round_offsets_i8(c, _core.Dither(seed), backend)
            assert got.dtype == np.int16 and got.shape == c.shape
            assert np.all(np.abs(got.astype(np.int32)) <= kernels.MAX_OFFSET[8])  # the update's domain
            want = reference.round_offsets_reference(c, reference.Dither(seed))
            np.testing.assert_array_equal(got, want, err_msg=f"n={n}")
            for other in BACKENDS:
                np.testing.assert_array_equal(got, _core.round_offsets_i8(c, _core.Dither(seed), other))


def test_round_offsets_rejects_bad_input():
    with pytest.raises(ValueError, match="one-dimensional"):
        _core.round_offsets_i8(np.zeros((2, 3), np.float32), _core.Dither(0))
    with pytest.raises(TypeError):
        _core.round_offsets_i8(np.zeros(3, np.float64), _core.Dither(0))


def test_round_offsets_is_unbiased_and_within_one_unit(backend):
    rng = np.random.default_rng(12)
    c = rng.uniform(-60, 60, 64).astype(np.float32)
    c[:8] = [1e-4, -1e-4, 0.3 / 256, -0.3 / 256, 0.0, 17 / 256, -17 / 256, 2.0**-20]
    dither = _core.Dither(3)  # one stream: every call reads the table at fresh offsets
    draws = np.array([_core.round_offsets_i8(c, dither, backend) for _ in range(4000)], np.float64)
    exact = c.astype(np.float64) * 256
    assert np.all(draws >= np.floor(exact)) and np.all(draws <= np.ceil(exact))
    # The mean of 4000 draws of a {floor, ceil} variable: standard error <= 0.5 / sqrt(4000) = 0.008.
    np.testing.assert_allclose(draws.mean(0), exact, atol=0.04)
    assert draws[:, 4].max() == 0 and np.ptp(draws[:, 5]) == 0  # exact Q8 values never move


def test_round_offsets_consumes_one_offset_per_chunk():
    for n in [1, 4096, 4097, 9000]:
        d = _core.Dither(5)
        _core.round_offsets_i8(np.zeros(n, np.float32), d)
        twin = _core.Dither(5)
        for _ in range(-(-n // _core.Dither.chunk)):
            twin.next_offset()
        assert d.next_offset() == twin.next_offset()



@pytest.mark.parametrize("bits", [8, 16])
def test_zero_multiplier_update_is_identity_on_the_grid(bits, backend):
    # The solver skips a shrinkage (x = z, zero offsets) whose multiplier is 0
    # and only consumes its draws: that is exact because such an update leaves
    # every grid value where it is and draws one multiplier plus one offset
    # per chunk.
    lim = LIM[bits]
    dtype, offset = (np.int8, np.int16) if bits == 8 else (np.int16, np.int32)
    pack = _core.pack_offsets_i8 if bits == 8 else _core.pack_offsets_i16  # int16: adds the bias
    for n in [1, 31, 32, 4096, 4097, 9000]:
        z = np.resize(np.arange(-lim, lim + 1), n).astype(dtype)
        d = _core.Dither(n)
        sat = getattr(_core, f"update_i{bits}")(z, z.copy(), 0.0, pack(np.zeros(n, offset)), d, backend)
        np.testing.assert_array_equal(z, np.resize(np.arange(-lim, lim + 1), n).astype(dtype))
        twin = _core.Dither(n)
        twin.draw_multiplier(0.0, 8)
        for _ in range(-(-n // _core.Dither.chunk)):
            twin.next_offset()
        assert d.next_offset() == twin.next_offset()
        assert sat <= n


# ---- D8M16: an int8 data row updating an int16 model ------------------------
# The fast path covers |a| < 128 (A = a 2^8 in int16); larger multipliers take the exact path.
MIXED_MULTIPLIERS = MULTIPLIERS + [100.0, -127.9, 128.0, -300.0]


def mixed_case(rng, n, extreme=False):
    z, _, c = random_case(rng, 16, n, extreme)
    return z, random_case(rng, 8, n, extreme)[1], c


@pytest.mark.parametrize("a", MIXED_MULTIPLIERS)
def test_d8m16_update_matches_exact_reference(a, backend):
    rng = np.random.default_rng(abs(hash(("d8m16", a))) % 2**32)
    for n in [0, 1, 2, 15, 16, 17, 33, 64, 4097]:
        for extreme in (False, True):
            z, x, c = mixed_case(rng, n, extreme)
            seed = int(rng.integers(2**62))
            got = kernels.update_i8_i16(z, x, a, c, random_state=seed, backend=backend)
            want = reference.update_reference(z, x, a, c, seed, 16, data_bits=8)
            assert np.array_equal(got[0], want[0]) and got[1] == want[1], (n, extreme)


def test_d8m16_backends_agree_bit_for_bit():
    rng = np.random.default_rng(816)
    for n in LENGTHS:
        for a in MIXED_MULTIPLIERS:
            for extreme in (False, True):
                z, x, c = mixed_case(rng, n, extreme)
                outs = [kernels.update_i8_i16(z, x, a, c, random_state=n, backend=be) for be in BACKENDS]
                for z_new, n_sat in outs[1:]:
                    assert np.array_equal(z_new, outs[0][0]) and n_sat == outs[0][1], (n, a, extreme)


def test_d8m16_update_is_the_int16_update_of_the_widened_row(backend):
    # a / 256 is exact in float32, so both draw the same multiplier a 2^8.
    rng = np.random.default_rng(5)
    for a in (0.3, -1.7, 50.0, 1e3):
        z, x, c = mixed_case(rng, 1000)
        got = kernels.update_i8_i16(z, x, a, c, random_state=11, backend=backend)
        want = kernels.update_i16(z, 256 * x, a / 256, c, random_state=11, backend=backend)
        assert np.array_equal(got[0], want[0]) and got[1] == want[1], a


def test_d8m16_update_checks_its_grids():
    z = np.zeros(4, np.int16)
    with pytest.raises(ValueError, match="symmetric 8-bit"):
        kernels.update_i8_i16(z, np.array([0, 0, 0, 128]), 0.1, [0, 0, 0, 0])
    with pytest.raises(ValueError, match="symmetric 16-bit"):
        kernels.update_i8_i16(np.array([0, 0, 0, -32768]), z.astype(np.int8), 0.1, [0, 0, 0, 0])
    with pytest.raises(ValueError, match="equal length"):
        kernels.update_i8_i16(z, z[:3].astype(np.int8), 0.1, [0, 0, 0, 0])
