// The AVX2 + FMA backend. Every function carries a target attribute instead of
// the whole file being built with -mavx2, so the extension still loads on a CPU
// without AVX2; dispatch.cpp only hands these out after checking the CPU.
//
// Each kernel is a full-vector body plus the scalar specification
// (kernel_spec.hpp) for its tail, and must agree with lpcore::scalar bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "avx2_rng.hpp"
#include "kernel_spec.hpp"
#include "lpcore/dither.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/memory.hpp"
#include "lpcore/rng.hpp"

namespace lpcore::avx2 {
namespace {

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
// which the step does not read next: on short rows (a 256-byte int8 or 1 KiB
// fp32 row, out of cache) prefetching kPrefetchBytes ahead was a second,
// useless random DRAM stream beside the rows the solver prefetches
// (prefetch_sample: a row's first 4 KiB), and a narrow int8 step took
// 112 - 119 ns instead of 81 - 93. The int8/int16 updates ask per chunk (at
// most 8 KiB), so their prefetches never pass the row's end; update_dot_f32
// and dot_i8 ask per row, so at most 1 KiB past a row of 16 KiB or more.
// (Stopping at the row's end exactly costs a branch per block pair, or a
// second copy of the loop: the first made update_i8 8% slower in L1, the
// second an in-cache halp16 step 54.3 -> 57.2 ns.)
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

}  // namespace

LPCORE_AVX2 std::int64_t dot_i8(const std::int8_t* a, const std::int8_t* b, std::size_t n) {
  // Each int32 lane grows by at most 4 * 2^14 per step; flushing every 2^14
  // steps of one accumulator keeps it below 2^30.
  constexpr std::size_t kFlush = std::size_t{1} << 21;  // elements per flush (128 per step)
  std::int64_t total = 0;
  std::size_t i = 0;
  const std::size_t ahead = prefetch_ahead(n);
  while (n - i >= 128) {
    const std::size_t end = i + std::min(kFlush, (n - i) / 128 * 128);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (; i < end; i += 128) {
      prefetch(a + i + ahead);
      prefetch(a + i + ahead + 64);
      prefetch(b + i + ahead);
      prefetch(b + i + ahead + 64);
      acc0 = _mm256_add_epi32(acc0, dot_i8_step(a + i, b + i));
      acc1 = _mm256_add_epi32(acc1, dot_i8_step(a + i + 32, b + i + 32));
      acc2 = _mm256_add_epi32(acc2, dot_i8_step(a + i + 64, b + i + 64));
      acc3 = _mm256_add_epi32(acc3, dot_i8_step(a + i + 96, b + i + 96));
    }
    total += hsum_i32(acc0) + hsum_i32(acc1) + hsum_i32(acc2) + hsum_i32(acc3);
  }
  // At most three blocks and a tail remain: |total| < 4 * 32 * 128 * 128, one reduction.
  __m256i rest = _mm256_setzero_si256();
  for (; i + 32 <= n; i += 32) rest = _mm256_add_epi32(rest, dot_i8_step(a + i, b + i));
  if (i < n) {  // the tail as one block of zero-padded copies (0 * 0 adds nothing)
    alignas(32) std::int8_t at[32] = {}, bt[32] = {};
    std::memcpy(at, a + i, n - i);
    std::memcpy(bt, b + i, n - i);
    rest = _mm256_add_epi32(rest, dot_i8_step(at, bt));
  }
  return total + hsum_i32_small(rest);
}

LPCORE_AVX2 std::int64_t dot_i16(const std::int16_t* a, const std::int16_t* b, std::size_t n) {
  // vpmaddwd pair sums can reach 2^31, so each is split into its low 16 bits
  // (unsigned) and high 16 bits (signed); both sums are flushed every 2^13 steps.
  constexpr std::size_t kFlush = std::size_t{1} << 18;  // elements per flush (32 per step)
  const __m256i low16 = _mm256_set1_epi32(0xFFFF);
  std::int64_t total = 0;
  std::size_t i = 0;
  while (n - i >= 32) {
    const std::size_t end = i + std::min(kFlush, (n - i) / 32 * 32);
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    for (; i < end; i += 32) {
      const __m256i p0 = _mm256_madd_epi16(load(a + i), load(b + i));
      const __m256i p1 = _mm256_madd_epi16(load(a + i + 16), load(b + i + 16));
      lo = _mm256_add_epi32(lo, _mm256_add_epi32(_mm256_and_si256(p0, low16), _mm256_and_si256(p1, low16)));
      hi = _mm256_add_epi32(hi, _mm256_add_epi32(_mm256_srai_epi32(p0, 16), _mm256_srai_epi32(p1, 16)));
    }
    total += hsum_i32(lo) + 65536 * hsum_i32(hi);
  }
  for (; i + 2 <= n; i += 2) total += spec::dot_pair_i16(a[i], b[i], a[i + 1], b[i + 1]);
  if (i < n) total += std::int64_t{a[i]} * b[i];
  return total;
}

namespace {

// Sixteen int8 elements sign-extended to int16 lanes.
LPCORE_AVX2 inline __m256i widen16(const std::int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

}  // namespace

LPCORE_AVX2 std::int64_t dot_i8_i16(const std::int8_t* x, const std::int16_t* z, std::size_t n) {
  // vpmaddwd pair sums are below 2^23 in magnitude (2 * 128 * 32768 = 2^23
  // only for the pair (-128, -32768) twice, which still fits); flushing each
  // int32 accumulator every 2^6 steps keeps it below 2^30.
  constexpr std::size_t kFlush = std::size_t{1} << 11;  // elements per flush (32 per step)
  std::int64_t total = 0;
  std::size_t i = 0;
  while (n - i >= 32) {
    const std::size_t end = i + std::min(kFlush, (n - i) / 32 * 32);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    for (; i < end; i += 32) {
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(widen16(x + i), load(z + i)));
      acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(widen16(x + i + 16), load(z + i + 16)));
    }
    total += hsum_i32(acc0) + hsum_i32(acc1);
  }
  return total + spec::dot_i8_i16(x + i, z + i, n - i);
}

