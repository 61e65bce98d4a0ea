// AVX2 kernels of the data path and of lpcore.quantize: per-row quantization
// to the int8 / int16 grids, dequantization, a row's max |x| and sum of
// squares (with its float64 -> float32 conversion), and the rounding to
// nearest with its squared error.

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/avx2/common.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/width.hpp"
#include "lpcore/rng.hpp"

namespace lpcore::avx2 {
using namespace detail;

namespace {

// Quantize the full groups of 8; returns the clipped count and leaves the
// partial final group (and the generator state) for the scalar specification.
LPCORE_AVX2 std::size_t quantize_groups(const float* x, std::size_t groups, float scale, Rounding rounding,
                                        Xorshift128p4& rng, float qmax, __m256i* out32, std::size_t& clipped) {
  const __m256 vscale = _mm256_set1_ps(scale), vq = _mm256_set1_ps(qmax), vnq = _mm256_set1_ps(-qmax);
  const __m256 lo = _mm256_set1_ps(-(qmax + 1.0f)), hi = _mm256_set1_ps(qmax + 1.0f);
  const __m256 one = _mm256_set1_ps(1.0f), inv24 = _mm256_set1_ps(0x1p-24f);
  VecRng g(rng);
  for (std::size_t k = 0; k < groups; ++k) {
    __m256 y = _mm256_div_ps(_mm256_loadu_ps(x + 8 * k), vscale);
    y = _mm256_and_ps(y, _mm256_cmp_ps(y, y, _CMP_ORD_Q));  // NaN -> 0
    y = _mm256_min_ps(_mm256_max_ps(y, lo), hi);
    __m256 q;
    if (rounding == Rounding::nearest) {
      q = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    } else {
      const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(g.next(), 8)), inv24);
      const __m256 fl = _mm256_floor_ps(y);
      q = _mm256_add_ps(fl, _mm256_and_ps(_mm256_cmp_ps(u, _mm256_sub_ps(y, fl), _CMP_LT_OQ), one));
    }
    const __m256 out = _mm256_or_ps(_mm256_cmp_ps(q, vq, _CMP_GT_OQ), _mm256_cmp_ps(q, vnq, _CMP_LT_OQ));
    clipped += static_cast<std::size_t>(__builtin_popcount(_mm256_movemask_ps(out)));
    out32[k] = _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(q, vq), vnq));
  }
  g.save(rng);
  return groups;
}

template <class T>
LPCORE_AVX2 std::size_t quantize_avx2(const float* x, std::size_t n, float scale, Rounding rounding,
                                      Xorshift128p4& rng, T* q, float qmax) {
  std::size_t clipped = 0;
  constexpr std::size_t kBatch = 64;  // groups of 8 per batch
  __m256i buf[kBatch];
  std::size_t i = 0;
  while (n - i >= 8) {
    const std::size_t groups = std::min(kBatch, (n - i) / 8);
    quantize_groups(x + i, groups, scale, rounding, rng, qmax, buf, clipped);
    for (std::size_t k = 0; k < groups; ++k) {
      // int32 -> int16 (in order) -> int8; the values are already within range.
      const __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(buf[k], buf[k]), 0x08);
      const __m128i w16 = _mm256_castsi256_si128(p16);
      if constexpr (sizeof(T) == 2) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 8 * k), w16);
      } else {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i + 8 * k), _mm_packs_epi16(w16, w16));
      }
    }
    i += 8 * groups;
  }
  return clipped + spec::quantize_range(x, i, n, scale, rounding, rng, q, qmax);
}

}  // namespace

LPCORE_AVX2 std::size_t quantize_i8(const float* x, std::size_t n, float scale, Rounding rounding,
                                    Xorshift128p4& rng, std::int8_t* q) {
  return quantize_avx2(x, n, scale, rounding, rng, q, float{Width<std::int8_t>::qmax});
}

LPCORE_AVX2 std::size_t quantize_i16(const float* x, std::size_t n, float scale, Rounding rounding,
                                     Xorshift128p4& rng, std::int16_t* q) {
  return quantize_avx2(x, n, scale, rounding, rng, q, float{Width<std::int16_t>::qmax});
}

