// The per-element specification of quantize_float (see float_format.hpp),
// shared by the scalar backend and the AVX2 backend's tail.
//
// Everything is integer arithmetic on the float32 bit pattern. A finite
// magnitude |x| (bits a) is rounded in one of two regions of the target format:
//
//   normal region (|x| >= 2^emin): the grid step is 2^(e - M) at exponent e,
//     i.e. a fixed number 23 - M of low float32 mantissa bits. Rounding the bit
//     pattern itself to a multiple of 2^(23 - M) is exact; a carry out of the
//     mantissa moves into the exponent, which is the next binade's grid point.
//   subnormal region (|x| < 2^emin): the grid step is fixed, 2^(emin - M). The
//     significand m (implicit bit included) is rounded to a multiple of
//     2^s, s = (emin - M) - (exponent of m's last bit), giving k grid steps;
//     the result k * 2^(emin - M) is built exactly from the integer k.
//
// Rounding v / 2^s to an integer k (round_shift):
//   nearest      k = floor(v / 2^s), +1 if the dropped bits exceed half, or
//                equal it and k is odd (ties to even)
//   toward_zero  k = floor(v / 2^s)
//   stochastic   k = floor(v / 2^s), +1 if R < D * 2^(32 - s), with D the
//                dropped bits and R a uniform 32-bit word: P(up) = D / 2^s
//                exactly for s <= 32, so E[result] = |x|. (For s > 32, only
//                reachable for values below 2^-32 of a grid step of the
//                subnormal region, the threshold is truncated to D >> (s - 32):
//                a downward bias under 2^-32 of a grid step.)
// Shifts follow AVX2's vpsllvd / vpsrlvd: a count of 32 or more gives 0.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/spec.hpp"
#include "lpcore/float_format.hpp"
#include "lpcore/rng.hpp"

namespace lpcore::spec {

constexpr std::uint32_t kSignBit = 0x80000000u;
constexpr std::uint32_t kInfBits = 0x7F800000u;
constexpr std::uint32_t kNanBits = 0x7FC00000u;

inline std::uint32_t shl(std::uint32_t v, std::uint32_t c) { return c >= 32 ? 0 : v << c; }
inline std::uint32_t shr(std::uint32_t v, std::uint32_t c) { return c >= 32 ? 0 : v >> c; }

// v / 2^s rounded to an integer as described above (s >= 1).
inline std::uint32_t round_shift(std::uint32_t v, std::uint32_t s, FloatRounding mode, std::uint32_t r) {
  // A value below a quarter step rounds to 0 by nearest and toward_zero, so
  // their shift can be capped at 31 (v < 2^31 always), where 1 << (s - 1) exists.
  if (mode != FloatRounding::stochastic) s = std::min<std::uint32_t>(s, 31);
  const std::uint32_t k = shr(v, s);
  const std::uint32_t dropped = v - shl(k, s);
  std::uint32_t up = 0;
  if (mode == FloatRounding::nearest) {
    const std::uint32_t half = shl(1, s - 1);
    up = (dropped > half || (dropped == half && (k & 1u))) ? 1 : 0;
  } else if (mode == FloatRounding::stochastic) {
    // 32u - s and s - 32u wrap to huge counts on the wrong side of 32: exactly
    // one term is nonzero, or both equal `dropped` when s == 32.
    const std::uint32_t threshold = shl(dropped, 32u - s) | shr(dropped, s - 32u);
    up = r < threshold ? 1 : 0;
  }
  return k + up;
}

// Bits of k * 2^(emin - M), the k-th point of the subnormal grid (k <= 2^M).
inline std::uint32_t subnormal_grid_bits(std::uint32_t k, const FloatFormatSpec& f) {
  const int step_exp = f.emin() - f.mantissa_bits;
  // When 2^emin <= 2^-126 (bf16) the results are float32 subnormals, whose
  // bit pattern is linear in the value: bits = value / 2^-149.
  if (f.emin() <= -126) return k << (step_exp + 149);
  if (k == 0) return 0;
  // k < 2^24 converts to float exactly; adding to the exponent field then
  // multiplies by 2^step_exp exactly (the result stays a float32 normal).
  const float fk = static_cast<float>(k);
  std::uint32_t bits;
  std::memcpy(&bits, &fk, 4);
  return bits + (static_cast<std::uint32_t>(step_exp) << 23);
}

// What an overflowing value (or an infinite input) becomes; see Overflow.
inline std::uint32_t overflow_bits(const FloatFormatSpec& f, FloatRounding mode, Overflow ovf, bool inf_input) {
  if (ovf == Overflow::saturate) return f.max_bits;
  if (mode == FloatRounding::toward_zero && !inf_input) return f.max_bits;  // IEEE 754 roundTowardZero
  if (f.has_inf) return kInfBits;
  if (f.has_nan) return kNanBits;
  return f.max_bits;
}

struct FloatQuantized {
  std::uint32_t bits;
  bool overflowed;  // beyond the largest finite value (or an infinite input)
};

inline FloatQuantized quantize_float_one(std::uint32_t u, const FloatFormatSpec& f, FloatRounding mode,
                                         Overflow ovf, std::uint32_t r) {
  const std::uint32_t sign = u & kSignBit, a = u & ~kSignBit;
  if (a > kInfBits) return {sign | kNanBits, false};
  if (a == kInfBits) return {sign | overflow_bits(f, mode, ovf, true), true};
  const auto M = static_cast<std::uint32_t>(f.mantissa_bits);
  const std::uint32_t normal_exp = static_cast<std::uint32_t>(f.emin() + 127);  // >= 1
  const std::uint32_t ef = a >> 23;
  std::uint32_t res;
  if (ef >= normal_exp) {
    const std::uint32_t s = 23 - M;
    res = round_shift(a, s, mode, r) << s;
  } else {
    const std::uint32_t e_eff = std::max<std::uint32_t>(ef, 1);
    const std::uint32_t m = (a & 0x7FFFFFu) | (ef != 0 ? 0x800000u : 0u);
    const std::uint32_t s = 23 - M + (normal_exp - e_eff);
    res = subnormal_grid_bits(round_shift(m, s, mode, r), f);
  }
  if (res > f.max_bits) return {sign | overflow_bits(f, mode, ovf, false), true};
  return {sign | res, false};
}

// Quantize elements [begin, n) in groups of 8; stochastic rounding draws one
// 32-byte block per group (a partial final group too), as quantize_range does.
// Returns the number of overflowed values.
inline std::size_t quantize_float_range(const float* x, std::size_t begin, std::size_t n, FloatFormat fmt,
                                        FloatRounding mode, Overflow ovf, Xorshift128p4& rng, float* out) {
  const FloatFormatSpec& f = float_format_spec(fmt);
  std::size_t overflowed = 0;
  for (std::size_t g = begin; g < n; g += 8) {
    std::uint32_t words[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (mode == FloatRounding::stochastic) next_words(rng, words);
    const std::size_t end = std::min(n, g + 8);
    for (std::size_t i = g; i < end; ++i) {
      std::uint32_t u;
      std::memcpy(&u, x + i, 4);
      const FloatQuantized q = quantize_float_one(u, f, mode, ovf, words[i - g]);
      std::memcpy(out + i, &q.bits, 4);
      overflowed += q.overflowed;
    }
  }
  return overflowed;
}

}  // namespace lpcore::spec