namespace {

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

// Columns per chunk of the multi-row kernels: w's (or y's) chunk, 8 KiB,
// stays in L1 while the rows walk it. A multiple of 32, so that no 32-column
// block of the dot straddles two chunks.
constexpr std::size_t kRowsChunk = 2048;
// Rows whose dot accumulators wait between chunks (2 KiB of state).
constexpr std::size_t kDotRowGroup = 16;
// Rows at least this long are walked two at a time: two memory streams fetch
// faster than one. Shorter rows are walked one at a time, in address order:
// two of them interleaved within a page defeat the hardware prefetcher
// (measured at d = 256, fp32: 1.5x slower in pairs).
constexpr std::size_t kPairBytes = 8192;

// The fp32 dot of many rows with w, reading w once per group of rows: chunk
// by chunk, every row of the group advances its accumulators, which wait in
// `state` for the next chunk. out[r] is dot_f32_body(x + r * ld, w, n) bit
// for bit.
template <class T>
LPCORE_AVX2 void dot_rows_body(const T* x, std::size_t ld, std::size_t rows, const float* w, std::size_t n,
                               float* out) {
  const std::size_t n32 = n - n % 32;
  const bool pairs = n * sizeof(T) >= kPairBytes;
  for (std::size_t g = 0; g < rows; g += kDotRowGroup) {
    const std::size_t m = std::min(kDotRowGroup, rows - g);
    const T* xg = x + g * ld;
    DotAcc state[kDotRowGroup];
    std::size_t c0 = 0;
    do {  // at least once: the last chunk finishes the dots, even when n < 32
      const std::size_t c1 = std::min(n32, c0 + kRowsChunk);
      std::size_t r = 0;
      if (pairs)
        for (; r + 2 <= m; r += 2) dot_chunk<2>(xg + r * ld, ld, w, c0, c1, n32, n, state + r, out + g + r);
      for (; r < m; ++r) dot_chunk<1>(xg + r * ld, ld, w, c0, c1, n32, n, state + r, out + g + r);
      c0 = c1;
    } while (c0 < n32);
  }
}

// One axpy term as the scalar specification computes it: fma(a, float(x), y)
// at every width (the conversion of an integer x is exact).
template <class T>
LPCORE_AVX2 inline __m256 axpy8(__m256 a, const T* x, __m256 y) {
  return _mm256_fmadd_ps(a, widen8(x), y);
}

template <class T>
inline float axpy1(float a, T x, float y) {
  return spec::axpy_term(a, x, y);
}

template <class T>
LPCORE_AVX2 inline void axpy_body(float a, const T* x, float* y, std::size_t n) {
  const __m256 va = _mm256_set1_ps(a);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_ps(y + i, axpy8(va, x + i, _mm256_loadu_ps(y + i)));
    _mm256_storeu_ps(y + i + 8, axpy8(va, x + i + 8, _mm256_loadu_ps(y + i + 8)));
  }
  for (; i < n; ++i) y[i] = axpy1(a, x[i], y[i]);
}

