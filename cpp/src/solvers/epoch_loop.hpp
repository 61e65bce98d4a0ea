// The outer loop both trainers share (lowprec_trainer.cpp, float_grad_trainer.cpp),
// with the input checks and the epoch timer they share.
//
// Each pass of the loop first evaluates the model at the end of the previous
// epoch (the start, for epoch 0) with a full pass over the data, then stops
//   * on divergence (divergence.hpp),
//   * when SolverConfig::epoch_hook asks to,
//   * at tol: ||grad F|| <= tol * reference, the reference being
//     SolverConfig::tol_reference or, if 0, the gradient norm at the start,
//   * where the trainer says so (HALP's stall),
//   * after max_iter epochs,
// and otherwise runs one more epoch. A Trainer provides
//   Evaluation begin_epoch(epoch)   what the epoch starts with, then its full pass:
//                                   an Evaluation with .objective and .grad_norm
//   void report(epoch, record)      the verbose line of the epoch that just ended
//   std::vector<float> coefficients(), const double* intercepts()   the model now
//   bool stop_early(evaluation, history)   a trainer's own stopping rule
//   EpochRecord run_epoch(epoch, evaluation)   one epoch; its record's inner_seconds,
//                                   saturated, scale and mu (the loop fills the rest)
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "solvers/divergence.hpp"
#include "solvers/losses.hpp"
#include "lpcore/interrupt.hpp"
#include "lpcore/solver.hpp"

namespace lpcore {

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

template <class Trainer>
void run_epochs(Trainer& trainer, const SolverConfig& cfg, InterruptPoll& poll, FitResult& out) {
  DivergenceWatch watch(0.0);  // set from the objective at the start
  for (std::size_t epoch = 0;; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    poll.add(kEpochWork);
    const auto ev = trainer.begin_epoch(epoch);
    if (epoch == 0) {
      out.initial_objective = ev.objective;
      out.initial_grad_norm = ev.grad_norm;
      watch = DivergenceWatch(ev.objective);
    } else {
      out.history.back().objective = ev.objective;
      out.history.back().grad_norm = ev.grad_norm;
      if (cfg.verbose > 0) trainer.report(epoch, out.history.back());
    }
    if (const Divergence why = watch.check(ev.objective, ev.grad_norm); why != Divergence::none) {
      out.diverged = true;
      out.divergence = static_cast<int>(why);
      break;
    }
    if (epoch > 0 && cfg.epoch_hook &&
        cfg.epoch_hook(epoch, out.history.back(), trainer.coefficients().data(), trainer.intercepts())) {
      out.stopped = true;
      break;
    }
    if (ev.grad_norm <= cfg.tol * (cfg.tol_reference > 0 ? cfg.tol_reference : out.initial_grad_norm)) {
      out.converged = true;
      break;
    }
    if (trainer.stop_early(ev, out.history)) {
      out.stalled = true;
      break;
    }
    if (epoch == cfg.max_iter) break;
    EpochRecord rec = trainer.run_epoch(epoch, ev);
    rec.seconds = seconds_since(t0);
    out.history.push_back(rec);
    out.n_iter = epoch + 1;
  }
}

}  // namespace lpcore