namespace {

// x = scale * q, eight elements at a time (widen8: q's eight integers as floats).
template <class T>
LPCORE_AVX2 void dequantize(const T* q, std::size_t n, float scale, float* x) {
  const __m256 vs = _mm256_set1_ps(scale);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(widen8(q + i), vs));
  for (; i < n; ++i) x[i] = static_cast<float>(q[i]) * scale;
}

}  // namespace

LPCORE_AVX2 void dequantize_i8(const std::int8_t* q, std::size_t n, float scale, float* x) {
  dequantize(q, n, scale, x);
}

LPCORE_AVX2 void dequantize_i16(const std::int16_t* q, std::size_t n, float scale, float* x) {
  dequantize(q, n, scale, x);
}

namespace {

// The data path's lane sums (kernels/spec.hpp): lanes 0-3 in lo, 4-7 in hi.
LPCORE_AVX2 inline void store_lanes(__m256d lo, __m256d hi, double lane[8]) {
  _mm256_storeu_pd(lane, lo);
  _mm256_storeu_pd(lane + 4, hi);
}

}  // namespace

namespace {

// The end of a row's statistics: the largest of the lanes' max |x| bit
// patterns and of the tail's (elements i..n-1), and the lane sums of squares
// with the tail's terms, combined in the specification's order.
LPCORE_AVX2 inline float finish_stats(__m256i m, __m256d lo, __m256d hi, const float* x, std::size_t i,
                                      std::size_t n, double* sumsq) {
  alignas(32) std::uint32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), m);
  std::uint32_t top = 0;
  for (const std::uint32_t v : lanes) top = std::max(top, v);
  for (std::size_t k = i; k < n; ++k) top = std::max(top, spec::abs_bits(x[k]));
  double lane[8];
  store_lanes(lo, hi, lane);
  spec::sumsq_lanes(x, i, n, lane);
  *sumsq = spec::combine_lanes(lane);
  return spec::float_from_bits(top);
}

}  // namespace

// In both: a float's square is exact in double, so the fma rounds as the
// lane's sum alone does.
LPCORE_AVX2 float row_stats_f32(const float* x, std::size_t n, double* sumsq) {
  const __m256i mask = _mm256_set1_epi32(0x7fffffff);
  __m256i m = _mm256_setzero_si256();
  __m256d lo = _mm256_setzero_pd(), hi = lo;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    m = _mm256_max_epu32(m, _mm256_and_si256(_mm256_castps_si256(v), mask));
    const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    lo = _mm256_fmadd_pd(a, a, lo);
    hi = _mm256_fmadd_pd(b, b, hi);
  }
  return finish_stats(m, lo, hi, x, i, n, sumsq);
}

LPCORE_AVX2 float convert_stats_f64(const double* x, std::size_t n, float* out, double* sumsq) {
  const __m256i mask = _mm256_set1_epi32(0x7fffffff);
  __m256i m = _mm256_setzero_si256();
  __m256d lo = _mm256_setzero_pd(), hi = lo;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128 a = _mm256_cvtpd_ps(_mm256_loadu_pd(x + i)), b = _mm256_cvtpd_ps(_mm256_loadu_pd(x + i + 4));
    const __m256 v = _mm256_set_m128(b, a);
    _mm256_storeu_ps(out + i, v);
    m = _mm256_max_epu32(m, _mm256_and_si256(_mm256_castps_si256(v), mask));
    const __m256d ad = _mm256_cvtps_pd(a), bd = _mm256_cvtps_pd(b);
    lo = _mm256_fmadd_pd(ad, ad, lo);
    hi = _mm256_fmadd_pd(bd, bd, hi);
  }
  for (std::size_t k = i; k < n; ++k) out[k] = static_cast<float>(x[k]);
  return finish_stats(m, lo, hi, out, i, n, sumsq);
}

namespace {

// quantize (nearest) and sqerr of eight elements at a time, in one pass.
//
// The common group: every |y| = |x / scale| is below qmax + 1/2, so rounding
// to nearest gives q = nearbyint(y) within the grid, nothing to clip, and no
// NaN. Then e = x - q * scale is exactly a float: with 2^E <= scale < 2^(E+1),
// either q = 0 and e = x, or |x| > scale / 2, so x and q * scale are
// multiples of 2^(E-24) (of 2^(E-23) once |q| >= 2, or |x| >= 2^E) while
// |e| <= (1/2 + 2^-9) scale, which leaves at most 24 significant bits
// (subnormal scales: multiples of 2^-149 below 2^-126). So one float fma
// gives e exactly, e^2 is exact in double, and the lanes get the
// specification's terms bit for bit. Any other group (a value at or beyond
// the grid's end, NaN, inf) takes the specification's steps as they are.
struct QuantizeSqerr {
  __m256 vscale, vq, vlimit, vabs;
  __m256d s, lo, hi;