// The axpys of kRows rows of x (ld elements apart) in one pass over y: each
// element takes its kRows updates in row order, in a register.
template <std::size_t kRows, class T>
LPCORE_AVX2 inline void axpy_rows_together(const float* a, const T* x, std::size_t ld, float* y, std::size_t n) {
  __m256 va[kRows];
  for (std::size_t r = 0; r < kRows; ++r) va[r] = _mm256_set1_ps(a[r]);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(y + i);
    for (std::size_t r = 0; r < kRows; ++r) v = axpy8(va[r], x + r * ld + i, v);
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < n; ++i) {
    float v = y[i];
    for (std::size_t r = 0; r < kRows; ++r) v = axpy1(a[r], x[r * ld + i], v);
    y[i] = v;
  }
}

// The axpys of many rows with one pass over y: chunk by chunk, the rows update
// y's chunk in row order, four at a time, while it sits in L1. Every element
// gets the updates of row-by-row calls, in the same order.
template <class T>
LPCORE_AVX2 void axpy_rows_body(const float* a, const T* x, std::size_t ld, std::size_t rows, float* y,
                                std::size_t n) {
  for (std::size_t c0 = 0; c0 < n; c0 += kRowsChunk) {
    const std::size_t m = std::min(kRowsChunk, n - c0);
    std::size_t r = 0;
    for (; r + 4 <= rows; r += 4) axpy_rows_together<4>(a + r, x + r * ld + c0, ld, y + c0, m);
    for (; r < rows; ++r) axpy_rows_together<1>(a + r, x + r * ld + c0, ld, y + c0, m);
  }
}

}  // namespace

LPCORE_AVX2 float dot_f32(const float* a, const float* b, std::size_t n) { return dot_f32_body(a, b, n); }
LPCORE_AVX2 float dot_i8_f32(const std::int8_t* x, const float* w, std::size_t n) { return dot_f32_body(x, w, n); }
LPCORE_AVX2 float dot_i16_f32(const std::int16_t* x, const float* w, std::size_t n) { return dot_f32_body(x, w, n); }

LPCORE_AVX2 void dot_rows_f32(const float* x, std::size_t ld, std::size_t rows, const float* w, std::size_t n,
                              float* out) {
  dot_rows_body(x, ld, rows, w, n, out);
}
LPCORE_AVX2 void dot_rows_i8_f32(const std::int8_t* x, std::size_t ld, std::size_t rows, const float* w,
                                 std::size_t n, float* out) {
  dot_rows_body(x, ld, rows, w, n, out);
}
LPCORE_AVX2 void dot_rows_i16_f32(const std::int16_t* x, std::size_t ld, std::size_t rows, const float* w,
                                  std::size_t n, float* out) {
  dot_rows_body(x, ld, rows, w, n, out);
}

