// AVX2 inner-loop updates: the fp32 update, the fused stochastic-rounding
// updates of HALP and LP-SVRG on the int8 and int16 grids (and the D8M16 pair),
// each also fused with the next sample's dot, and the int8 offsets' rounding.

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/avx2/common.hpp"
#include "lpcore/dither.hpp"
#include "lpcore/kernels.hpp"

namespace lpcore::avx2 {
using namespace detail;

LPCORE_AVX2 void update_f32(float* w, const float* x, float a, const float* c, std::size_t n) {
  const __m256 va = _mm256_set1_ps(a);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 wc = _mm256_add_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(c + i));
    _mm256_storeu_ps(w + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), wc));
  }
  for (; i < n; ++i) w[i] = std::fma(a, x[i], w[i] + c[i]);
}

namespace {

// The int8 fused update on `blocks` full blocks of 32 coordinates.
//
// Layout trick: read as int16 lanes, z already holds every odd coordinate in
// a lane's high byte, and vpblendvb drops a dither byte under it, so
// B = 256 z + r costs one blend (odd) or a shift and a blend (even) and no
// widening. vpmaddubsw with |A| in one byte of each pair multiplies only the
// even or only the odd coordinates. The results are the high bytes of the
// int16 lanes, which one shift and one blend gather back in order.
//
// The sign of the multiplier A is either a template constant (kPositive,
// kNegative: S = c + |A| x or c - |A| x, with vpaddsw / vpsubsw) or, with
// kAnySign, applied to the products by vpsignw from the int16 lanes of sign
// (+1 or -1): two more instructions a block, but no branch on the sign. The
// sign of a step's update is a coin flip, so a branch on it is mispredicted
// about every other call, which costs more than the two instructions on a
// short row (see kSignedBlocksI8). The results are the same: a product is
// |A| x with |A| <= 128, never -32768, so c + (-p) saturates as c - p does.
//
// With kDot, the new z of every block is also multiplied into the next
// sample's row xn (as dot_i8_step does) and summed into the int32 lanes of
// *dot: at most 4 * 127 * 128 per lane and block, so a chunk cannot overflow.
enum class Sign { kPositive, kNegative, kAnySign };

template <Sign kSign, bool kDot = false>
LPCORE_AVX2 LPCORE_INLINE std::size_t update_blocks_i8(std::int8_t* z, const std::int8_t* x,
                                                       const std::int16_t* c, std::size_t blocks,
                                                       std::size_t ahead,
                                                       const std::uint8_t* r, std::int32_t abs_A,
                                                       const std::int8_t* xn = nullptr, __m256i* dot = nullptr,
                                                       __m256i sign = _mm256_set1_epi16(1)) {
  const __m256i k_even = _mm256_set1_epi16(static_cast<short>(abs_A));
  const __m256i k_odd = _mm256_set1_epi16(static_cast<short>(static_cast<std::uint32_t>(abs_A) << 8));
  const __m256i high_bytes = _mm256_set1_epi16(static_cast<short>(0xFF00));
  const __m256i rail = _mm256_set1_epi16(32767);
  const __m256i minus128 = _mm256_set1_epi8(-128), minus127 = _mm256_set1_epi8(-127);
  __m256i count = _mm256_setzero_si256();  // per-byte counts, <= kChunk / 32 = 128
  const auto block = [&](std::size_t p) __attribute__((always_inline, target("avx2,fma"))) {
    const __m256i zv = load(z + p), xv = load(x + p);
    // B = 256 z + r  (dither r = table[offset + (k ^ 1)])
    const __m256i b_odd = _mm256_blendv_epi8(load(r + p), zv, high_bytes);
    const __m256i b_even = _mm256_blendv_epi8(load(r + p + 1), _mm256_slli_epi16(zv, 8), high_bytes);
    // S = c +- |A| x
    const __m256i p_even = _mm256_maddubs_epi16(k_even, xv), p_odd = _mm256_maddubs_epi16(k_odd, xv);
    __m256i s_even, s_odd;
    if constexpr (kSign == Sign::kAnySign) {
      s_even = _mm256_adds_epi16(load(c + p), _mm256_sign_epi16(p_even, sign));
      s_odd = _mm256_adds_epi16(load(c + p + 16), _mm256_sign_epi16(p_odd, sign));
    } else if constexpr (kSign == Sign::kNegative) {
      s_even = _mm256_subs_epi16(load(c + p), p_even);
      s_odd = _mm256_subs_epi16(load(c + p + 16), p_odd);
    } else {
      s_even = _mm256_adds_epi16(load(c + p), p_even);
      s_odd = _mm256_adds_epi16(load(c + p + 16), p_odd);
    }
    // L = B + S; the new value is L >> 8, the high byte.
    const __m256i l_even = _mm256_adds_epi16(b_even, s_even), l_odd = _mm256_adds_epi16(b_odd, s_odd);
    const __m256i v = _mm256_blendv_epi8(_mm256_srli_epi16(l_even, 8), l_odd, high_bytes);
    const __m256i on_rail = _mm256_or_si256(
        _mm256_blendv_epi8(_mm256_cmpeq_epi16(l_even, rail), _mm256_cmpeq_epi16(l_odd, rail), high_bytes),
        _mm256_cmpeq_epi8(v, minus128));
    count = _mm256_sub_epi8(count, on_rail);
    const __m256i z_new = _mm256_max_epi8(v, minus127);
    store(z + p, z_new);
    if constexpr (kDot) {
      const __m256i an = load(xn + p);
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(an, an), _mm256_sign_epi8(z_new, an));
      *dot = _mm256_add_epi32(*dot, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
  };
  std::size_t b = 0;
  // Only the row that comes from memory is prefetched: the next sample's row
  // with kDot (this step's row is the one the previous step read), else x.
  // z and c are reread every step and stay in cache; prefetching them too
  // slows a wide step, as the block is instruction-bound and every prefetch
  // is one more instruction (docs/decisions.md, "Prefetch distance").
  for (; b + 2 <= blocks; b += 2) {  // two blocks: one cache line of z, x and xn
    const std::size_t p = 32 * b;
    prefetch((kDot ? xn : x) + p + ahead);
    block(p);
    block(p + 32);
  }
  if (b < blocks) block(32 * b);
  return hsum_u64(_mm256_sad_epu8(count, _mm256_setzero_si256()));
}

// A row of the int16 update as it reads it: an int16 row as it is; an int8
// row (D8M16) sign-extended and shifted to 256 x (spec::widen_i16) for the
// update, and sign-extended alone for the next sample's dot.
template <class X>
LPCORE_AVX2 LPCORE_INLINE __m256i load_update_row(const X* p) {
  if constexpr (sizeof(X) == 1)
    return _mm256_slli_epi16(widen16(p), UpdateFormat::kWidenI8I16);
  else
    return load(p);
}

template <class X>
LPCORE_AVX2 LPCORE_INLINE __m256i load_dot_row(const X* p) {
  if constexpr (sizeof(X) == 1)
    return widen16(p);
  else
    return load(p);
}

// The int16 fused update on `blocks` full blocks of 16 coordinates. vpunpck
// pairs each x with its signed dither word s, so that one vpmaddwd against
// (A, 1) gives A x + s; with the packed offset c (Q16 plus 2^15, in the
// unpacked order 0-3, 8-11 | 4-7, 12-15) that is D = c + A x + s < 2^31 in
// magnitude, and d = D >> 16 (|d| <= 24577) comes back to natural order with
// one vpackssdw. Then v = z + d: vpaddsw saturates it to [-32768, 32767] and
// vpmaxsw raises -32768 to -32767. A coordinate is saturated exactly when the
// result differs from the wrapping sum z + d: that catches v > 32767 (the
// wrapped sum is negative), v < -32768 (positive) and v = -32768 (raised).
// With kDot, the new z is also multiplied into the next sample's row xn as
// dot_i16 does it: vpmaddwd pair sums (no pair reaches 2^31: z is never
// -32768). *pairs_sum adds them up modulo 2^32 and *hi_sum adds their high 16
// bits exactly; the driver recovers the sum of their low 16 bits, which stays
// below 2^32 within a chunk of 4096 coordinates, as the difference modulo 2^32.
//
// X = int8 (D8M16): x is read widened to 256 x (spec::widen_i16), xn to int16
// as it is; then no pair sum exceeds 2^23 and *pairs_sum alone is exact
// within a chunk (256 blocks: below 2^31 per lane), so *hi_sum is unused.
template <bool kDot = false, class X = std::int16_t>
LPCORE_AVX2 LPCORE_INLINE std::size_t update_blocks_i16(std::int16_t* z, const X* x,
                                                        const std::int32_t* c, std::size_t blocks,
                                                        std::size_t ahead,
                                                        const std::uint8_t* r, std::int32_t A,
                                                        const X* xn = nullptr, __m256i* pairs_sum = nullptr,
                                                        __m256i* hi_sum = nullptr) {
  const __m256i k = _mm256_set1_epi32(static_cast<int>((1u << 16) | (static_cast<std::uint32_t>(A) & 0xFFFFu)));
  const __m256i bottom = _mm256_set1_epi16(-32767);
  __m256i kept = _mm256_setzero_si256();  // per int16 lane: minus the unsaturated coordinates (<= 256)
  const auto block = [&](std::size_t p) __attribute__((always_inline, target("avx2,fma"))) {
    const __m256i zv = load(z + p), xv = load_update_row(x + p), sv = load(r + 2 * p);
    const __m256i d_lo = _mm256_srai_epi32(
        _mm256_add_epi32(load(c + p), _mm256_madd_epi16(_mm256_unpacklo_epi16(xv, sv), k)), 16);
    const __m256i d_hi = _mm256_srai_epi32(
        _mm256_add_epi32(load(c + p + 8), _mm256_madd_epi16(_mm256_unpackhi_epi16(xv, sv), k)), 16);
    const __m256i d = _mm256_packs_epi32(d_lo, d_hi);
    const __m256i z_new = _mm256_max_epi16(_mm256_adds_epi16(zv, d), bottom);
    kept = _mm256_add_epi16(kept, _mm256_cmpeq_epi16(z_new, _mm256_add_epi16(zv, d)));
    store(z + p, z_new);
    if constexpr (kDot) {
      const __m256i pairs = _mm256_madd_epi16(load_dot_row(xn + p), z_new);
      *pairs_sum = _mm256_add_epi32(*pairs_sum, pairs);
      if constexpr (sizeof(X) == 2) *hi_sum = _mm256_add_epi32(*hi_sum, _mm256_srai_epi32(pairs, 16));
    }
  };
  // As in the int8 kernel, only the streamed row is prefetched.
  std::size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {  // two blocks: one cache line of z (and of x, xn at 16 bits)
    const std::size_t p = 16 * b;
    prefetch((kDot ? xn : x) + p + ahead / sizeof(X));
    block(p);
    block(p + 16);
  }
  if (b < blocks) block(16 * b);
  return 16 * blocks - static_cast<std::size_t>(-hsum_i32_small(_mm256_madd_epi16(kept, _mm256_set1_epi16(1))));
}

// The last m < 32 (int8) or m < 16 (int16) coordinates of a fast-path update,
// run as one vector block on zero-padded copies. The tail's offsets are in
// natural order (the packed layout leaves a partial block alone), so they are
// packed into the copy. A padding coordinate (z = x = c = 0) never counts as
// saturated: int8 keeps z = 0 (L = r, in [0, 256)); int16 ends at s >> 16, 0
// or -1, well inside the grid (its offset lacks the bias, and the copy is
// discarded). Its next-row copy is 0, so it adds nothing to the dot.
template <bool kDot>
LPCORE_AVX2 LPCORE_INLINE std::size_t update_tail_i8(std::int8_t* z, const std::int8_t* x, const std::int16_t* c,
                                                     std::size_t m, const std::uint8_t* r, std::int32_t abs_A,
                                                     __m256i sign, const std::int8_t* xn, __m256i* dot) {
  alignas(32) std::int8_t zt[32] = {}, xt[32] = {}, xnt[32] = {};
  alignas(32) std::int16_t ct[32] = {};
  std::memcpy(zt, z, m);
  std::memcpy(xt, x, m);
  if constexpr (kDot) std::memcpy(xnt, xn, m);
  for (std::size_t j = 0; j < m; ++j) ct[packed_position(j, kPackBlockI8)] = c[j];
  const std::size_t sat = update_blocks_i8<Sign::kAnySign, kDot>(zt, xt, ct, 1, 0, r, abs_A, xnt, dot, sign);
  std::memcpy(z, zt, m);
  return sat;
}

template <bool kDot, class X>
LPCORE_AVX2 LPCORE_INLINE std::size_t update_tail_i16(std::int16_t* z, const X* x, const std::int32_t* c,
                                                      std::size_t m, const std::uint8_t* r, std::int32_t A,
                                                      const X* xn, __m256i* pairs_sum, __m256i* hi_sum) {
  alignas(32) std::int16_t zt[16] = {};
  alignas(32) X xt[16] = {}, xnt[16] = {};
  alignas(32) std::int32_t ct[16] = {};
  std::memcpy(zt, z, m * sizeof(std::int16_t));
  std::memcpy(xt, x, m * sizeof(X));
  if constexpr (kDot) std::memcpy(xnt, xn, m * sizeof(X));
  for (std::size_t j = 0; j < m; ++j) ct[packed_position(j, kPackBlockI16)] = c[j];
  const std::size_t sat = update_blocks_i16<kDot, X>(zt, xt, ct, 1, 0, r, A, xnt, pairs_sum, hi_sum);
  std::memcpy(z, zt, m * sizeof(std::int16_t));
  return sat;
}

// Dither::draw_multiplier with a one-instruction floor (vroundsd) instead of
// a truncation, a conversion back and a correction: the same value bit for
// bit (floor(t) and t - floor(t) are exact for |t| <= 2^40; vmaxsd returns
// its second operand for a NaN, as the specification's clamp does), with a
// dependency chain about half as long. It sits on the solver's critical
// path: the step's multiplier waits for the loss derivative, the update for
// the multiplier.
LPCORE_AVX2 inline std::int64_t fast_multiplier(Dither& dither, float a, int frac_bits) {
  const double u = dither.draws.uniform();
  const __m128d limit = _mm_set_sd(0x1p40), neg_limit = _mm_set_sd(-0x1p40);
  __m128d t = _mm_set_sd(static_cast<double>(a) * static_cast<double>(std::int64_t{1} << frac_bits));
  t = _mm_min_sd(_mm_max_sd(t, neg_limit), limit);
  const __m128d fl = _mm_floor_sd(t, t);
  const double frac = _mm_cvtsd_f64(_mm_sub_sd(t, fl));
  return _mm_cvttsd_si64(fl) + static_cast<std::int64_t>(u < frac);
}

// Up to this many blocks of 32 coordinates (a row of up to 256), the int8
// update applies A's sign with vpsignw (Sign::kAnySign) rather than branch on
// it: on a short row the branch's misprediction costs more than the two
// instructions a block. Longer rows keep the branch, whose misprediction is
// spread over the row (docs/decisions.md, "The sign of the int8 multiplier").
constexpr std::size_t kSignedBlocksI8 = 8;

// update_i8 and, with kDot, update_dot_i8: chunk by chunk, the fast path's
// vector blocks (and the dot riding on them), or the exact scalar path
// followed by a separate dot of the chunk.
template <bool kDot>
LPCORE_AVX2 std::size_t update_driver_i8(std::int8_t* z, const std::int8_t* x, float a, const std::int16_t* c,
                                         std::size_t n, Dither& dither, const std::int8_t* xn,
                                         std::int64_t* dot) {
  const std::int64_t A = fast_multiplier(dither, a, UpdateFormat::kFracI8);
  const bool fast = A >= -UpdateFormat::kMaxMulI8 && A <= UpdateFormat::kMaxMulI8;
  // |A| and its sign without a branch (both are coin flips, step to step).
  const std::int64_t neg = A >> 63;  // -1 or 0
  const auto abs_A = static_cast<std::int32_t>((A ^ neg) - neg);
  const __m256i sign = _mm256_set1_epi16(static_cast<short>(neg | 1));
  std::size_t sat = 0;
  std::int64_t total = 0;
  for (std::size_t c0 = 0; c0 < n; c0 += Dither::kChunk) {
    const std::size_t m = std::min(Dither::kChunk, n - c0);
    const std::uint8_t* r = dither.table.data() + dither.next_offset();
    const std::int8_t* xc = kDot ? xn + c0 : nullptr;
    if (fast) {
      __m256i acc = _mm256_setzero_si256();
      const std::size_t blocks = m / 32, done = 32 * blocks, ahead = prefetch_ahead(n - c0);
      if (blocks <= kSignedBlocksI8)
        sat += update_blocks_i8<Sign::kAnySign, kDot>(z + c0, x + c0, c + c0, blocks, ahead, r, abs_A, xc, &acc, sign);
      else if (A < 0)
        sat += update_blocks_i8<Sign::kNegative, kDot>(z + c0, x + c0, c + c0, blocks, ahead, r, abs_A, xc, &acc);
      else
        sat += update_blocks_i8<Sign::kPositive, kDot>(z + c0, x + c0, c + c0, blocks, ahead, r, abs_A, xc, &acc);
      if (done < m) {
        const std::size_t k = c0 + done;
        sat += update_tail_i8<kDot>(z + k, x + k, c + k, m - done, r + done, abs_A, sign,
                                    kDot ? xc + done : nullptr, &acc);
      }
      if constexpr (kDot) total += hsum_i32_small(acc);  // |chunk dot| <= 4096 * 128 * 127
    } else {
      sat += spec::update_chunk_i8(z, x, A, c, n, c0, 0, m, r);
      if constexpr (kDot) total += dot_i8(xc, z + c0, m);
    }
  }
  if constexpr (kDot) *dot = total;
  return sat;
}

template <bool kDot, class X>
LPCORE_AVX2 std::size_t update_driver_i16(std::int16_t* z, const X* x, float a, const std::int32_t* c,
                                          std::size_t n, Dither& dither, const X* xn,
                                          std::int64_t* dot) {
  const std::int64_t A = fast_multiplier(dither, a, spec::frac_i16<X>());
  const bool fast = A >= -UpdateFormat::kMaxMulI16 && A <= UpdateFormat::kMaxMulI16;
  const auto A32 = static_cast<std::int32_t>(fast ? A : 0);
  std::size_t sat = 0;
  std::int64_t total = 0;
  for (std::size_t c0 = 0; c0 < n; c0 += Dither::kChunk) {
    const std::size_t m = std::min(Dither::kChunk, n - c0);
    const std::uint8_t* r = dither.table.data() + 2 * dither.next_offset();
    const X* xc = kDot ? xn + c0 : nullptr;
    if (fast) {
      __m256i lo = _mm256_setzero_si256(), hi = lo;
      const std::size_t blocks = m / 16, done = 16 * blocks;
      const std::size_t ahead = prefetch_ahead(sizeof(X) * (n - c0));
      sat += update_blocks_i16<kDot, X>(z + c0, x + c0, c + c0, blocks, ahead, r, A32, xc, &lo, &hi);
      if (done < m) {
        const std::size_t k = c0 + done;
        sat += update_tail_i16<kDot, X>(z + k, x + k, c + k, m - done, r + 2 * done, A32,
                                        kDot ? xc + done : nullptr, &lo, &hi);
      }
      if constexpr (kDot && sizeof(X) == 1) {
        total += hsum_i32(lo);  // each lane below 2^31 (update_blocks_i16)
      } else if constexpr (kDot) {  // |hi sum| <= 2^27; the low halves' sum < 2^28
        const std::int32_t hi_total = hsum_i32_small(hi);
        const std::uint32_t lo_total = static_cast<std::uint32_t>(hsum_i32_small(lo)) -
                                       static_cast<std::uint32_t>(hi_total) * 65536u;
        total += std::int64_t{lo_total} + 65536 * std::int64_t{hi_total};
      }
    } else {
      sat += spec::update_chunk_i16(z, x, A, c, n, c0, 0, m, r);
      if constexpr (kDot && sizeof(X) == 1)
        total += dot_i8_i16(xc, z + c0, m);
      else if constexpr (kDot)
        total += dot_i16(xc, z + c0, m);
    }
  }
  if constexpr (kDot) *dot = total;
  return sat;
}

}  // namespace

LPCORE_AVX2 std::int64_t draw_multiplier(Dither& dither, float a, int frac_bits) {
  return fast_multiplier(dither, a, frac_bits);
}

LPCORE_AVX2 std::size_t update_i8(std::int8_t* z, const std::int8_t* x, float a, const std::int16_t* c,
                                  std::size_t n, Dither& dither) {
  return update_driver_i8<false>(z, x, a, c, n, dither, nullptr, nullptr);
}

LPCORE_AVX2 std::size_t update_i16(std::int16_t* z, const std::int16_t* x, float a, const std::int32_t* c,
                                   std::size_t n, Dither& dither) {
  return update_driver_i16<false, std::int16_t>(z, x, a, c, n, dither, nullptr, nullptr);
}

LPCORE_AVX2 std::size_t update_i8_i16(std::int16_t* z, const std::int8_t* x, float a, const std::int32_t* c,
                                      std::size_t n, Dither& dither) {
  return update_driver_i16<false, std::int8_t>(z, x, a, c, n, dither, nullptr, nullptr);
}

LPCORE_AVX2 std::size_t update_dot_i8(std::int8_t* z, const std::int8_t* x, float a, const std::int16_t* c,
                                      std::size_t n, Dither& dither, const std::int8_t* x_next,
                                      std::int64_t* dot) {
  return update_driver_i8<true>(z, x, a, c, n, dither, x_next, dot);
}

LPCORE_AVX2 std::size_t update_dot_i16(std::int16_t* z, const std::int16_t* x, float a, const std::int32_t* c,
                                       std::size_t n, Dither& dither, const std::int16_t* x_next,
                                       std::int64_t* dot) {
  return update_driver_i16<true, std::int16_t>(z, x, a, c, n, dither, x_next, dot);
}

LPCORE_AVX2 std::size_t update_dot_i8_i16(std::int16_t* z, const std::int8_t* x, float a, const std::int32_t* c,
                                          std::size_t n, Dither& dither, const std::int8_t* x_next,
                                          std::int64_t* dot) {
  return update_driver_i16<true, std::int8_t>(z, x, a, c, n, dither, x_next, dot);
}

LPCORE_AVX2 void round_offsets_i8(const float* c, std::size_t n, Dither& dither, std::int16_t* q) {
  const __m256 scale = _mm256_set1_ps(0x1p24f);
  const __m256 lo = _mm256_set1_ps(-spec::kOffsetFixedMax), hi = _mm256_set1_ps(spec::kOffsetFixedMax);
  const auto fixed = [&](const float* p) __attribute__((always_inline, target("avx2,fma"))) {
    const __m256 y = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(p), scale), lo), hi);
    return _mm256_cvtps_epi32(_mm256_floor_ps(y));  // integral and |y| < 2^30: exact
  };
  for (std::size_t c0 = 0; c0 < n; c0 += Dither::kChunk) {
    const std::size_t m = std::min(Dither::kChunk, n - c0);
    const std::uint8_t* r = dither.table.data() + 2 * dither.next_offset();
    std::size_t k = 0;
    for (; k + 16 <= m; k += 16) {
      const __m256i rv = load(r + 2 * k);
      const __m256i q0 = _mm256_add_epi32(fixed(c + c0 + k), _mm256_cvtepu16_epi32(_mm256_castsi256_si128(rv)));
      const __m256i q1 = _mm256_add_epi32(fixed(c + c0 + k + 8), _mm256_cvtepu16_epi32(_mm256_extracti128_si256(rv, 1)));
      const __m256i packed = _mm256_packs_epi32(_mm256_srai_epi32(q0, 16), _mm256_srai_epi32(q1, 16));
      store(q + c0 + k, _mm256_permute4x64_epi64(packed, 0xD8));  // packs interleaves the lanes
    }
    spec::round_offsets_chunk_i8(c + c0, k, m, r, q + c0);
  }
}