  LPCORE_AVX2 QuantizeSqerr(float scale, float qmax)
      : vscale(_mm256_set1_ps(scale)),
        vq(_mm256_set1_ps(qmax)),
        vlimit(_mm256_set1_ps(qmax + 0.5f)),
        vabs(_mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))),
        s(_mm256_set1_pd(static_cast<double>(scale))),
        lo(_mm256_setzero_pd()),
        hi(lo) {}

  // The int32 grid values of x[0..8), accumulating their errors (lanes 0-3
  // into lo, 4-7 into hi, as the specification's lanes) and the clipped count.
  LPCORE_AVX2 LPCORE_INLINE __m256i group(const float* x, std::size_t& clipped) {
    const __m256 v = _mm256_loadu_ps(x);
    const __m256 y = _mm256_div_ps(v, vscale);
    __m256 q;
    if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(y, vabs), vlimit, _CMP_NLT_UQ)) == 0) [[likely]] {
      q = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      // e exact (see above), e^2 exact in double: the fma rounds as the sum alone does.
      const __m256 e = _mm256_fnmadd_ps(q, vscale, v);
      const __m256d ea = _mm256_cvtps_pd(_mm256_castps256_ps128(e)), eb = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
      lo = _mm256_fmadd_pd(ea, ea, lo);
      hi = _mm256_fmadd_pd(eb, eb, hi);
    } else {
      __m256d ea, eb;
      q = edge_group(v, y, vq, s, ea, eb, clipped);
      lo = _mm256_add_pd(lo, _mm256_mul_pd(ea, ea));
      hi = _mm256_add_pd(hi, _mm256_mul_pd(eb, eb));
    }
    return _mm256_cvtps_epi32(q);
  }

  // The specification's steps: NaN -> 0, clamp to +-(qmax + 1), round, count
  // and clip to +-qmax; the error in double. Out of line and static, so that
  // the rare call takes no accumulator out of its register.
  LPCORE_AVX2 __attribute__((noinline)) static __m256 edge_group(__m256 v, __m256 y, __m256 vq, __m256d s,
                                                                 __m256d& ea, __m256d& eb, std::size_t& clipped) {
    const __m256 vnq = _mm256_sub_ps(_mm256_setzero_ps(), vq), one = _mm256_set1_ps(1.0f);
    y = _mm256_and_ps(y, _mm256_cmp_ps(y, y, _CMP_ORD_Q));
    y = _mm256_min_ps(_mm256_max_ps(y, _mm256_sub_ps(vnq, one)), _mm256_add_ps(vq, one));
    const __m256 r = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 q = _mm256_max_ps(_mm256_min_ps(r, vq), vnq);
    clipped += static_cast<std::size_t>(__builtin_popcount(_mm256_movemask_ps(_mm256_cmp_ps(q, r, _CMP_NEQ_OQ))));
    const __m256d qa = _mm256_cvtps_pd(_mm256_castps256_ps128(q)), qb = _mm256_cvtps_pd(_mm256_extractf128_ps(q, 1));
    ea = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_mul_pd(qa, s));
    eb = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), _mm256_mul_pd(qb, s));
    return q;
  }
};

// Eight int32 grid values (within int16 range) stored as int8 / int16.
template <class Q>
LPCORE_AVX2 LPCORE_INLINE void store_group(Q* q, __m256i v) {
  const __m128i w16 = _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packs_epi32(v, v), 0x08));
  if constexpr (sizeof(Q) == 2)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), w16);
  else
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q), _mm_packs_epi16(w16, w16));
}

// sum q^2 of the grid values, exactly in int64 lanes: vpmaddwd squares int16
// pairs (each pair sum below 2^31), and the pair sums are widened as unsigned.
struct SumSquares {
  __m256i even, odd;

  LPCORE_AVX2 SumSquares() : even(_mm256_setzero_si256()), odd(even) {}