LPCORE_AVX2 void axpy_f32(float a, const float* x, float* y, std::size_t n) { axpy_body(a, x, y, n); }
LPCORE_AVX2 void axpy_i8_f32(float a, const std::int8_t* x, float* y, std::size_t n) { axpy_body(a, x, y, n); }
LPCORE_AVX2 void axpy_i16_f32(float a, const std::int16_t* x, float* y, std::size_t n) { axpy_body(a, x, y, n); }

LPCORE_AVX2 void axpy_rows_f32(const float* a, const float* x, std::size_t ld, std::size_t rows, float* y,
                               std::size_t n) {
  axpy_rows_body(a, x, ld, rows, y, n);
}
LPCORE_AVX2 void axpy_rows_i8_f32(const float* a, const std::int8_t* x, std::size_t ld, std::size_t rows,
                                  float* y, std::size_t n) {
  axpy_rows_body(a, x, ld, rows, y, n);
}
LPCORE_AVX2 void axpy_rows_i16_f32(const float* a, const std::int16_t* x, std::size_t ld, std::size_t rows,
                                   float* y, std::size_t n) {
  axpy_rows_body(a, x, ld, rows, y, n);
}

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
  // made a wide step (d = 2^18) 10 - 15% slower, as the block is
  // instruction-bound and every prefetch is one more instruction.
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
  // As in the int8 kernel, only the streamed row is prefetched (measured at
  // d = 2^18: a step 10% faster than without a prefetch).
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
// it. Measured on whole in-cache steps (n = 1000): at 4 blocks (d = 100) 7%
// faster; at 8 and 16 blocks no different. Longer rows keep the branch,
// whose misprediction is spread over the row.
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
  return quantize_avx2(x, n, scale, rounding, rng, q, 127.0f);
}

LPCORE_AVX2 std::size_t quantize_i16(const float* x, std::size_t n, float scale, Rounding rounding,
                                     Xorshift128p4& rng, std::int16_t* q) {
  return quantize_avx2(x, n, scale, rounding, rng, q, 32767.0f);
}

LPCORE_AVX2 void dequantize_i8(const std::int8_t* q, std::size_t n, float scale, float* x) {
  const __m256 vs = _mm256_set1_ps(scale);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vs));
  }
  for (; i < n; ++i) x[i] = static_cast<float>(q[i]) * scale;
}

LPCORE_AVX2 void dequantize_i16(const std::int16_t* q, std::size_t n, float scale, float* x) {
  const __m256 vs = _mm256_set1_ps(scale);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vs));
  }
  for (; i < n; ++i) x[i] = static_cast<float>(q[i]) * scale;
}

