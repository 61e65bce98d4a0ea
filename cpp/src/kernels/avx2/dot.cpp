// AVX2 dot products of one row: int8 . int8, int16 . int16, int8 . int16 (exact
// in int64) and the fp32 dot of an fp32, int8 or int16 row with an fp32 model.

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/avx2/common.hpp"
#include "lpcore/kernels.hpp"

namespace lpcore::avx2 {
using namespace detail;

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

LPCORE_AVX2 float dot_f32(const float* a, const float* b, std::size_t n) { return dot_f32_body(a, b, n); }
LPCORE_AVX2 float dot_i8_f32(const std::int8_t* x, const float* w, std::size_t n) { return dot_f32_body(x, w, n); }
LPCORE_AVX2 float dot_i16_f32(const std::int16_t* x, const float* w, std::size_t n) { return dot_f32_body(x, w, n); }

}  // namespace lpcore::avx2
