// Losses of the linear models (solver.hpp) and their derivative in the margins,
// and the epoch timer. Both training loops (solver.cpp, float_grad_sgd.cpp)
// use these, so every solver computes the same objective.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

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

// Writes dloss/dm_k into phi[0..K) and returns the loss of one sample, whose
// targets are y[0..K) (squared: one per output) or y[0] (logistic: +-1;
// multinomial: the class index).
inline double loss_and_derivative(Loss loss, const double* m, const double* y, std::size_t K, double* phi) {
  switch (loss) {
    case Loss::squared: {
      double value = 0;
      for (std::size_t k = 0; k < K; ++k) {
        const double r = m[k] - y[k];
        phi[k] = r;
        value += 0.5 * r * r;
      }
      return value;
    }
    case Loss::logistic: {
      const double t = -y[0] * m[0];
      phi[0] = -y[0] * sigmoid(t);
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
      const auto label = static_cast<std::size_t>(y[0]);
      for (std::size_t k = 0; k < K; ++k) phi[k] = phi[k] / sum - (k == label ? 1.0 : 0.0);
      return top + std::log(sum) - m[label];
    }
  }
  return 0;
}

// The checks every training loop makes before it indexes anything by a
// target or a weight: data present, outputs matching the loss, class labels
// in [0, K), sample weights finite and >= 0 with a positive finite sum.
inline void check_problem(const TrainData& data, const SolverConfig& config, const char* who) {
  const auto fail = [who](const char* what) { throw std::invalid_argument(std::string(who) + ": " + what); };
  if (data.n == 0 || data.d == 0) fail("the data is empty");
  if (config.n_outputs == 0) fail("no outputs");
  if (config.loss == Loss::logistic && config.n_outputs != 1) fail("the logistic loss has one output");
  if (config.loss == Loss::multinomial)
    for (std::size_t i = 0; i < data.n; ++i) {
      const double y = data.y[i];
      if (!(y >= 0) || y >= static_cast<double>(config.n_outputs) || y != std::floor(y))
        fail("multinomial labels must be class indices in [0, n_outputs)");
    }
  if (data.sample_weight != nullptr) {
    double total = 0;
    for (std::size_t i = 0; i < data.n; ++i) {
      const double v = data.sample_weight[i];
      if (!(v >= 0) || !std::isfinite(v)) fail("sample weights must be finite and >= 0");
      total += v;
    }
    if (!(total > 0) || !std::isfinite(total)) fail("sample weights must have a positive, finite sum");
  }
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace lpcore::losses
