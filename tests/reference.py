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
    return Xorshift128p4(seed).words32(n_blocks).view(np.uint8)


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
    """Dither value of every coordinate, one table offset per chunk:
    table[offset + (k ^ 1)] (int8, in [0, 2^8)) or table16[offset + k] with its
    top bit flipped (int16, in [0, 2^16))."""
    out = np.empty(n, dtype=np.int64)
    table16 = d.table[: len(d.table) // 2 * 2].view("<u2").astype(np.int64)
    for c0 in range(0, n, DITHER_CHUNK):
        m = min(DITHER_CHUNK, n - c0)
        off = d.offset()
        if bits == 8:
            out[c0 : c0 + m] = d.table[off + (np.arange(m) ^ 1)]
        else:
            out[c0 : c0 + m] = table16[off : off + m] ^ 0x8000
    return out


def round_offsets_reference(c, d: Dither) -> np.ndarray:
    """round_offsets_i8: (floor(y) + r16) >> 16 with y = c 2^24 clamped to
    +-16383 * 2^16 (NaN -> the lower end), one dither offset per chunk."""
    top = 16383.0 * 2.0**16
    y = np.clip(np.asarray(c, np.float32).astype(np.float64) * 2.0**24, -top, top)
    y = np.where(np.isnan(y), -top, y)
    table16 = d.table[: len(d.table) // 2 * 2].view("<u2").astype(np.int64)
    out = np.empty(len(y), dtype=np.int64)
    for c0 in range(0, len(y), DITHER_CHUNK):
        m = min(DITHER_CHUNK, len(y) - c0)
        off = d.offset()
        out[c0 : c0 + m] = (np.floor(y[c0 : c0 + m]).astype(np.int64) + table16[off : off + m]) >> 16
    return out


def update_format(bits: int, data_bits: int | None):
    """(multiplier's fractional bits, the row's widening factor) of the fused
    update of a bits-bit model on data_bits-bit rows: the model's own format,
    and for D8M16 a Q8 multiplier on the row widened to 256 x."""
    if bits == 16 and data_bits == 8:
        return 8, 256
    return (8 if bits == 8 else 16), 1


def update_reference(z, x, a, c, seed, bits, data_bits=None):
    """Exact fused update: floor((2^F z + r + c + A x) / 2^F), clipped to the grid.

    Returns (z_new, n_saturated). F = 8 (int8, dither r in [0, 2^8)) or
    16 (int16, dither r in [0, 2^16)); for int8 rows under an int16 model
    (data_bits=8, bits=16) A is drawn in Q8 and multiplies 256 x.
    """
    frac, widen = update_format(bits, data_bits)
    lim = 127 if bits == 8 else 32767
    d = Dither(seed)
    A = d.multiplier(a, frac) * widen
    frac = 8 if bits == 8 else 16
    r = _dither_values(d, len(z), bits)
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


def lane_sum(terms: np.ndarray) -> np.ndarray:
    """Per-row sums of float64 terms in the data path's lane order: lane l adds
    columns l, l + 8, ... in order, then ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))."""
    n, d = terms.shape
    padded = np.zeros((n, -(-d // 8) * 8))
    padded[:, :d] = terms  # x + 0.0 == x: trailing zeros change no sum
    lanes = np.cumsum(padded.reshape(n, -1, 8), axis=1)[:, -1, :] if d else np.zeros((n, 8))
    return ((lanes[:, 0] + lanes[:, 1]) + (lanes[:, 2] + lanes[:, 3])) + (
        (lanes[:, 4] + lanes[:, 5]) + (lanes[:, 6] + lanes[:, 7]))


def row_scale_reference(amax: np.ndarray, qmax: int) -> np.ndarray:
    """The data path's row scale: amax / qmax in float32; where that is below the
    smallest normal float, the exact quotient rounded up to a float (at least
    the smallest subnormal); 1 for an all-zero row."""
    amax = np.asarray(amax, dtype=np.float32)
    s = amax / np.float32(qmax)
    tiny = s < np.finfo(np.float32).tiny
    exact = amax.astype(np.float64) / qmax
    up = exact.astype(np.float32)
    up = np.where(up.astype(np.float64) < exact, np.nextafter(up, np.float32(np.inf)), up)
    up = np.maximum(up, np.float32(np.finfo(np.float32).smallest_subnormal))
    s = np.where(tiny, up, s)
    return np.where(amax > 0, s, np.float32(1)).astype(np.float32)


def prepare_reference(X, bits: int, width: int):
    """NumPy twin of the data path (lpcore/_data.prepare): rows, row scales,
    row squared norms, per-row sums of x^2 and of the squared rounding error."""
    x = np.asarray(X).astype(np.float32)
    n, d = x.shape
    x64 = x.astype(np.float64)
    sq_x = lane_sum(x64 * x64)
    if bits == 32:
        rows = np.zeros((n, width), np.float32)
        rows[:, :d] = x
        return rows, None, sq_x, sq_x, None
    qmax = 127 if bits == 8 else 32767
    scale = row_scale_reference(np.abs(x).max(axis=1) if d else np.zeros(n, np.float32), qmax)
    q = quantize_reference(x, scale, bits, False, 0)
    rows = np.zeros((n, width), q.dtype)
    rows[:, :d] = q
    s64 = scale.astype(np.float64)
    q64 = q.astype(np.float64)
    sq_norm = (q64 * q64).sum(axis=1) * (s64 * s64)  # an integer sum: exact in any order
    e = x64 - q64 * s64[:, None]
    return rows, scale, sq_norm, sq_x, lane_sum(e * e)


def fma32(a, x, y) -> np.ndarray:
    """float32 fma(a, x, y), rounded once, for float32 a and y and integer x
    (|x| <= 32768), as the full-gradient sums take it (axpy_i8_f32 / axpy_i16_f32).

    a x is exact in float64 (at most 24 + 16 bits). TwoSum splits y + a x into
    its float64 rounding s and the exact error e. Rounding s to float32 rounds
    y + a x the same way unless s lies on a float32 midpoint with e != 0; then
    e breaks the tie (rounding s alone would be a second rounding).
    """
    p = np.float64(a) * np.asarray(x, dtype=np.float64)
    y64 = np.asarray(y, dtype=np.float32).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        s = p + y64
        t = s - p
        e = (p - (s - t)) + (y64 - t)
        r = s.astype(np.float32)
        r64 = r.astype(np.float64)
        side = np.where(s > r64, np.float32(np.inf), np.float32(-np.inf)).astype(np.float32)
        other = np.nextafter(r, side)  # r's neighbour on s's side
        o64 = other.astype(np.float64)
        tie = (s != r64) & (r64 + o64 == 2.0 * s) & (e != 0)
        use_other = tie & ((e > 0) == (o64 > r64))
    return np.where(use_other, other, r).astype(np.float32)


def dot_f32(x, w) -> np.float32:
    """spec::dot_f32 for an integer row x and float32 w, bit for bit: 4 x 8 fma
    partial sums over blocks of 32, then blocks of 8 into the first 8, the fixed
    combining tree, and an fma tail (each fma exact through fma32)."""
    x = np.asarray(x, dtype=np.int64)
    w = np.asarray(w, dtype=np.float32)
    n = len(x)
    acc = np.zeros(32, dtype=np.float32)  # acc[8 v + l]
    i = 0
    while i + 32 <= n:
        acc = fma32(w[i : i + 32], x[i : i + 32], acc)
        i += 32
    while i + 8 <= n:
        acc[:8] = fma32(w[i : i + 8], x[i : i + 8], acc[:8])
        i += 8
    a = acc.reshape(4, 8)
    s = (a[0] + a[1]) + (a[2] + a[3])
    h4 = s[:4] + s[4:]
    h = (h4[0] + h4[2]) + (h4[1] + h4[3])
    for j in range(i, n):
        h = fma32(w[j], x[j], h)[()]
    return np.float32(h)


# ---- solvers ----------------------------------------------------------------
# A step-by-step twin of cpp/src/solvers/lowprec_trainer.cpp for bits 8 and 16 (and a float64
# one for bits 32). It draws from the same streams in the same order and takes
# the float dots and sums the way the kernels specify them (dot_f32, fma32), so
# at 8 and 16 bits the integer state (the offset z) and the float32 state (the
# centre) match the C++ solver exactly; the float64 statistics (objective,
# gradient norm) are summed in the same order too.

GOLDEN = 0x9E3779B97F4A7C15
REFRESH_PERIOD = 16
OFFSET_PERIOD = 64
PACK_BLOCK = {8: 32, 16: 16}


def solver_seed(seed: int, stream: int) -> int:
    return SplitMix(seed ^ ((GOLDEN * stream) & M64)).next()


class Xorshift128p4:
    """The four-lane stream as a stateful source of 32-byte blocks."""

    def __init__(self, seed: int):
        sm = SplitMix(seed)
        s0, s1 = [], []
        for _ in range(4):
            a, b = sm.next(), sm.next()
            s0.append(a)
            s1.append(b if (a | b) else 1)
        self.s0 = np.array(s0, dtype=np.uint64)
        self.s1 = np.array(s1, dtype=np.uint64)

    def words32(self, n_blocks: int) -> np.ndarray:
        out = np.empty((n_blocks, 4), dtype=np.uint64)
        for k in range(n_blocks):
            a, b = self.s0, self.s1
            out[k] = a + b
            self.s0 = b
            a = a ^ (a << np.uint64(23))
            self.s1 = a ^ b ^ (a >> np.uint64(18)) ^ (b >> np.uint64(5))
        return out.astype("<u8").view("<u4").reshape(-1)


# Packed position of coordinate j of a full block (cpp/include/lpcore/kernels.hpp):
# evens then odds (int8, blocks of 32); 0-3, 8-11, 4-7, 12-15 (int16, blocks of 16).
PACK_POSITION = {32: np.r_[0:32:2, 1:32:2].argsort(), 16: np.r_[0:4, 8:12, 4:8, 12:16].argsort()}


def pack(v: np.ndarray, block: int) -> np.ndarray:
    """Natural order -> the kernels' packed offset order (without the int16 bias)."""
    out = v.copy()
    full = len(v) - len(v) % block
    for b in range(0, full, block):
        out[b + PACK_POSITION[block]] = v[b : b + block]
    return out


def unpack(v: np.ndarray, block: int) -> np.ndarray:
    out = v.copy()
    full = len(v) - len(v) % block
    for b in range(0, full, block):
        out[b : b + block] = v[b + PACK_POSITION[block]]
    return out


def update_with(d: Dither, z, x, a: float, c, bits: int, data_bits: int | None = None):
    """The fused update drawing from an existing Dither; c in natural order."""
    frac, widen = update_format(bits, data_bits)
    A = d.multiplier(a, frac) * widen
    frac, lim = (8, 127) if bits == 8 else (16, 32767)
    r = _dither_values(d, len(z), bits)
    L = [int(zi) * 2**frac + int(ri) + int(ci) + A * int(xi) for zi, xi, ci, ri in zip(z, x, c, r)]
    v = [li >> frac for li in L]
    if bits == 8:
        sat = sum(1 for li in L if li >= 32767 or li < -32512)
    else:
        sat = sum(1 for vi in v if vi < -lim or vi > lim)
    return np.array([min(max(vi, -lim), lim) for vi in v], dtype=np.int64), sat


def loss_and_derivative(loss: str, m, y):
    """Loss of one sample and its derivative in the margins (cf. cpp/src/solvers/losses.hpp);
    y is the row's targets (squared: one per output) or its label."""
    if loss == "squared":
        ys = np.atleast_1d(y)
        value, phi = 0.0, []
        for k in range(len(m)):
            r = m[k] - float(ys[k])
            phi.append(r)
            value += 0.5 * r * r
        return value, phi
    y = float(np.asarray(y).reshape(-1)[0])
    if loss == "logistic":
        t = -y * m[0]
        sig = 1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t))
        value = t + math.log1p(math.exp(-t)) if t > 0 else math.log1p(math.exp(t))
        return value, [-y * sig]
    top = max(m)
    e = [math.exp(mk - top) for mk in m]
    total = 0.0
    for ek in e:
        total += ek
    label = int(y)
    phi = [ek / total - (1.0 if k == label else 0.0) for k, ek in enumerate(e)]
    return top + math.log(total) - m[label], phi


# HALP's adaptive mu (cpp/include/lpcore/solver.hpp, kMu*).
MU_SATURATION_LIMIT = 0.001
MU_SHRINK = 0.5
MU_GROWTH = 4.0


def adapt_mu(mu, saturated, grew, eta, epoch_length):
    """The next epoch's mu: halve after a saturated epoch, else grow after one
    in which the gradient norm and the objective grew; within [1/(eta T), 1/eta]."""
    if saturated > MU_SATURATION_LIMIT:
        mu *= MU_SHRINK
    elif grew:
        mu *= MU_GROWTH
    return mu_bounds(mu, eta, epoch_length)


def mu_bounds(mu, eta, epoch_length):
    return min(max(mu, 1.0 / (eta * max(epoch_length, 1))), 1.0 / eta)


DIVERGENCE_SLACK = 1e-3


class DivergenceWatch:
    """Twin of lpcore::DivergenceWatch (cpp/src/solvers/divergence.hpp)."""

    def __init__(self, start):
        self.start = self.best = start

    def diverged(self, objective, grad_norm) -> bool:
        if not (math.isfinite(objective) and math.isfinite(grad_norm)):
            return True
        slack = DIVERGENCE_SLACK * max(abs(self.start), abs(self.best))
        if objective > self.start + slack or objective - self.best > 0.5 * (self.start - self.best) + slack:
            return True
        self.best = min(self.best, objective)
        return False


class RowSampler:
    """Twin of sampling::RowSampler (cpp/src/solvers/sampling.hpp): uniform rows, or
    with weights Walker's alias table built by Vose's algorithm."""

    def __init__(self, seed: int, n: int, weights=None):
        self.rng, self.n = Xorshift128p(seed), n
        self.table = None if weights is None else alias_table(weights)

    def next(self) -> int:
        p = self.rng.next() * self.n
        col = p >> 64
        if self.table is None:
            return col
        threshold, alias = self.table[col]
        return col if (p & M64) < threshold else alias


def alias_table(w) -> list:
    """(threshold, alias) per column, in the C++ order of operations."""
    n = len(w)
    total = 0.0
    for v in w:
        total += float(v)
    q = [(float(v) * n) / total for v in w]
    small = [i for i in range(n) if q[i] < 1.0]
    large = [i for i in range(n) if q[i] >= 1.0]
    table = [None] * n
    while small and large:
        s, big = small.pop(), large.pop()
        table[s] = (int(math.ldexp(max(q[s], 0.0), 64)), big)
        q[big] -= 1.0 - q[s]
        (small if q[big] < 1.0 else large).append(big)
    for i in large + small:
        table[i] = (M64, i)
    return table


def fit_reference(Xq, row_scale, y, n_outputs, method, loss, eta, alpha, mu, delta, epoch_length,
                  max_iter, fit_intercept, seed, bits, adapt=False, sample_weight=None, data_bits=None):
    """Twin of lpcore::fit from a zero start with tol = 0.

    bits 8/16: Xq is the integer data, row_scale its scales (data_bits=8 with
    bits=16: int8 rows under an int16 model, D8M16). bits 32: Xq is the
    float data (row_scale ignored) and the model is kept in float64. adapt:
    HALP's adaptive mu, from mu. y: (n,) or, for the squared loss with K
    outputs, (n, K).
    """
    exact = bits == 32
    Xq = np.asarray(Xq, dtype=np.float64 if exact else np.int64)
    if exact:
        row_scale = np.ones(len(Xq))
    n, dim = Xq.shape
    K = n_outputs
    qmax = 127 if bits == 8 else 32767
    frac = 8 if bits == 8 else 16
    block = PACK_BLOCK.get(bits, 1)
    halp = method == "halp" and not exact
    vr = method != "sgd"
    sx = [float(np.float32(s)) for s in row_scale]
    dither = Dither(solver_seed(seed, 1))
    sampler = RowSampler(solver_seed(seed, 2), n, sample_weight)
    offset_draws = Xorshift128p(solver_seed(seed, 4))
    v = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    v = v / v.max()  # as sampling::SampleWeights scales them
    total_weight = float(n)
    if sample_weight is not None:
        total_weight = 0.0
        for vi in v:
            total_weight += float(vi)
    y = np.asarray(y, dtype=np.float64)
    z = np.zeros((K, dim), dtype=np.float64 if exact else np.int64)
    w_base = np.zeros((K, dim), dtype=np.float32)
    b = [0.0] * K
    s = 1.0 if (halp or exact) else float(delta)
    c_q = np.zeros((K, dim), dtype=np.int64)  # natural order
    c_float = np.zeros(K * dim, dtype=np.float32)  # packed order, as the solver keeps it
    history = []
    grad_norms, mus, saturated = [], [], []
    if halp and adapt:
        mu = mu_bounds(mu, eta, epoch_length)
    previous = None  # (grad norm, objective) at the start of the previous epoch

    def round_offsets():
        if bits == 8:
            q = round_offsets_reference(c_float, dither)
        else:
            q = np.empty(K * dim, dtype=np.int64)
            for j in range(K * dim):
                v = math.ldexp(float(c_float[j]), frac)
                fl = math.floor(v)
                u = (offset_draws.next() >> 11) * 2.0**-53
                q[j] = int(fl) + (1 if u < v - fl else 0)
        for k in range(K):
            c_q[k] = unpack(q[k * dim : (k + 1) * dim], block)

    shrink_multipliers = []  # the integer multiplier of every shrinkage (the solver skips the 0s)

    def shrink(steps):
        if alpha <= 0 or steps == 0:
            return
        kk = 1.0 - math.pow(1.0 - eta * alpha, float(steps))
        if exact:  # SVRG shrinks toward the epoch's anchor (Trainer::shrink)
            z[:] = z - kk * (z - (anchor if vr else 0.0))
            return
        for k in range(K):
            peek = Dither.__new__(Dither)
            peek.draws = Xorshift128p.__new__(Xorshift128p)
            peek.draws.s0, peek.draws.s1 = dither.draws.s0, dither.draws.s1
            shrink_multipliers.append(peek.multiplier(float(np.float32(-kk)), frac))
            z[k], _ = update_with(dither, z[k], z[k], -kk, np.zeros(dim, dtype=np.int64), bits)

    def index():
        return sampler.next()

    for epoch in range(max_iter + 1):
        if halp:
            w_base[:] = (w_base.astype(np.float64) + s * z.astype(np.float64)).astype(np.float32)
            z[:] = 0
        # full pass at the anchor
        g = np.zeros((K, dim), dtype=np.float64 if exact else np.float32)
        gb = [0.0] * K
        anchor_phi = np.zeros((n, K))
        base = np.zeros((n, K))
        total = 0.0
        for i in range(n):
            if halp:
                base[i] = [sx[i] * float(dot_f32(Xq[i], w_base[k])) for k in range(K)]
                m = [b[k] + base[i, k] for k in range(K)]
            else:
                m = [b[k] + sx[i] * s * float(Xq[i] @ z[k]) for k in range(K)]
            value, phi = loss_and_derivative(loss, m, y[i])
            vi = float(v[i])
            if vi != 0:
                total += vi * value
            for k in range(K):
                anchor_phi[i, k] = phi[k]
                gb[k] += vi * phi[k]
                if exact:
                    g[k] = g[k] + (phi[k] * vi) * Xq[i]
                else:
                    g[k] = fma32(np.float32(phi[k] * sx[i] * vi), Xq[i], g[k])
        inv_n = 1.0 / total_weight
        w = s * z.astype(np.float64) + (w_base.astype(np.float64) if halp else 0.0)
        gfull = g.astype(np.float64) * inv_n + alpha * w
        coef_sq = float(np.cumsum((gfull * gfull).ravel())[-1])
        coef_norm = math.sqrt(coef_sq)
        icpt_sq = 0.0
        if fit_intercept:
            for k in range(K):
                icpt_sq += (gb[k] * inv_n) * (gb[k] * inv_n)
        grad_norm = math.sqrt(coef_sq + icpt_sq)
        objective = total * inv_n + 0.5 * alpha * float(np.sum(w * w))
        if epoch > 0:
            history.append(objective)
            grad_norms.append(grad_norm)
        else:
            watch = DivergenceWatch(objective)
        if watch.diverged(objective, grad_norm) or epoch == max_iter:
            break
        if halp:
            if adapt and epoch > 0:
                grew = grad_norm > previous[0] and objective > previous[1]
                mu = adapt_mu(mu, saturated[-1], grew, eta, epoch_length)
            s_new = coef_norm / (mu * qmax)
            if s_new > 0 and math.isfinite(s_new):
                s = s_new
        if vr and exact:
            anchor = z.copy()
            c_exact = -eta * (g.astype(np.float64) * inv_n + alpha * anchor)
        elif vr:
            limit = (16383 if bits == 8 else 2**29) / 2.0**frac
            base_w = w_base.astype(np.float64) if halp else np.zeros((K, dim))
            c = -eta * (g.astype(np.float64) * inv_n + alpha * base_w) / s
            c = np.clip(c, -limit, limit).astype(np.float32)
            c_float[:] = np.concatenate([pack(c[k], block) for k in range(K)])
            round_offsets()
        previous = (grad_norm, objective)
        mus.append(mu if halp else math.nan)
        sat = 0
        since = 0
        nxt = index() if epoch_length > 0 else 0
        for step in range(epoch_length):
            i = nxt
            if step + 1 < epoch_length:
                nxt = index()
            m = [b[k] + sx[i] * s * float(Xq[i] @ z[k]) + (base[i, k] if halp else 0.0) for k in range(K)]
            _, phi = loss_and_derivative(loss, m, y[i])
            for k in range(K):
                dk = phi[k] - anchor_phi[i, k] if vr else phi[k]
                a = (-eta / s) * dk * sx[i]  # the solver's order of operations
                if exact:
                    z[k] = z[k] + (c_exact[k] if vr else 0.0) + a * Xq[i]
                else:
                    ck = c_q[k] if vr else np.zeros(dim, dtype=np.int64)
                    z[k], hits = update_with(dither, z[k], Xq[i], float(np.float32(a)), ck, bits, data_bits)
                    sat += hits
                if fit_intercept:
                    b[k] -= eta * (dk + (gb[k] * inv_n if vr else 0.0))
            since += 1
            if since == REFRESH_PERIOD:
                shrink(since)
                since = 0
                if bits == 8 and vr and (step + 1) % OFFSET_PERIOD == 0:
                    round_offsets()
        shrink(since)
        saturated.append(sat / (epoch_length * K * dim) if epoch_length > 0 else 0.0)
    coef = (s * z.astype(np.float64) + (w_base.astype(np.float64) if halp else 0.0)).astype(np.float32)
    return {"offset": z, "centre": w_base, "coef": coef, "intercept": np.array(b), "scale": s,
            "objective": np.array(history), "grad_norm": np.array(grad_norms), "mu": np.array(mus),
            "saturated": np.array(saturated), "shrink_multipliers": np.array(shrink_multipliers)}


# ---- float formats ----------------------------------------------------------
# An independent twin of quantize_float (cpp/src/kernels/float_format_spec.hpp), in
# float64 arithmetic rather than on bit patterns: a value's grid step is
# 2^(max(e, emin) - M) with e its binade, and lo = floor(|x| / step) * step is
# exact, as is the dropped fraction (|x| - lo) / step.


def float_words(seed: int, n: int) -> np.ndarray:
    """The 32-bit random word of each of n values: one 32-byte block per group of 8."""
    return Xorshift128p4(seed).words32(-(-n // 8))[:n].astype(np.uint64)


def quantize_float_reference(x, mantissa_bits, emin, max_value, rounding, words=None):
    """Round float32 values onto a float format's grid; overflow saturates to +-max_value."""
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    a = np.abs(x)
    _, E = np.frexp(a)  # a = f 2^E, f in [0.5, 1)
    step = np.ldexp(1.0, np.maximum(E - 1, emin) - mantissa_bits)
    k = np.floor(a / step)
    frac = a / step - k
    if rounding == "nearest":
        up = (frac > 0.5) | ((frac == 0.5) & (k % 2 == 1))
    elif rounding == "toward_zero":
        up = np.zeros(a.shape, dtype=bool)
    else:
        threshold = np.floor(np.ldexp(frac, 32))
        up = np.asarray(words, dtype=np.float64) < threshold
    r = np.minimum((k + up) * step, max_value)
    return np.copysign(r, x).astype(np.float32)


def dynamic_scale_reference(amax: float, max_value: float) -> float:
    """The largest power of two S with S * amax <= max_value (1 for amax = 0)."""
    if amax == 0:
        return 1.0
    k = 0
    while amax * 2.0**k > max_value:
        k -= 1
    while amax * 2.0 ** (k + 1) <= max_value:
        k += 1
    return 2.0 ** min(max(k, -100), 100)


def fit_float_grad_reference(X, y, n_outputs, loss, eta, alpha, epoch_length, max_iter, fit_intercept, seed,
                             fmt, scaling="none", compensate=False, q_floor=0.1, ema=1.0 / 64.0, sample_weight=None):
    """Twin of lpcore::fit_float_grad for sgd with nearest rounding, in float64
    except where the C++ loop rounds to float32 (the gradient, its scaled and
    quantized copies, the weights). fmt = (mantissa_bits, emin, max_value).
    Returns the coefficients (K x d), intercepts and the per-epoch mean q."""
    X = np.asarray(X, dtype=np.float32)
    n, d = X.shape
    K = n_outputs
    M, emin, top = fmt
    sampler = RowSampler(solver_seed(seed, 2), n, sample_weight)
    w = np.zeros((K, d), dtype=np.float32)
    b = np.zeros(K)
    q_hat = 1.0
    q_means = []
    for _ in range(max_iter):
        qs = []
        for _ in range(epoch_length):
            i = sampler.next()
            m = [b[k] + float(X[i].astype(np.float64) @ w[k].astype(np.float64)) for k in range(K)]
            _, phi = loss_and_derivative(loss, m, y[i])
            g = np.concatenate([phi[k] * X[i].astype(np.float64) + alpha * w[k].astype(np.float64) for k in range(K)])
            if fit_intercept:
                g = np.concatenate([g, phi])
            g = g.astype(np.float32)
            S = dynamic_scale_reference(float(np.abs(g).max()), top) if scaling == "dynamic" else 1.0
            scaled = (g.astype(np.float64) * S).astype(np.float32)
            q = (quantize_float_reference(scaled, M, emin, top, "nearest").astype(np.float64) / S).astype(np.float32)
            step = eta / min(max(q_hat, q_floor), 1.0) if compensate else eta
            for k in range(K):
                w[k] = (w[k].astype(np.float64) - step * q[k * d : (k + 1) * d].astype(np.float64)).astype(np.float32)
                if fit_intercept:
                    b[k] -= step * float(q[K * d + k])
            g64, q64 = g.astype(np.float64), q.astype(np.float64)
            gg = float(g64 @ g64)
            if gg > 0:
                q_t = float(q64 @ g64) / gg
                qs.append(q_t)
                q_hat += ema * (q_t - q_hat)
        q_means.append(float(np.mean(qs)) if qs else float("nan"))
    return w, b, np.array(q_means)