namespace {

// The data path's lane sums (kernel_spec.hpp): lanes 0-3 in lo, 4-7 in hi.
LPCORE_AVX2 inline void store_lanes(__m256d lo, __m256d hi, double lane[8]) {
  _mm256_storeu_pd(lane, lo);
  _mm256_storeu_pd(lane + 4, hi);
}

// (x - q * s)^2 for four lanes: the difference, the square and (by the caller)
// the sum each rounded once, as sqerr_lanes specifies; q2 += q^2 (exact).
LPCORE_AVX2 inline __m256d sqerr4(__m128 x, __m128i q32, __m256d s, __m256d& q2) {
  const __m256d qd = _mm256_cvtepi32_pd(q32);
  const __m256d e = _mm256_sub_pd(_mm256_cvtps_pd(x), _mm256_mul_pd(qd, s));
  q2 = _mm256_add_pd(q2, _mm256_mul_pd(qd, qd));
  return _mm256_mul_pd(e, e);
}

template <class Q>
LPCORE_AVX2 double sqerr_avx2(const float* x, const Q* q, float scale, std::size_t n, double* sum_q2) {
  const __m256d s = _mm256_set1_pd(static_cast<double>(scale));
  __m256d lo = _mm256_setzero_pd(), hi = lo, q2 = lo;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i q32;
    if constexpr (sizeof(Q) == 1)
      q32 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
    else
      q32 = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
    const __m256 v = _mm256_loadu_ps(x + i);
    lo = _mm256_add_pd(lo, sqerr4(_mm256_castps256_ps128(v), _mm256_castsi256_si128(q32), s, q2));
    hi = _mm256_add_pd(hi, sqerr4(_mm256_extractf128_ps(v, 1), _mm256_extracti128_si256(q32, 1), s, q2));
  }
  double lane[8], sums[4];
  store_lanes(lo, hi, lane);
  _mm256_storeu_pd(sums, q2);
  *sum_q2 = (sums[0] + sums[1]) + (sums[2] + sums[3]);  // integers: exact in any order
  spec::sqerr_lanes(x, q, scale, i, n, lane, *sum_q2);
  return spec::combine_lanes(lane);
}

}  // namespace

LPCORE_AVX2 void convert_f64_f32(const double* x, std::size_t n, float* out) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128 lo = _mm256_cvtpd_ps(_mm256_loadu_pd(x + i)), hi = _mm256_cvtpd_ps(_mm256_loadu_pd(x + i + 4));
    _mm256_storeu_ps(out + i, _mm256_set_m128(hi, lo));
  }
  for (; i < n; ++i) out[i] = static_cast<float>(x[i]);
}

LPCORE_AVX2 float row_stats_f32(const float* x, std::size_t n, double* sumsq) {
  const __m256i mask = _mm256_set1_epi32(0x7fffffff);
  __m256i m = _mm256_setzero_si256();
  __m256d lo = _mm256_setzero_pd(), hi = lo;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    m = _mm256_max_epu32(m, _mm256_and_si256(_mm256_castps_si256(v), mask));
    const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
    hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
  }
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

LPCORE_AVX2 double sqerr_i8(const float* x, const std::int8_t* q, float scale, std::size_t n,
                               double* sum_q2) {
  return sqerr_avx2(x, q, scale, n, sum_q2);
}

LPCORE_AVX2 double sqerr_i16(const float* x, const std::int16_t* q, float scale, std::size_t n,
                               double* sum_q2) {
  return sqerr_avx2(x, q, scale, n, sum_q2);
}

LPCORE_AVX2 std::uint64_t stream_sum(const std::uint8_t* p, std::size_t n) {
  // One sequential stream, four loads in flight; the hardware prefetcher does
  // better here alone than with software prefetch or two interleaved streams.
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc0 = zero, acc1 = zero, acc2 = zero, acc3 = zero;
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    acc0 = _mm256_add_epi64(acc0, _mm256_sad_epu8(load(p + i), zero));
    acc1 = _mm256_add_epi64(acc1, _mm256_sad_epu8(load(p + i + 32), zero));
    acc2 = _mm256_add_epi64(acc2, _mm256_sad_epu8(load(p + i + 64), zero));
    acc3 = _mm256_add_epi64(acc3, _mm256_sad_epu8(load(p + i + 96), zero));
  }
  std::uint64_t s = hsum_u64(_mm256_add_epi64(_mm256_add_epi64(acc0, acc1), _mm256_add_epi64(acc2, acc3)));
  for (; i < n; ++i) s += p[i];
  return s;
}

LPCORE_AVX2 void fill_random(Xorshift128p4& rng, std::uint8_t* out, std::size_t n_blocks) {
  VecRng g(rng);
  for (std::size_t b = 0; b < n_blocks; ++b) store(out + 32 * b, g.next());
  g.save(rng);
}

}  // namespace lpcore::avx2
