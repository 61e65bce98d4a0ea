// Losses of the linear models (lpcore/loss.hpp) and their derivative in the
// margins. Both trainers (lowprec_trainer.cpp, float_grad_trainer.cpp) use
// these, so every solver computes the same objective.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "lpcore/loss.hpp"

namespace lpcore::losses {

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
      // t = -y m: dloss/dm = -y sigmoid(t), the loss softplus(t) =
      // log(1 + exp(t)), both from one e = exp(-|t|), which cannot overflow:
      // sigmoid(t) = 1 / (1 + e) for t >= 0 and e / (1 + e) below; softplus(t)
      // = t + log1p(e) for t > 0 and log1p(e) otherwise.
      const double t = -y[0] * m[0];
      const double e = std::exp(-std::fabs(t));
      phi[0] = -y[0] * (t >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
      return t > 0 ? t + std::log1p(e) : std::log1p(e);
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

}  // namespace lpcore::losses
