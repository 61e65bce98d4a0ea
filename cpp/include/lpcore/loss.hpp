// The losses the solvers minimize (their formulas: lpcore/solver.hpp; their
// values and derivatives: cpp/src/solvers/losses.hpp).
#pragma once

#include <cstddef>

namespace lpcore {

enum class Loss : int { squared = 0, logistic = 1, multinomial = 2 };

// Targets per row of TrainData::y: K for the squared loss, one label otherwise.
inline std::size_t targets_per_row(Loss loss, std::size_t n_outputs) {
  return loss == Loss::squared ? n_outputs : 1;
}

}  // namespace lpcore
