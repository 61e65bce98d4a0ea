// The four-lane xorshift128+ stream (rng.hpp) in two AVX2 registers: one
// next() is one 32-byte block, lane k in bytes 8k..8k+7, exactly as
// Xorshift128p4::next_block produces it.
#pragma once

#include <immintrin.h>

#include "lpcore/rng.hpp"

#define LPCORE_AVX2 __attribute__((target("avx2,fma")))

namespace lpcore::avx2 {

struct VecRng {
  __m256i s0, s1;
  LPCORE_AVX2 explicit VecRng(const Xorshift128p4& g)
      : s0(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.s0))),
        s1(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.s1))) {}
  LPCORE_AVX2 void save(Xorshift128p4& g) const {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(g.s0), s0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(g.s1), s1);
  }
  LPCORE_AVX2 __m256i next() {
    __m256i a = s0;
    const __m256i b = s1;
    const __m256i out = _mm256_add_epi64(a, b);
    s0 = b;
    a = _mm256_xor_si256(a, _mm256_slli_epi64(a, 23));
    s1 = _mm256_xor_si256(_mm256_xor_si256(a, b),
                          _mm256_xor_si256(_mm256_srli_epi64(a, 18), _mm256_srli_epi64(b, 5)));
    return out;
  }
};

}  // namespace lpcore::avx2
