// Per-element specifications shared by both backends.
//
// The scalar backend is built from these functions; the AVX2 backend uses
// them for its scalar tails and its rare slow paths. Keeping one copy is what
// makes the two backends agree bit for bit by construction, not by luck.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "lpcore/dither.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/rng.hpp"

namespace lpcore::spec {

inline std::int32_t sat16(std::int32_t v) { return std::clamp<std::int32_t>(v, -32768, 32767); }
inline std::int32_t wrap32(std::int64_t v) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
}

// One term of dot_i8 as vpsignb / vpmaddubsw compute it: |a| * sign(a) * b,
// where negating b = -128 wraps back to -128. Equals a * b whenever b != -128.
inline std::int32_t dot_term_i8(std::int8_t a, std::int8_t b) {
  const std::int32_t abs_a = a < 0 ? -static_cast<std::int32_t>(a) : a;
  std::int32_t sb = b;
  if (a < 0) sb = (b == -128) ? -128 : -static_cast<std::int32_t>(b);
  if (a == 0) sb = 0;
  return abs_a * sb;
}

// One adjacent pair of dot_i16 as vpmaddwd computes it (wrapping to int32).
inline std::int64_t dot_pair_i16(std::int16_t a0, std::int16_t b0, std::int16_t a1, std::int16_t b1) {
  return wrap32(std::int64_t{a0} * b0 + std::int64_t{a1} * b1);
}

// sum_i x_i z_i of an int8 row and an int16 model, exact: every product is
// at most 2^22 in magnitude.
inline std::int64_t dot_i8_i16(const std::int8_t* x, const std::int16_t* z, std::size_t n) {
  std::int64_t s = 0;
  for (std::size_t i = 0; i < n; ++i) s += std::int32_t{x[i]} * z[i];
  return s;
}

// The fp32 dot specification: 4 accumulators x 8 lanes of FMA partial sums,
// combined in a fixed tree, then a scalar FMA tail, for any element type of
// `a` that converts exactly to float (float, int8, int16).
template <class T>
float dot_f32(const T* a, const float* b, std::size_t n) {
  float acc[4][8] = {};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int v = 0; v < 4; ++v)
      for (int l = 0; l < 8; ++l)
        acc[v][l] = std::fma(static_cast<float>(a[i + 8 * v + l]), b[i + 8 * v + l], acc[v][l]);
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[0][l] = std::fma(static_cast<float>(a[i + l]), b[i + l], acc[0][l]);
  float s[8], h4[4];
  for (int l = 0; l < 8; ++l) s[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
  for (int k = 0; k < 4; ++k) h4[k] = s[k] + s[k + 4];
  float h = (h4[0] + h4[2]) + (h4[1] + h4[3]);
  for (; i < n; ++i) h = std::fma(static_cast<float>(a[i]), b[i], h);
  return h;
}

// One element of an axpy at any width: fma(a, float(x), y), rounded once
// (the conversion of an integer x is exact). (tests/reference.py reproduces
// it for integer x with float64 arithmetic: a x is exact there, and an
// error-free sum breaks the ties.)
template <class T>
inline float axpy_term(float a, T x, float y) {
  return std::fma(a, static_cast<float>(x), y);
}

struct Rounded {
  std::int32_t value;
  bool saturated;
};

// ---- int8 fused update -------------------------------------------------------
// Fast path (|A| <= 128): the int16 pipeline of the AVX2 kernel, saturating
// where vpaddsw / vpsubsw saturate.
//   B = 256 z + r, P = |A| x, S = sat(c +- P), L = sat(B + S), v = L >> 8.
// A coordinate counts as saturated when L sits on a rail: L == 32767 or
// v == -128, i.e. the dithered value left [-127, 128 - 1/256).
inline Rounded update_fast_i8(std::int8_t z, std::int8_t x, std::int32_t abs_A, bool negative,
                              std::int16_t c, std::uint8_t r) {
  const std::int32_t B = z * 256 + r;
  const std::int32_t P = abs_A * x;
  const std::int32_t S = sat16(negative ? c - P : c + P);
  const std::int32_t L = sat16(B + S);
  const std::int32_t v = L >> 8;
  return {std::max(v, -127), L == 32767 || v == -128};
}

// Exact path for any multiplier, in int64: v = floor((256 z + r + c + A x) / 256).
// Inside the fast path's domain (|A| <= 128, |c| <= 16383) the two agree.
inline Rounded update_exact_i8(std::int8_t z, std::int8_t x, std::int64_t A, std::int16_t c,
                               std::uint8_t r) {
  const std::int64_t L = std::int64_t{z} * 256 + r + c + A * x;
  const std::int64_t v = L >> 8;
  return {static_cast<std::int32_t>(std::clamp<std::int64_t>(v, -127, 127)), L >= 32767 || L < -32512};
}

