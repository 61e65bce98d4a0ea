"""The vectorized xorshift128+ stream: the AVX2 path reproduces the scalar stream."""

import numpy as np
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
