"""The vectorized xorshift128+ stream: the AVX2 path reproduces the scalar stream."""

import numpy as np
import pytest
import reference
from conftest import BACKENDS
from lpcore import kernels


def test_random_bytes_match_reference_on_every_backend():
    for seed in [0, 1, 2**63 + 5]:
        for n_blocks in [0, 1, 2, 3, 17, 64]:
            want = reference.xorshift128p4_bytes(seed, n_blocks)
            for be in BACKENDS:
                assert np.array_equal(kernels.random_bytes(seed, n_blocks, backend=be), want)


def test_random_bytes_look_uniform():
    b = kernels.random_bytes(123, 32 * 1024)  # 1 MiB
    counts = np.bincount(b, minlength=256)
    expected = b.size / 256
    chi2 = ((counts - expected) ** 2 / expected).sum()
    # 255 degrees of freedom: mean 255, sd ~22.6; 400 is beyond 6 sd.
    assert chi2 < 400
    bits = np.unpackbits(b[:65536])
    assert abs(bits.mean() - 0.5) < 4 * 0.5 / np.sqrt(bits.size)


def test_dither_table_matches_reference():
    d = kernels.Dither(99)
    ref = reference.Dither(99)
    assert np.array_equal(d.table(), ref.table)
    for a in [0.3, -0.123, 0.0]:
        assert d.draw_multiplier(a, 8) == ref.multiplier(a, 8)
    assert [d.next_offset() for _ in range(5)] == [ref.offset() for _ in range(5)]


def multiplier_inputs():
    """float32 values over the whole exponent range, both signs, Q8 / Q15 / Q16 grid
    points and their neighbours, the clamp's edges, zeros, infinities and NaN."""
    rng = np.random.default_rng(17)
    bits = rng.integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32)
    a = bits.view(np.float32)
    grid = np.array([k / 256 for k in range(-300, 301, 7)] + [k / 32768 for k in range(-50, 51, 3)]
                    + [k / 65536 for k in range(-49, 50, 4)], np.float32)
    near = np.concatenate([np.nextafter(grid, np.float32(np.inf)), np.nextafter(grid, np.float32(-np.inf))])
    edges = np.array([0.0, -0.0, 2.0**32, -(2.0**32), 2.0**40, -(2.0**40), 3e38, -3e38, 1e-45, -1e-45,
                      np.inf, -np.inf, np.nan, 0.5, -0.5, 1 / 256, -1 / 256], np.float32)
    return np.concatenate([a, grid, near, edges]).astype(np.float32)


@pytest.mark.parametrize("frac_bits", [0, 8, 15, 16, 30])
def test_multiplier_backends_agree_bit_for_bit(frac_bits):
    # The AVX2 kernels draw the multiplier with a vroundsd floor; the scalar
    # backend is Dither::draw_multiplier, the specification. Same stream, same values.
    a = multiplier_inputs()
    draws = {}
    for be in BACKENDS:
        d = kernels.Dither(5)
        draws[be] = [d.draw_multiplier(float(v), frac_bits, backend=be) for v in a]
    for be in BACKENDS:
        assert draws[be] == draws["scalar"], be
    got = draws["scalar"]
    ref = reference.Dither(5)  # the twin takes finite values only; it still draws for the others
    for v, g in zip(a, got):
        if np.isfinite(v):
            assert g == ref.multiplier(float(v), frac_bits), v
        else:
            ref.draws.next()
    # The clamp: +-2^40 beyond it, NaN at the lower end.
    assert got[-7] == 2**40 and got[-6] == -(2**40) and got[-5] == -(2**40)
