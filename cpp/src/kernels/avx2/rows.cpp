// AVX2 kernels of the full-gradient pass: the fp32 dot of a block of rows with
// one model (dot_rows_*), and axpy of one row or of a block of rows into one
// sum (axpy_*, axpy_rows_*), each reading the shared vector once per block.

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/avx2/common.hpp"
#include "lpcore/kernels.hpp"

namespace lpcore::avx2 {
using namespace detail;

namespace {

// Columns per chunk of the multi-row kernels: w's (or y's) chunk, 8 KiB,
// stays in L1 while the rows walk it. A multiple of 32, so that no 32-column
// block of the dot straddles two chunks.
constexpr std::size_t kRowsChunk = 2048;
// Rows whose dot accumulators wait between chunks (2 KiB of state).
constexpr std::size_t kDotRowGroup = 16;
// Rows at least this long are walked two at a time: two memory streams fetch
// faster than one. Shorter rows are walked one at a time, in address order:
// two of them interleaved within a page defeat the hardware prefetcher
// (docs/decisions.md, "Row pairs in the full pass").
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

}  // namespace lpcore::avx2
