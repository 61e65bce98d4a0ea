// Random number generators shared by every backend.
//
// Stochastic rounding must give the same result on the scalar and AVX2
// backends, so every stream here is defined by plain integer arithmetic that
// both backends reproduce lane for lane.
//
// * Xorshift128p  - one xorshift128+ generator (Vigna 2014, shifts 23/18/5),
//                   used for scalar draws: per-call multipliers and offsets.
// * Xorshift128p4 - four independent xorshift128+ lanes stepped together; one
//                   step yields a 32-byte block (lane k -> bytes 8k..8k+7,
//                   little endian). This is the vectorizable stream: the AVX2
//                   backend steps all four lanes in one 256-bit register.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lpcore {

// splitmix64: expands one 64-bit seed into well-mixed generator state.
inline std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// One xorshift128+ step on a (s0, s1) pair; returns the output word.
inline std::uint64_t xorshift128p_step(std::uint64_t& s0, std::uint64_t& s1) {
  std::uint64_t a = s0;
  const std::uint64_t b = s1;
  const std::uint64_t out = a + b;
  s0 = b;
  a ^= a << 23;
  s1 = a ^ b ^ (a >> 18) ^ (b >> 5);
  return out;
}

struct Xorshift128p {
  std::uint64_t s0 = 1, s1 = 2;

  Xorshift128p() = default;
  explicit Xorshift128p(std::uint64_t seed) {
    s0 = splitmix64(seed);
    s1 = splitmix64(seed);
    if ((s0 | s1) == 0) s1 = 1;  // the all-zero state is a fixed point
  }
  std::uint64_t next() { return xorshift128p_step(s0, s1); }
  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }
};

struct alignas(32) Xorshift128p4 {
  std::uint64_t s0[4] = {1, 3, 5, 7};
  std::uint64_t s1[4] = {2, 4, 6, 8};

  Xorshift128p4() = default;
  explicit Xorshift128p4(std::uint64_t seed) {
    for (int k = 0; k < 4; ++k) {
      s0[k] = splitmix64(seed);
      s1[k] = splitmix64(seed);
      if ((s0[k] | s1[k]) == 0) s1[k] = 1;
    }
  }
  // The scalar specification of one 32-byte block.
  void next_block(std::uint64_t out[4]) {
    for (int k = 0; k < 4; ++k) out[k] = xorshift128p_step(s0[k], s1[k]);
  }
};

}  // namespace lpcore