// ---- int16 fused update ------------------------------------------------------
// One formula for every multiplier, in int64: with c the packed (biased)
// offset and s the signed dither word,
//   v = floor((2^16 z + c + A x + s) / 2^16) = z + ((c + A x + s) >> 16),
// clamped to [-32767, 32767]; saturated when v is outside. (c + s is the Q16
// offset plus a uniform dither on [0, 2^16).) The AVX2 fast path computes
// c + A x + s in int32 lanes, exact when |A| <= 32767 and |c| <= 2^29 + 2^15:
// the sum stays below 2^31.
inline Rounded update_i16(std::int16_t z, std::int16_t x, std::int64_t A, std::int32_t c, std::int16_t s) {
  const std::int64_t v = z + ((std::int64_t{c} + A * x + s) >> 16);
  return {static_cast<std::int32_t>(std::clamp<std::int64_t>(v, -32767, 32767)), v < -32767 || v > 32767};
}

inline std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

// The same word read as a signed value (two's complement), as vpmaddwd reads it.
inline std::int16_t load_s16(const std::uint8_t* p) {
  const std::int32_t w = load_u16(p);
  return static_cast<std::int16_t>(w - ((w & 0x8000) << 1));
}

// ---- offset re-rounding (int8 solvers) --------------------------------------
// c (grid units) -> Q8 with a 16-bit dither r, exactly: y = c * 2^24 (a power
// of two: no rounding) clamped to +-kOffsetFixedMax = +-16383 * 2^16 with NaN
// -> the lower end (the order vmaxps / vminps give), then
// q = (floor(y) + r) >> 16. For uniform r, E[q] = floor(y) / 2^16 = 256 c to
// within 2^-16, and |q| <= 16383, the fused update's offset domain.
constexpr float kOffsetFixedMax = 16383.0f * 65536.0f;
inline std::int16_t round_offset_q8(float c, std::uint16_t r) {
  float y = c * 0x1p24f;
  y = y > -kOffsetFixedMax ? y : -kOffsetFixedMax;
  y = y < kOffsetFixedMax ? y : kOffsetFixedMax;
  const auto t = static_cast<std::int32_t>(std::floor(y));
  return static_cast<std::int16_t>((t + static_cast<std::int32_t>(r)) >> 16);
}

// ---- data rows (the data path, lpcore/data.hpp) ----------------------------------
// max |x_i| compared by bit pattern: the sign bit cleared, the rest compared as
// an unsigned integer. For finite values that is the float maximum; an inf
// gives 0x7f800000 and a NaN more, so the result is non-finite exactly when
// some x_i is. The maximum of integers has no order to specify.
inline std::uint32_t abs_bits(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b & 0x7fffffffu;
}

