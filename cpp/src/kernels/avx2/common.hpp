// Helpers shared by the AVX2 kernels: unaligned loads and stores, software
// prefetch, horizontal sums, element widening and the fp32 dot's accumulator
// walk (the order is the specification's, kernels/spec.hpp). Every function is
// inline and marked with the AVX2 target attribute, so this header adds no
// code to a translation unit that does not call it.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/avx2/rng.hpp"
#include "kernels/spec.hpp"
#include "lpcore/memory.hpp"

namespace lpcore::avx2::detail {


// The update drivers' block and tail helpers are inlined: a call costs a
// vzeroupper and a stack frame per update, which shows at d = 100.
#define LPCORE_INLINE inline __attribute__((always_inline))

LPCORE_AVX2 inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
LPCORE_AVX2 inline void store(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

// Software prefetch distance for streaming loops: out of cache it keeps more
// lines in flight than the hardware prefetcher alone (never faults).
constexpr std::size_t kPrefetchBytes = 1024;
// prefetch_line is an asm statement: GCC drops __builtin_prefetch from these
// loops once the block helpers are inlined into the update drivers.
LPCORE_AVX2 inline void prefetch(const void* p) { prefetch_line(p); }

// How far ahead (in bytes) a solver step's kernel prefetches a row with
// row_bytes left: kPrefetchBytes on a long row, else 0 (a prefetch of the
// row's own lines, already on their way). Past a row's end lie other rows,
// which the step does not read next: on a short row, out of cache, a
// prefetch that far ahead is a second, useless random DRAM stream beside the
// rows the solver prefetches itself (prefetch_sample: a row's first 4 KiB).
// The int8/int16 updates ask per chunk (at most 8 KiB), so their prefetches
// never pass the row's end; update_dot_f32 and dot_i8 ask per row, so at most
// 1 KiB past a row of 16 KiB or more. Why the kernels do not stop exactly at
// the row's end: docs/decisions.md, "Prefetch distance".
constexpr std::size_t kLongRowBytes = 16 * kPrefetchBytes;
inline std::size_t prefetch_ahead(std::size_t row_bytes) { return row_bytes >= kLongRowBytes ? kPrefetchBytes : 0; }

// Sum of eight int32 lanes, widened so that it cannot overflow.
LPCORE_AVX2 inline std::int64_t hsum_i32(__m256i v) {
  const __m256i w = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  alignas(32) std::int64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), w);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

// Sum of eight int32 lanes when the total fits in int32 (lane sums may wrap
// on the way: modulo 2^32 the result is still exact). No store and reload,
// so it is the cheap reduction for the solver's per-step dots.
LPCORE_AVX2 inline std::int32_t hsum_i32_small(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

LPCORE_AVX2 inline std::uint64_t hsum_u64(__m256i v) {
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

// dot_i8 on 32 bytes: vpsignb moves a's sign onto b so vpmaddubsw can take |a|
// as its unsigned operand; pair sums stay within int16 (|sum| <= 2*128*128).
LPCORE_AVX2 inline __m256i dot_i8_step(const std::int8_t* a, const std::int8_t* b) {
  const __m256i va = load(a), vb = load(b);
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(va, va), _mm256_sign_epi8(vb, va));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}



// Sixteen int8 elements sign-extended to int16 lanes.
LPCORE_AVX2 inline __m256i widen16(const std::int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}


// Elements p[0..8) as floats, for every element type the fp32 kernels read
// (the conversions are exact).
LPCORE_AVX2 inline __m256 widen8(const float* p) { return _mm256_loadu_ps(p); }
LPCORE_AVX2 inline __m256 widen8(const std::int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
LPCORE_AVX2 inline __m256 widen8(const std::int16_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// The fp32 dot's fixed combining tree of its four accumulators (spec::dot_f32).
LPCORE_AVX2 inline float combine_dot(__m256 acc0, __m256 acc1, __m256 acc2, __m256 acc3) {
  const __m256 s = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}

// A row's four accumulators of 8 lanes in the fp32 dot (spec::dot_f32).
struct DotAcc {
  __m256 v[4];
};

// The fp32 dot of kRows rows of x (ld elements apart) with b, over the columns
// [c0, c1) of a walk from 0 to n; c0 and c1 are multiples of 32 and c1 <= n32,
// the end of the 32-column blocks. The accumulators start at zero when c0 is 0
// and are otherwise taken from `state`. At c1 == n32 each row's dot is
// finished into out (the 8-blocks, the fixed combining tree, the scalar FMA
// tail); before that the accumulators are left in `state`. A walk of any
// chunks gives every accumulator the FMA sequence of one call over [0, n32).
// Rows done together share the loads of b and keep 4 * kRows chains in flight.
template <std::size_t kRows, class T>
LPCORE_AVX2 inline void dot_chunk(const T* x, std::size_t ld, const float* b, std::size_t c0, std::size_t c1,
                                  std::size_t n32, std::size_t n, DotAcc* state, float* out) {
  __m256 acc[kRows][4];
  for (std::size_t r = 0; r < kRows; ++r)
    for (int j = 0; j < 4; ++j) {
      if (c0 == 0)
        acc[r][j] = _mm256_setzero_ps();
      else
        acc[r][j] = state[r].v[j];
    }
  for (std::size_t i = c0; i < c1; i += 32)
    for (int j = 0; j < 4; ++j) {
      const __m256 bj = _mm256_loadu_ps(b + i + 8 * j);
      for (std::size_t r = 0; r < kRows; ++r)
        acc[r][j] = _mm256_fmadd_ps(widen8(x + r * ld + i + 8 * j), bj, acc[r][j]);
    }
  if (c1 < n32) {
    for (std::size_t r = 0; r < kRows; ++r)
      for (int j = 0; j < 4; ++j) state[r].v[j] = acc[r][j];
    return;
  }
  for (std::size_t r = 0; r < kRows; ++r) {
    const T* a = x + r * ld;
    std::size_t i = n32;
    __m256 acc0 = acc[r][0];
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(widen8(a + i), _mm256_loadu_ps(b + i), acc0);
    float h = combine_dot(acc0, acc[r][1], acc[r][2], acc[r][3]);
    for (; i < n; ++i) h = std::fma(static_cast<float>(a[i]), b[i], h);
    out[r] = h;
  }
}

// The fp32 dot of one row: a single chunk over all the 32-column blocks.
template <class T>
LPCORE_AVX2 inline float dot_f32_body(const T* a, const float* b, std::size_t n) {
  const std::size_t n32 = n - n % 32;
  float out;
  dot_chunk<1>(a, 0, b, 0, n32, n32, n, nullptr, &out);
  return out;
}

}  // namespace lpcore::avx2::detail
