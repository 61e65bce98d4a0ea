// AVX2 streaming kernels: a pure read of memory (the bandwidth reference of
// the benchmarks) and a fill from the four-lane xorshift128+ stream.

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/avx2/common.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/rng.hpp"

namespace lpcore::avx2 {
using namespace detail;

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
