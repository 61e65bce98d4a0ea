// fp32 SGD / SVRG whose every step's gradient passes through a low-precision
// float format: the mixed-precision setting of Yun (2025), "Why does SGD slow
// down in low-precision training?".
//
// The model stays in float32 (the "master weights"). At step t, with sample i
// drawn uniformly with replacement, the gradient of the regularized objective
// (solver.hpp) is formed for all K outputs at once:
//
//   sgd:   g = [ phi_k(m_i) x_i + alpha w_k ;  phi_k(m_i) ]_k         (weights; intercept)
//   svrg:  g = [ (phi_k - phi~_ik) x_i + g~_k + alpha w_k ; phi_k - phi~_ik + g~b_k ]_k
//
// (the intercept entries only with fit_intercept), and the *whole vector* is
// quantized element-wise, with one loss scale S for the vector:
//
//   g^ = Q(S g) / S,      w <- w - (eta / q^) g^
//
// S is 1 ("none", the paper's setting), a fixed loss scale, or ("dynamic") the
// largest power of two with S max|g| <= the format's largest finite value, as
// FP8 recipes pick per-tensor scales. Every step measures the paper's
// shrinkage factor as the projection q_t = <g^, g> / ||g||^2 (the q of
// g^ = q g + eps with eps orthogonal to g), the norm ratio ||g^|| / ||g||, and
// the entries flushed to zero.
//
// Step compensation ("shrinkage"): q^ is a running estimate of q_t, an
// exponential moving average with weight kShrinkageEmaWeight over the steps
// *before* the current one (so the step does not depend on its own rounding
// noise), clipped to [q_floor, 1]. Dividing by it restores the effective
// step eta q ~ eta of the paper's analysis; the floor caps the step at
// eta / q_floor. With compensation "none", q^ = 1.
#pragma once

#include <cstddef>
#include <vector>

#include "lpcore/float_format.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/solver.hpp"

namespace lpcore {

enum class GradScaling : int { none = 0, fixed = 1, dynamic = 2 };

// Weight of the newest q_t in the running estimate: about 64 steps of memory,
// long enough to average out per-sample variation of q_t, short enough to
// follow its drift over an epoch.
constexpr double kShrinkageEmaWeight = 1.0 / 64.0;

struct FloatGradConfig {
  FloatFormat format = FloatFormat::fp16;
  FloatRounding rounding = FloatRounding::nearest;
  Overflow overflow = Overflow::saturate;
  GradScaling scaling = GradScaling::none;
  double loss_scale = 1.0;   // GradScaling::fixed
  bool compensate = false;   // step compensation "shrinkage"
  double q_floor = 0.1;      // lower clip of the running estimate q^
};

// Per-epoch statistics of the steps' shrinkage (steps with g = 0 are skipped).
struct ShrinkageRecord {
  double q_min = 0;             // min_t q_t
  double q_mean = 0;            // mean_t q_t
  double norm_ratio_mean = 0;   // mean_t ||g^|| / ||g||
  double zero_fraction = 0;     // flushed entries / nonzero entries of g, over the epoch
  double overflow_fraction = 0; // overflowed entries / all entries, over the epoch
  double step_multiplier = 0;   // mean_t 1 / q^ (1 without compensation)
  double log2_scale_mean = 0;   // mean_t log2 S
};

struct FloatGradResult {
  FitResult fit;
  std::vector<ShrinkageRecord> shrinkage;  // one per epoch, aligned with fit.history
};

// Train from coef0 (K x d) and intercept0 (K) on float32 data (data_bits 32);
// config.method is sgd or svrg. Runs entirely in C++; the caller may release the GIL.
FloatGradResult fit_float_grad(const KernelTable& kernels, const TrainData& data, const SolverConfig& config,
                               const FloatGradConfig& grad, const float* coef0, const double* intercept0);

}  // namespace lpcore
