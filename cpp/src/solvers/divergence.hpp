// Divergence, read from what the objective does (both training loops).
//
// A fit diverges when an epoch ends with an objective F_k that is
//   * not finite, or
//   * above the objective at the start, F_0, or
//   * has given back more than half of the progress made so far:
//     F_k - F_best > (F_0 - F_best) / 2, with F_best the lowest objective of
//     the epochs before,
// each by more than kDivergenceSlack * max(|F_0|, |F_best|), which keeps the
// rounding noise of a low-precision model near its optimum (and a warm start
// at the optimum) from counting. A diverging fit grows geometrically, so the
// slack delays the verdict by an epoch or two at most. These tests hold for
// every solver, width and gradient format, including those that cap the
// gradient (a simulated float format saturates, so nothing ever becomes
// non-finite there).
#pragma once

#include <algorithm>
#include <cmath>

namespace lpcore {

constexpr double kDivergenceSlack = 1e-3;

enum class Divergence : int { none = 0, not_finite = 1, above_start = 2, lost_progress = 3 };

class DivergenceWatch {
 public:
  explicit DivergenceWatch(double start) : start_(start), best_(start) {}

  // The verdict on the objective at the end of an epoch (call once per epoch).
  Divergence check(double objective, double grad_norm) {
    if (!std::isfinite(objective) || !std::isfinite(grad_norm)) return Divergence::not_finite;
    const double slack = kDivergenceSlack * std::max(std::fabs(start_), std::fabs(best_));
    if (objective > start_ + slack) return Divergence::above_start;
    if (objective - best_ > 0.5 * (start_ - best_) + slack) return Divergence::lost_progress;
    best_ = std::min(best_, objective);
    return Divergence::none;
  }

 private:
  double start_, best_;
};

}  // namespace lpcore