// update_f32 (or axpy_f32 when c is null) fused with dot_f32(x_next, w): each
// block's new w goes straight into dot_f32's accumulators, in dot_f32's order
// (fma is commutative in its two factors, so fma(w, xn, acc) = fma(xn, w, acc)).
LPCORE_AVX2 float update_dot_f32(float* w, const float* x, float a, const float* c, std::size_t n,
                                 const float* x_next) {
  const __m256 va = _mm256_set1_ps(a);
  const auto step8 = [&](std::size_t i) __attribute__((always_inline, target("avx2,fma"))) {
    const __m256 old = c ? _mm256_add_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(c + i)) : _mm256_loadu_ps(w + i);
    const __m256 nw = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), old);
    _mm256_storeu_ps(w + i, nw);
    return nw;
  };
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  const std::size_t ahead = prefetch_ahead(4 * n) / 4;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (std::size_t line = 0; line < 32; line += 16) {
      prefetch(x + i + line + ahead);
      prefetch(x_next + i + line + ahead);
    }
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x_next + i), step8(i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x_next + i + 8), step8(i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x_next + i + 16), step8(i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x_next + i + 24), step8(i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x_next + i), step8(i), acc0);
  float h = combine_dot(acc0, acc1, acc2, acc3);
  for (; i < n; ++i) {
    w[i] = c ? std::fma(a, x[i], w[i] + c[i]) : std::fma(a, x[i], w[i]);
    h = std::fma(x_next[i], w[i], h);
  }
  return h;
}

}  // namespace lpcore::avx2
