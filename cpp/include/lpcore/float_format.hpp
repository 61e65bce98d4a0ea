// Low-precision float formats simulated on float32: FP16, BF16, FP8 (OCP E4M3FN
// and E5M2) and FP4 (OCP E2M1).
//
// quantize_float (kernels.hpp) rounds float32 values onto a format's grid and
// returns them as float32, so a "quantized" array is an ordinary float32 array
// whose every value is representable in the format. Rounding works on the
// float32 bit pattern with integer operations only (no float rounding mode,
// no FTZ/DAZ flag can change a result), which is what lets the scalar and AVX2
// backends agree bit for bit.
//
// Grid of a format with E exponent bits, M mantissa bits and bias B:
//   normal     (1 + f / 2^M) * 2^e,  e in [emin, emax],  emin = 1 - B
//   subnormal  (f / 2^M) * 2^emin    (exact: the grid step below 2^emin is 2^(emin - M))
// emax and the largest finite value depend on what the top exponent encodes:
//   IEEE-like (fp16, bf16, fp8_e5m2): the top exponent is inf/NaN;
//   fp8_e4m3 (E4M3FN): only S.1111.111 is NaN, so max = 1.75 * 2^8 = 448, no inf;
//   fp4_e2m1: every code is a number, max = 1.5 * 2^2 = 6, no inf, no NaN.
#pragma once

#include <cstdint>

namespace lpcore {

enum class FloatFormat : int { fp16 = 0, bf16 = 1, fp8_e4m3 = 2, fp8_e5m2 = 3, fp4_e2m1 = 4 };
constexpr int kFloatFormatCount = 5;

// nearest: ties to even. toward_zero: truncation. stochastic: rounds up with
// probability equal to the dropped fraction of a grid step (unbiased).
enum class FloatRounding : int { nearest = 0, toward_zero = 1, stochastic = 2 };

// What a value beyond the largest finite one becomes:
//   saturate  the largest finite value of its sign (inf inputs too);
//   ieee      +-inf where the format has infinities, NaN for E4M3FN (OCP: no
//             inf, overflow is NaN). As in IEEE 754, toward_zero never
//             overflows to inf: it gives the largest finite value. FP4 has no
//             inf or NaN, so for it ieee behaves as saturate (the Python layer
//             refuses that combination).
// A NaN input is always a NaN output.
enum class Overflow : int { saturate = 0, ieee = 1 };

struct FloatFormatSpec {
  const char* name;
  int exponent_bits;
  int mantissa_bits;
  int bias;
  std::uint32_t max_bits;  // float32 bit pattern of the largest finite value
  bool has_inf;
  bool has_nan;

  constexpr int emin() const { return 1 - bias; }
};

// The table, indexed by FloatFormat.
constexpr FloatFormatSpec kFloatFormats[kFloatFormatCount] = {
    {"fp16", 5, 10, 15, 0x477FE000u, true, true},       // 65504
    {"bf16", 8, 7, 127, 0x7F7F0000u, true, true},       // 3.3895e38
    {"fp8_e4m3", 4, 3, 7, 0x43E00000u, false, true},    // 448
    {"fp8_e5m2", 5, 2, 15, 0x47600000u, true, true},    // 57344
    {"fp4_e2m1", 2, 1, 1, 0x40C00000u, false, false},   // 6
};

constexpr const FloatFormatSpec& float_format_spec(FloatFormat f) { return kFloatFormats[static_cast<int>(f)]; }

}  // namespace lpcore
