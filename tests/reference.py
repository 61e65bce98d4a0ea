"""Pure-Python / NumPy twins of lpcore's kernels, written from the specification.

Nothing here calls the compiled core: the generators, the dither table, the
fixed-point update and the quantizer are re-derived independently, so a test
that compares against them checks the C++ code, not a copy of it.
"""

from __future__ import annotations

import math

import numpy as np

M64 = (1 << 64) - 1
DITHER_CHUNK = 4096
DITHER_SPAN_BITS = 14
DITHER_TABLE_BYTES = 2 * ((1 << DITHER_SPAN_BITS) + DITHER_CHUNK) + 64
DITHER_SALT = 0xD1B54A32D192ED03


class SplitMix:
    def __init__(self, seed: int):
        self.x = seed & M64

    def next(self) -> int:
        self.x = (self.x + 0x9E3779B97F4A7C15) & M64
        z = self.x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


class Xorshift128p:
    """xorshift128+ (shifts 23, 18, 5)."""

    def __init__(self, seed: int):
        sm = SplitMix(seed)
        self.s0, self.s1 = sm.next(), sm.next()
        if self.s0 == 0 and self.s1 == 0:
            self.s1 = 1

    def next(self) -> int:
        a, b = self.s0, self.s1
        out = (a + b) & M64
        self.s0 = b
        a ^= (a << 23) & M64
        self.s1 = a ^ b ^ (a >> 18) ^ (b >> 5)
        return out


def xorshift128p4_bytes(seed: int, n_blocks: int) -> np.ndarray:
    """The four-lane stream: block k is lanes 0..3 of step k, little endian."""
    sm = SplitMix(seed)
    s0, s1 = [], []
    for _ in range(4):
        a, b = sm.next(), sm.next()
        s0.append(a)
        s1.append(b if (a | b) else 1)
    s0 = np.array(s0, dtype=np.uint64)
    s1 = np.array(s1, dtype=np.uint64)
    out = np.empty((n_blocks, 4), dtype=np.uint64)
    for k in range(n_blocks):
        a, b = s0, s1
        out[k] = a + b
        s0 = b
        a = a ^ (a << np.uint64(23))
        s1 = a ^ b ^ (a >> np.uint64(18)) ^ (b >> np.uint64(5))
    return out.astype("<u8").view(np.uint8).reshape(-1)


class Dither:
    """Dither table plus draw stream, as cpp/include/lpcore/dither.hpp defines them."""

    def __init__(self, seed: int):
        self.table = xorshift128p4_bytes(seed, DITHER_TABLE_BYTES // 32)
        self.draws = Xorshift128p(seed ^ DITHER_SALT)

    def multiplier(self, a: float, frac_bits: int) -> int:
        u = (self.draws.next() >> 11) * 2.0**-53
        t = math.ldexp(float(np.float32(a)), frac_bits)
        t = min(max(t, -(2.0**40)), 2.0**40)
        fl = math.floor(t)
        return int(fl) + (1 if u < t - fl else 0)

    def offset(self) -> int:
        return self.draws.next() >> (64 - DITHER_SPAN_BITS)


def _dither_values(d: Dither, n: int, bits: int) -> np.ndarray:
    """Dither value of every coordinate: table[offset + (k ^ 1)] per chunk."""
    out = np.empty(n, dtype=np.int64)
    table16 = d.table[: len(d.table) // 2 * 2].view("<u2")
    for c0 in range(0, n, DITHER_CHUNK):
        m = min(DITHER_CHUNK, n - c0)
        idx = d.offset() + (np.arange(m) ^ 1)
        out[c0 : c0 + m] = d.table[idx] if bits == 8 else table16[idx]
    return out


def update_reference(z, x, a, c, seed, bits):
    """Exact fused update: floor((2^F z + r + c + A x) / 2^F), clipped to the grid.

    Returns (z_new, n_saturated). F = 8 (int8, dither r in [0, 256)) or
    15 (int16, dither r = 16-bit table value >> 1).
    """
    frac = 8 if bits == 8 else 15
    lim = 127 if bits == 8 else 32767
    d = Dither(seed)
    A = d.multiplier(a, frac)
    r = _dither_values(d, len(z), bits)
    if bits == 16:
        r = r >> 1
    z64, x64, c64 = (np.asarray(v, dtype=np.int64) for v in (z, x, c))
    # Python ints avoid overflow when A is huge.
    L = [int(zi) * 2**frac + int(ri) + int(ci) + A * int(xi) for zi, xi, ci, ri in zip(z64, x64, c64, r)]
    v = np.array([li >> frac for li in L], dtype=object)
    if bits == 8:
        sat = sum(1 for li in L if li >= 32767 or li < -32512)
    else:
        sat = sum(1 for vi in v if vi < -lim or vi > lim)
    out = np.array([min(max(vi, -lim), lim) for vi in v], dtype=np.int8 if bits == 8 else np.int16)
    return out, sat


def quantize_reference(x, scale, bits, stochastic, seed):
    """Row-wise quantization of a 2-D float32 array with one scale per row."""
    x = np.asarray(x, dtype=np.float32)
    qmax = np.float32(127 if bits == 8 else 32767)
    rows, cols = x.shape
    groups = -(-cols // 8)
    words = xorshift128p4_bytes(seed, rows * groups).view("<u4").reshape(rows, groups * 8)[:, :cols]
    y = x / np.asarray(scale, dtype=np.float32).reshape(-1, 1)
    y = np.clip(y, -(qmax + 1), qmax + 1)
    if stochastic:
        fl = np.floor(y)
        u = (words >> 8).astype(np.float32) * np.float32(2.0**-24)
        q = fl + (u < (y - fl)).astype(np.float32)
    else:
        q = np.rint(y)
    return np.clip(q, -qmax, qmax).astype(np.int8 if bits == 8 else np.int16)