inline float float_from_bits(std::uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// Sums of squares in double over 8 lanes: lane l adds the terms of the
// elements i with i % 8 == l, in increasing i, and the lanes combine as
// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). The AVX2 twins hold
// lanes 0-3 and 4-7 in two registers.
inline double combine_lanes(const double lane[8]) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// Lane sums of x_i^2 from element `begin` on; x_i^2 of a float is exact in
// double, so only the additions round.
inline void sumsq_lanes(const float* x, std::size_t begin, std::size_t n, double lane[8]) {
  for (std::size_t i = begin; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    lane[i % 8] += v * v;
  }
}

// Lane sums of (x_i - q_i * scale)^2 from element `begin` on. q_i * scale is
// exact in double (at most 16 + 24 significant bits); the difference, the
// square and the sum each round once (no fma). q2 gets sum_i q_i^2, exact:
// integers below 2^53.
template <class Q>
void sqerr_lanes(const float* x, const Q* q, float scale, std::size_t begin, std::size_t n, double lane[8],
                 double& q2) {
  const double s = static_cast<double>(scale);
  for (std::size_t i = begin; i < n; ++i) {
    const double qi = static_cast<double>(q[i]);
    const double e = static_cast<double>(x[i]) - qi * s;
    lane[i % 8] += e * e;
    q2 += qi * qi;
  }
}

// ---- quantization ------------------------------------------------------------
// y = x / scale, NaN -> 0, clamped to +-(qmax + 1); then
//   nearest:    q = nearbyint(y)            (ties to even)
//   stochastic: q = floor(y) + [u < y - floor(y)],  u = (r >> 8) * 2^-24
// and finally clamped to +-qmax (a clipped value is reported).
inline Rounded quantize_one(float x, float scale, float qmax, Rounding rounding, std::uint32_t r) {
  const float lo = -(qmax + 1.0f), hi = qmax + 1.0f;
  float y = x / scale;
  if (!(y == y)) y = 0.0f;
  y = y < lo ? lo : y;
  y = y > hi ? hi : y;
  float q;
  if (rounding == Rounding::nearest) {
    q = std::nearbyint(y);
  } else {
    const float fl = std::floor(y);
    const float u = static_cast<float>(r >> 8) * 0x1p-24f;
    q = fl + ((u < y - fl) ? 1.0f : 0.0f);
  }
  const bool clipped = q > qmax || q < -qmax;
  q = q > qmax ? qmax : q;
  q = q < -qmax ? -qmax : q;
  return {static_cast<std::int32_t>(q), clipped};
}

// One 32-byte block of the four-lane stream as eight 32-bit words, in the
// order an AVX2 register holds them (lane k -> words 2k, 2k + 1).
inline void next_words(Xorshift128p4& rng, std::uint32_t words[8]) {
  std::uint64_t block[4];
  rng.next_block(block);
  for (int k = 0; k < 4; ++k) {
    words[2 * k] = static_cast<std::uint32_t>(block[k]);
    words[2 * k + 1] = static_cast<std::uint32_t>(block[k] >> 32);
  }
}

// Quantize elements [begin, n) in groups of 8; stochastic rounding draws one
// 32-byte block per group (a partial final group too).
template <class T>
std::size_t quantize_range(const float* x, std::size_t begin, std::size_t n, float scale,
                           Rounding rounding, Xorshift128p4& rng, T* q, float qmax) {
  std::size_t clipped = 0;
  for (std::size_t g = begin; g < n; g += 8) {
    std::uint32_t words[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (rounding == Rounding::stochastic) next_words(rng, words);
    const std::size_t end = std::min(n, g + 8);
    for (std::size_t i = g; i < end; ++i) {
      const Rounded r = quantize_one(x[i], scale, qmax, rounding, words[i - g]);
      q[i] = static_cast<T>(r.value);
      clipped += r.saturated;
    }
  }
  return clipped;
}

// ---- fused-update drivers ----------------------------------------------------
// Walk the coordinates chunk by chunk, drawing one dither offset per chunk,
// and call `body(begin, count, dither_ptr)` for each chunk.
template <class Body>
void for_each_chunk(std::size_t n, Dither& dither, Body&& body) {
  for (std::size_t c0 = 0; c0 < n; c0 += Dither::kChunk) {
    const std::size_t m = std::min(Dither::kChunk, n - c0);
    body(c0, m, dither.next_offset());
  }
}

// round_offsets_i8 on coordinates [k0, m) of one chunk; r is the chunk's dither.
inline void round_offsets_chunk_i8(const float* c, std::size_t k0, std::size_t m, const std::uint8_t* r,
                                   std::int16_t* q) {
  for (std::size_t k = k0; k < m; ++k) q[k] = round_offset_q8(c[k], load_u16(r + 2 * k));
}

// Scalar processing of coordinates [c0 + k0, c0 + m) of one chunk.
inline std::size_t update_chunk_i8(std::int8_t* z, const std::int8_t* x, std::int64_t A,
                                   const std::int16_t* c, std::size_t n, std::size_t c0,
                                   std::size_t k0, std::size_t m, const std::uint8_t* r) {
  std::size_t sat = 0;
  const bool fast = A >= -UpdateFormat::kMaxMulI8 && A <= UpdateFormat::kMaxMulI8;
  const std::int32_t abs_A = static_cast<std::int32_t>(A < 0 ? -A : A);
  for (std::size_t k = k0; k < m; ++k) {
    const std::size_t i = c0 + k;
    const std::int16_t ci = c[packed_index(i, n, kPackBlockI8)];
    const Rounded o = fast ? update_fast_i8(z[i], x[i], abs_A, A < 0, ci, r[k ^ 1])
                           : update_exact_i8(z[i], x[i], A, ci, r[k ^ 1]);
    z[i] = static_cast<std::int8_t>(o.value);
    sat += o.saturated;
  }
  return sat;
}

// A data element as the int16 update reads it: an int16 row as it is, an
// int8 row (D8M16) widened to 256 x, exactly (|256 x| <= 2^15).
inline std::int16_t widen_i16(std::int16_t x) { return x; }
inline std::int16_t widen_i16(std::int8_t x) {
  return static_cast<std::int16_t>(std::int32_t{x} * (1 << UpdateFormat::kWidenI8I16));
}

// The int16 update's multiplier format for a row of type X.
template <class X>
constexpr int frac_i16() {
  return sizeof(X) == 1 ? UpdateFormat::kFracI8I16 : UpdateFormat::kFracI16;
}

template <class X>
inline std::size_t update_chunk_i16(std::int16_t* z, const X* x, std::int64_t A, const std::int32_t* c,
                                    std::size_t n, std::size_t c0, std::size_t k0, std::size_t m,
                                    const std::uint8_t* r) {
  std::size_t sat = 0;
  for (std::size_t k = k0; k < m; ++k) {
    const std::size_t i = c0 + k;
    const std::int16_t s = load_s16(r + 2 * k);
    const Rounded o = update_i16(z[i], widen_i16(x[i]), A, c[packed_index(i, n, kPackBlockI16)], s);
    z[i] = static_cast<std::int16_t>(o.value);
    sat += o.saturated;
  }
  return sat;
}

}  // namespace lpcore::spec
