// quantize_float in AVX2: the specification of float_format_spec.hpp on eight
// float32 bit patterns at a time, then the scalar specification for the tail.
//
// Both regions (normal and subnormal, see the spec) are computed for every
// lane and blended. vpsllvd / vpsrlvd return 0 for counts of 32 or more, which
// is the shift semantics the spec is written in, so the stochastic threshold
// shl(D, 32 - s) | shr(D, s - 32) needs no branch.
#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/rng.hpp"
#include "kernels/float_format_spec.hpp"
#include "lpcore/kernels.hpp"

namespace lpcore::avx2 {
namespace {

LPCORE_AVX2 inline __m256i splat(std::uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }

// a < b for unsigned 32-bit lanes (AVX2 only compares signed).
LPCORE_AVX2 inline __m256i less_u32(__m256i a, __m256i b) {
  const __m256i flip = splat(spec::kSignBit);
  return _mm256_cmpgt_epi32(_mm256_xor_si256(b, flip), _mm256_xor_si256(a, flip));
}

// spec::round_shift on eight lanes; r holds the random words (stochastic only).
LPCORE_AVX2 inline __m256i round_shift(__m256i v, __m256i s, FloatRounding mode, __m256i r) {
  const __m256i one = splat(1);
  if (mode != FloatRounding::stochastic) s = _mm256_min_epu32(s, splat(31));
  const __m256i k = _mm256_srlv_epi32(v, s);
  const __m256i dropped = _mm256_sub_epi32(v, _mm256_sllv_epi32(k, s));
  __m256i up;  // all ones where k rounds up
  if (mode == FloatRounding::nearest) {
    // dropped and half are below 2^31 here, so signed compares are exact.
    const __m256i half = _mm256_sllv_epi32(one, _mm256_sub_epi32(s, one));
    const __m256i odd = _mm256_cmpeq_epi32(_mm256_and_si256(k, one), one);
    up = _mm256_or_si256(_mm256_cmpgt_epi32(dropped, half),
                         _mm256_and_si256(_mm256_cmpeq_epi32(dropped, half), odd));
  } else if (mode == FloatRounding::stochastic) {
    const __m256i c32 = splat(32);
    const __m256i threshold = _mm256_or_si256(_mm256_sllv_epi32(dropped, _mm256_sub_epi32(c32, s)),
                                              _mm256_srlv_epi32(dropped, _mm256_sub_epi32(s, c32)));
    up = less_u32(r, threshold);
  } else {
    up = _mm256_setzero_si256();
  }
  return _mm256_sub_epi32(k, up);
}

// spec::subnormal_grid_bits on eight lanes.
LPCORE_AVX2 inline __m256i subnormal_grid_bits(__m256i k, const FloatFormatSpec& f) {
  const int step_exp = f.emin() - f.mantissa_bits;
  if (f.emin() <= -126) return _mm256_sllv_epi32(k, splat(static_cast<std::uint32_t>(step_exp + 149)));
  const __m256i bits = _mm256_add_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(k)),
                                        splat(static_cast<std::uint32_t>(step_exp) << 23));
  return _mm256_andnot_si256(_mm256_cmpeq_epi32(k, _mm256_setzero_si256()), bits);
}

// Eight values: writes their bits to out, returns the overflow mask.
LPCORE_AVX2 inline __m256i quantize8(__m256i u, const FloatFormatSpec& f, FloatRounding mode, Overflow ovf,
                                     __m256i r, __m256i& out) {
  const auto M = static_cast<std::uint32_t>(f.mantissa_bits);
  const auto normal_exp = static_cast<std::uint32_t>(f.emin() + 127);
  const __m256i sign = _mm256_and_si256(u, splat(spec::kSignBit));
  const __m256i a = _mm256_andnot_si256(splat(spec::kSignBit), u);
  const __m256i inf = splat(spec::kInfBits);
  const __m256i is_nan = _mm256_cmpgt_epi32(a, inf);  // a < 2^31: the signed compare is exact
  const __m256i is_inf = _mm256_cmpeq_epi32(a, inf);
  const __m256i ef = _mm256_srli_epi32(a, 23);
  const __m256i normal = _mm256_cmpgt_epi32(ef, splat(normal_exp - 1));

  const __m256i s_normal = splat(23 - M);
  const __m256i res_normal = _mm256_sllv_epi32(round_shift(a, s_normal, mode, r), s_normal);

  const __m256i e_eff = _mm256_max_epu32(ef, splat(1));
  const __m256i implicit = _mm256_andnot_si256(_mm256_cmpeq_epi32(ef, _mm256_setzero_si256()), splat(0x800000));
  const __m256i m = _mm256_or_si256(_mm256_and_si256(a, splat(0x7FFFFF)), implicit);
  const __m256i s_sub = _mm256_sub_epi32(splat(23 - M + normal_exp), e_eff);
  const __m256i res_sub = subnormal_grid_bits(round_shift(m, s_sub, mode, r), f);

  __m256i res = _mm256_blendv_epi8(res_sub, res_normal, normal);
  const __m256i over = _mm256_cmpgt_epi32(res, splat(f.max_bits));
  res = _mm256_blendv_epi8(res, splat(spec::overflow_bits(f, mode, ovf, false)), over);
  res = _mm256_blendv_epi8(res, splat(spec::overflow_bits(f, mode, ovf, true)), is_inf);
  res = _mm256_blendv_epi8(res, splat(spec::kNanBits), is_nan);
  out = _mm256_or_si256(res, sign);
  return _mm256_andnot_si256(is_nan, _mm256_or_si256(over, is_inf));
}

}  // namespace

LPCORE_AVX2 std::size_t quantize_float(const float* x, std::size_t n, FloatFormat format, FloatRounding rounding,
                                       Overflow overflow, Xorshift128p4& rng, float* out) {
  const FloatFormatSpec& f = float_format_spec(format);
  std::size_t overflowed = 0;
  std::size_t i = 0;
  {
    VecRng g(rng);
    const __m256i zero = _mm256_setzero_si256();
    for (; i + 8 <= n; i += 8) {
      const __m256i r = rounding == FloatRounding::stochastic ? g.next() : zero;
      __m256i q;
      const __m256i over =
          quantize8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), f, rounding, overflow, r, q);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), q);
      overflowed += static_cast<std::size_t>(__builtin_popcount(_mm256_movemask_ps(_mm256_castsi256_ps(over))));
    }
    g.save(rng);
  }
  return overflowed + spec::quantize_float_range(x, i, n, format, rounding, overflow, rng, out);
}

}  // namespace lpcore::avx2