  LPCORE_AVX2 LPCORE_INLINE void add(__m256i q16) {
    const __m256i m = _mm256_madd_epi16(q16, q16);
    even = _mm256_add_epi64(even, _mm256_and_si256(m, _mm256_set1_epi64x(0xffffffff)));
    odd = _mm256_add_epi64(odd, _mm256_srli_epi64(m, 32));
  }
  // Eight unsigned 32-bit partial sums, widened.
  LPCORE_AVX2 LPCORE_INLINE void add_u32(__m256i sums) {
    even = _mm256_add_epi64(even, _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(sums)),
                                                   _mm256_cvtepu32_epi64(_mm256_extracti128_si256(sums, 1))));
  }
  LPCORE_AVX2 std::int64_t total() const {
    alignas(32) std::int64_t v[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(v), _mm256_add_epi64(even, odd));
    return (v[0] + v[1]) + (v[2] + v[3]);
  }
};

template <class Q>
LPCORE_AVX2 std::size_t quantize_sqerr_avx2(const float* x, std::size_t n, float scale, Q* q, double* sq_err,
                                            double* sum_q2) {
  constexpr float kQmax = static_cast<float>(Width<Q>::qmax);
  QuantizeSqerr k(scale, kQmax);
  SumSquares q2;
  std::size_t clipped = 0;
  std::size_t i = 0;
  if constexpr (sizeof(Q) == 1) {
    // 32 at a time: packs interleave the 128-bit halves; one dword permute
    // restores the order. The int16 pairs' squares (at most 4 * 127^2 a lane
    // per block) wait in int32 lanes for up to kFlush blocks.
    constexpr std::size_t kFlush = 1 << 14;
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    std::size_t blocks = 0;
    __m256i sq32 = _mm256_setzero_si256();
    for (; i + 32 <= n; i += 32) {
      // One declaration: its initializers run in order, as the lanes' sums must.
      const __m256i a = k.group(x + i, clipped), b = k.group(x + i + 8, clipped), c = k.group(x + i + 16, clipped),
                    d = k.group(x + i + 24, clipped);
      const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
      store(q + i, _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), order));
      sq32 = _mm256_add_epi32(sq32, _mm256_add_epi32(_mm256_madd_epi16(ab, ab), _mm256_madd_epi16(cd, cd)));
      if (++blocks == kFlush) {
        q2.add_u32(sq32);
        sq32 = _mm256_setzero_si256();
        blocks = 0;
      }
    }
    q2.add_u32(sq32);
  } else {
    for (; i + 16 <= n; i += 16) {
      const __m256i a = k.group(x + i, clipped), b = k.group(x + i + 8, clipped);  // in order: the lanes' sums
      const __m256i ab = _mm256_packs_epi32(a, b);
      store(q + i, _mm256_permute4x64_epi64(ab, 0xD8));
      q2.add(ab);
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256i g = k.group(x + i, clipped);
    store_group(q + i, g);
    q2.add(_mm256_packs_epi32(g, _mm256_setzero_si256()));
  }
  for (std::size_t j = i; j < n; ++j) {  // quantize_range's elements, nearest rounding drawing nothing
    const spec::Rounded r = spec::quantize_one(x[j], scale, kQmax, Rounding::nearest, 0);
    q[j] = static_cast<Q>(r.value);
    clipped += r.saturated;
  }
  double lane[8], tail_q2 = 0;
  store_lanes(k.lo, k.hi, lane);
  spec::sqerr_lanes(x, q, scale, i, n, lane, tail_q2);
  // Integers below 2^53: exact in any order.
  *sum_q2 = static_cast<double>(q2.total()) + tail_q2;
  *sq_err = spec::combine_lanes(lane);
  return clipped;
}

}  // namespace

LPCORE_AVX2 std::size_t quantize_sqerr_i8(const float* x, std::size_t n, float scale, std::int8_t* q,
                                          double* sq_err, double* sum_q2) {
  return quantize_sqerr_avx2(x, n, scale, q, sq_err, sum_q2);
}

LPCORE_AVX2 std::size_t quantize_sqerr_i16(const float* x, std::size_t n, float scale, std::int16_t* q,
                                           double* sq_err, double* sum_q2) {
  return quantize_sqerr_avx2(x, n, scale, q, sq_err, sum_q2);
}

}  // namespace lpcore::avx2
