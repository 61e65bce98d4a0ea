// Losses of the linear models (solver.hpp) and the helpers every training loop
// shares: the derivative in the margins, uniform sampling, timing.
// Both training loops (solver.cpp, float_grad_sgd.cpp) use these, so every
// solver computes the same objective from the same random streams.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>

#include "lpcore/rng.hpp"
#include "lpcore/solver.hpp"

namespace lpcore::losses {

// log(1 + exp(t)) without overflow.
inline double softplus(double t) { return t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t)); }

// 1 / (1 + exp(-t)) without overflow.
inline double sigmoid(double t) {
  if (t >= 0) return 1.0 / (1.0 + std::exp(-t));
  const double e = std::exp(t);
  return e / (1.0 + e);
}

// Writes dloss/dm_k into phi[0..K) and returns the loss of one sample.
inline double loss_and_derivative(Loss loss, const double* m, double y, std::size_t K, double* phi) {
  switch (loss) {
    case Loss::squared: {
      const double r = m[0] - y;
      phi[0] = r;
      return 0.5 * r * r;
    }
    case Loss::logistic: {
      const double t = -y * m[0];
      phi[0] = -y * sigmoid(t);
      return softplus(t);
    }
    case Loss::multinomial: {
      double top = m[0];
      for (std::size_t k = 1; k < K; ++k) top = std::max(top, m[k]);
      double sum = 0;
      for (std::size_t k = 0; k < K; ++k) {
        phi[k] = std::exp(m[k] - top);
        sum += phi[k];
      }
      const auto label = static_cast<std::size_t>(y);
      for (std::size_t k = 0; k < K; ++k) phi[k] = phi[k] / sum - (k == label ? 1.0 : 0.0);
      return top + std::log(sum) - m[label];
    }
  }
  return 0;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Lemire's multiply-shift: a uniform index in [0, n) from 64 random bits.
inline std::size_t uniform_index(Xorshift128p& rng, std::size_t n) {
  return static_cast<std::size_t>((static_cast<unsigned __int128>(rng.next()) * n) >> 64);
}

// The seed of the solver's random stream number `stream` (1: dither,
// 2: sampler, ...), as solver.cpp derives them.
inline std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t s = seed ^ (0x9E3779B97F4A7C15ULL * stream);
  return splitmix64(s);
}

}  // namespace lpcore::losses
