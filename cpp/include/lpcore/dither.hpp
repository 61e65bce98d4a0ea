// Dither source for the fused stochastic-rounding updates.
//
// Drawing fresh random bits for every coordinate of every update would cost
// more than the update itself. Instead a Dither holds a table of random bytes
// (filled once from a Xorshift128p4 stream) and every update reads it from a
// fresh random offset, one offset per chunk of kChunk coordinates:
//
//   coordinate k of a chunk uses dither  table[offset + (k ^ 1)]                (int8)
//                                        table16[offset + k] ^ 0x8000           (int16)
//
// (int8: k ^ 1 swaps neighbours; it is what lets the AVX2 kernel read the even
// and odd coordinates' dither with two plain unaligned loads. int16: the
// kernel reads the little-endian 16-bit word as a signed value s and adds the
// 2^15 that makes it uniform on [0, 2^16) through the offsets; s + 2^15 is
// the word with its top bit flipped.) Each dither value is
// uniform and independent of the value being rounded, so every rounding is
// unbiased; within a chunk the values are distinct table entries. Entries are
// reused across updates at random alignments, which correlates the rounding
// noise of different coordinates at different steps only weakly (in the spirit
// of Buckwild's shared randomness).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "lpcore/rng.hpp"

namespace lpcore {

struct Dither {
  static constexpr std::size_t kChunk = 4096;  // coordinates per offset draw
  static constexpr int kOffsetBits = 14;       // offsets are uniform in [0, 2^14)
  static constexpr std::size_t kSpan = std::size_t{1} << kOffsetBits;
  // Room for the largest offset plus a whole chunk of 16-bit values, plus the
  // one-past-the-end neighbour that k ^ 1 and the shifted loads can touch.
  static constexpr std::size_t kTableBytes = 2 * (kSpan + kChunk) + 64;

  std::vector<std::uint8_t> table;
  Xorshift128p draws;  // per-update multiplier rounding and chunk offsets

  explicit Dither(std::uint64_t seed) : table(kTableBytes), draws(seed ^ 0xD1B54A32D192ED03ULL) {
    Xorshift128p4 fill(seed);
    std::uint64_t block[4];
    for (std::size_t i = 0; i < kTableBytes; i += 32) {
      fill.next_block(block);
      std::memcpy(table.data() + i, block, 32);
    }
  }

  std::size_t next_offset() { return static_cast<std::size_t>(draws.next() >> (64 - kOffsetBits)); }

  // Stochastically round a * 2^frac_bits (0 <= frac_bits <= 30) to an integer multiplier: floor(t) + [u < t - floor(t)].
  // Exactly unbiased; |t| is clamped to 2^40, far beyond where every nonzero
  // product saturates, so the conversion is always defined (NaN maps to -2^40;
  // the Python layer rejects non-finite values before they get here).
  // No libm calls: this runs once per update, on the solver's critical path.
  // a * 2^frac_bits is exact in double, and for |t| <= 2^40 the integer
  // conversion gives floor(t) exactly, so the result equals
  // floor(t) + [u < t - floor(t)] with t = ldexp(a, frac_bits).
  std::int64_t draw_multiplier(float a, int frac_bits) { return multiplier(draws.uniform(), a, frac_bits); }

  // What the next draw_multiplier(a, frac_bits) will return, without drawing it.
  std::int64_t peek_multiplier(float a, int frac_bits) const {
    Xorshift128p copy = draws;
    return multiplier(copy.uniform(), a, frac_bits);
  }

  // Consume exactly the draws of one fused update of n coordinates (its
  // multiplier and one offset per chunk) without running it: for an update
  // known to leave its input unchanged, so that the stream stays where the
  // update would have left it.
  void skip_update(std::size_t n) {
    draws.next();
    for (std::size_t c0 = 0; c0 < n; c0 += kChunk) next_offset();
  }

 private:
  static std::int64_t multiplier(double u, float a, int frac_bits) {
    constexpr double kMax = 0x1p40;
    double t = static_cast<double>(a) * static_cast<double>(std::int64_t{1} << frac_bits);
    if (!(t > -kMax)) t = -kMax;
    if (t > kMax) t = kMax;
    std::int64_t fl = static_cast<std::int64_t>(t);            // truncates toward zero
    fl -= static_cast<std::int64_t>(static_cast<double>(fl) > t);  // floor, without a branch
    return fl + static_cast<std::int64_t>(u < t - static_cast<double>(fl));
  }
};

// The fixed-point contract of the fused updates (see kernels.hpp):
//   int8:  offsets c in Q8 (units of 1/256 grid step), multiplier in Q8;
//          fast path when |A| <= 128 (|a| <= 1/2) and |c| <= 16383.
//   int16: offsets c in Q16 (units of 2^-16 grid step), multiplier in Q16;
//          fast path when |A| <= 32767 (|a| < 1/2) and |c| <= 2^29. The
//          packed offsets carry a bias of kOffsetBiasI16 = 2^15 (half a
//          step), which turns the signed dither word into an unbiased one.
//   int8 rows against an int16 model (D8M16): the int16 update on the row
//          widened to 256 x (exact: |256 x| <= 2^15), with its multiplier in
//          Q8 (kFracI8I16), so A * 256 x is a x in Q16 as at 16 bits; fast
//          path when |A| <= 32767 (|a| < 128).
struct UpdateFormat {
  static constexpr int kFracI8 = 8;
  static constexpr std::int64_t kMaxMulI8 = 128;
  static constexpr std::int32_t kMaxOffsetI8 = 16383;
  static constexpr int kFracI16 = 16;
  static constexpr std::int64_t kMaxMulI16 = 32767;
  static constexpr std::int64_t kMaxOffsetI16 = std::int64_t{1} << 29;
  static constexpr std::int32_t kOffsetBiasI16 = 1 << 15;
  static constexpr int kFracI8I16 = 8;
  static constexpr int kWidenI8I16 = 8;  // the row's shift into int16
};

}  // namespace lpcore
