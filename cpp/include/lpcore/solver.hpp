// The training loops: SGD, SVRG and HALP for linear models, at 8, 16 or 32 bits.
//
// One model representation serves every solver:
//
//     w_k = w_base_k + s * z_k        (k = 0..K-1: one row per output)
//
// * bits 32 (fp32 SGD / SVRG): z is the float model, s = 1, w_base unused.
// * bits 8/16, sgd and svrg (LP-SGD / LP-SVRG): z on the fixed b-bit grid with
//   scale s = delta, w_base = 0.
// * bits 8/16, halp: w_base is the fp32 centre w~, z the b-bit offset. Every
//   outer epoch re-centres (w_base += s z, z = 0) and re-scales
//   s = ||g~|| / (mu * (2^(b-1) - 1)), as in De Sa et al. (2018).
//   With adapt_mu, mu itself is adjusted before every re-scale from what the
//   previous epoch showed (see the kMu* constants below).
//
// The data X is stored as float32 rows (data_bits 32) or int8 / int16 rows
// with one float scale per row, x_i = row_scale_i * xq_i, rounded once before
// the fit; the rows are at the model's width, or 8-bit under a 16-bit model
// (kWidthPairs). An inner step then costs one integer SIMD dot product
// and one fused stochastic-rounding update per output row, plus O(1) float
// work: x_i . w_base is precomputed once per epoch.
//
// The objective, with m = X w^T + b (n x K margins) and sample weights v_i
// (all 1 without weights; V = sum_i v_i):
//   squared:      (1/V) sum_i v_i ||m_i - y_i||^2 / 2           + alpha/2 ||w||^2,  y_i in R^K
//   logistic:     (1/V) sum_i v_i log(1 + exp(-y_i m_i))       + alpha/2 ||w||^2,  y_i = +-1
//   multinomial:  (1/V) sum_i v_i (logsumexp(m_i) - m_{i,y_i})  + alpha/2 ||w||^2,  y_i a class index
// With weights the inner loop draws row i with probability v_i / V
// (sampling.hpp) and the full pass weights each row's loss and gradient by
// v_i; the inner step itself is unchanged.
// The intercept b is not penalized; it is kept in float64 and updated with the
// same variance-reduced gradient as w (O(1) work per sample per output).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "lpcore/interrupt.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/loss.hpp"

namespace lpcore {

enum class Method : int { sgd = 0, svrg = 1, halp = 2 };

// Training data, row-major: n rows of d elements of Width<X>::element, X
// being the type whose Width has bits == data_bits (int8, int16 or float).
// The caller guarantees the lengths; y holds K targets per row (squared,
// n x K row-major), +-1 labels (logistic) or class indices in [0, K)
// (multinomial), one per row.
struct TrainData {
  std::size_t n = 0, d = 0;
  int data_bits = 0;              // 8, 16 or 32: set once, where the rows' type is known
  const void* rows = nullptr;
  const float* row_scale = nullptr;  // data_bits 8 / 16 only
  const double* y = nullptr;
  // n sample weights, finite and >= 0 with a positive finite sum; null: all 1.
  const double* sample_weight = nullptr;
};

// The (data_bits, bits) pairs fit() trains: data and model at one width, or
// 8-bit rows under a 16-bit model (D8M16). Python reads them as
// _core.WIDTH_PAIRS.
struct WidthPair {
  int data_bits, bits;
};
inline constexpr WidthPair kWidthPairs[] = {{8, 8}, {16, 16}, {32, 32}, {8, 16}};

constexpr bool is_width_pair(int data_bits, int bits) {
  for (const WidthPair& p : kWidthPairs)
    if (p.data_bits == data_bits && p.bits == bits) return true;
  return false;
}

struct EpochRecord;

// Called after every epoch with the epoch's number (1, 2, ...), its record
// and the model at its end: K x d coefficients (w_base + s z) and K
// intercepts, valid during the call. Returning true stops the fit there.
using EpochHook = std::function<bool(std::size_t epoch, const EpochRecord& record, const float* coef,
                                     const double* intercept)>;

struct SolverConfig {
  Method method = Method::halp;
  Loss loss = Loss::squared;
  // The model's width: 8, 16 or 32, or 0 for the data's. It may exceed the
  // data's only as 16-bit model on 8-bit rows (D8M16, in Buckwild's naming:
  // the step reads the narrow row, the model keeps the fine grid).
  int bits = 0;
  std::size_t n_outputs = 1;  // K: 1 for logistic, n_classes for multinomial, the targets for squared
  double eta = 0.01;          // step size
  double alpha = 0.0;         // L2 penalty
  double mu = 1.0;            // HALP: the grid spans ||g~|| / mu (the start value if adapt_mu)
  bool adapt_mu = false;      // HALP: adapt mu every epoch (see kMuGrowth below)
  // HALP with adapt_mu: the saturated fraction of the epoch before this run
  // (a run that continues another, one chunk of partial_fit after the
  // previous), which adapts mu before the first epoch as it would between
  // epochs; its growth signal does not carry across data. Negative: none.
  double prior_saturated = -1;
  double delta = 1.0;         // LP-SGD / LP-SVRG: the fixed grid scale
  std::size_t epoch_length = 0;  // T, inner steps per outer epoch
  std::size_t max_iter = 10;     // outer epochs
  double tol = 0.0;  // stop once ||grad F|| <= tol * reference
  // The gradient norm tol is relative to; 0: ||grad F(w_0)|| at this run's
  // start (a run that continues a fit passes the fit's start).
  double tol_reference = 0.0;
  bool fit_intercept = true;
  // Columns of X that are features: the estimators pad rows with zero columns
  // to whole vector blocks, and the saturated fraction counts features only.
  // 0: all d columns.
  std::size_t n_features = 0;
  std::uint64_t seed = 0;
  int verbose = 0;
  // HALP at 8 / 16 bits: stop when the fit stalls (kStallWindow below), so
  // that the caller can go on at a finer width.
  bool stop_on_stall = false;
  // Threads of the full-gradient pass (the calling thread included; 0 counts
  // as 1). The pass adds its rows in fixed lanes (kPassLaneWork below), so the
  // model does not depend on it.
  std::size_t n_threads = 1;
  // Polled between chunks of work (lpcore/interrupt.hpp); true stops the fit
  // with Interrupted. Empty: never interrupted.
  InterruptCheck interrupt_check;
  // Empty: none (the estimators' callbacks, lpcore/linear_model.py).
  EpochHook epoch_hook;
};

struct EpochRecord {
  double objective = 0;      // F at the end of the epoch
  double grad_norm = 0;      // ||grad F|| at the end of the epoch (intercept included)
  double seconds = 0;        // the whole epoch: full-gradient pass and inner loop
  double inner_seconds = 0;  // the inner loop alone
  double saturated = 0;      // fraction of coordinate updates that saturated
  double scale = 0;          // grid scale s used during the epoch (1 at bits 32)
  // HALP's mu during the epoch (s = ||g~_coef|| / (mu (2^(b-1) - 1))); NaN for
  // the methods that have no mu (SGD, SVRG, and HALP at 32 bits).
  double mu = std::numeric_limits<double>::quiet_NaN();
};

struct FitResult {
  std::size_t n_outputs = 0, n_columns = 0;  // K and d
  std::vector<float> coef;         // K x d: w_base + s z
  std::vector<float> centre;       // K x d: w_base (HALP; zeros otherwise)
  std::vector<std::int32_t> offset;  // K x d: z on its grid (bits 8/16; empty at 32)
  std::vector<double> intercept;   // K
  std::vector<EpochRecord> history;
  double initial_objective = 0, initial_grad_norm = 0;
  std::size_t n_iter = 0;  // outer epochs run
  double scale = 0;        // final grid scale
  double mu = std::numeric_limits<double>::quiet_NaN();  // HALP's mu in the last epoch (NaN: no mu)
  // HALP at 8/16 bits: the floor 1/(eta T) that the adaptive mu keeps to (NaN: no mu).
  double mu_min = std::numeric_limits<double>::quiet_NaN();
  bool converged = false;  // stopped by tol
  bool diverged = false;   // stopped by divergence (divergence.hpp)
  bool stalled = false;    // stopped by a stall (SolverConfig::stop_on_stall)
  bool stopped = false;    // stopped by SolverConfig::epoch_hook
  // Why: 1 the objective or gradient became non-finite, 2 the objective rose
  // above its start, 3 it gave back more than half of its progress.
  int divergence = 0;
};

// The full-gradient pass splits the rows into at most kPassLanes lanes of
// consecutive rows, each of at least kPassLaneWork coordinates (one lane
// below that), sums each lane in row order and adds the lanes' sums in lane
// order. The lanes depend on n and d alone, so the thread count (n_threads)
// never changes a result, and a problem of one lane sums exactly as a
// row-by-row pass. A thread takes at least kPassThreadWork coordinates: below
// that, starting it costs more than it saves.
constexpr std::size_t kPassLanes = 16;
constexpr std::size_t kPassLaneWork = std::size_t{1} << 16;
constexpr std::size_t kPassThreadWork = std::size_t{1} << 20;

// Steps between the L2 shrinkages of the offset (applied as one combined
// factor (1 - eta*alpha)^P).
constexpr std::size_t kRefreshPeriod = 16;

// Steps between the fresh stochastic roundings of the per-epoch offset vector
// c at 8 bits (a multiple of kRefreshPeriod). Each rounding's error, below one
// Q8 unit, moves a coordinate by the same amount for P steps: over T steps its
// drift has a standard deviation of at most sqrt(P T) / 512 grid steps, against
// up to sqrt(T) / 2 from the updates' own stochastic rounding; P = 64 keeps
// the first bound at 1/32 of the second, and the rounding pass (which rereads c at 6 bytes a
// coordinate) costs a quarter of what it did every 16 steps.
constexpr std::size_t kOffsetPeriod = 64;
static_assert(kOffsetPeriod % kRefreshPeriod == 0, "offsets are re-rounded on refresh steps");

// HALP's adaptive mu (SolverConfig::adapt_mu). Before each epoch's re-scale,
// from the epoch just run:
// * more than kMuSaturationLimit of its coordinate updates saturated: the grid
//   was too narrow, mu *= kMuShrink. The limit is a tenth of the 1% at which
//   the estimators warn: a saturated update is a clipped, biased step, and a
//   few coordinates pinned at the grid's end hold the objective above its
//   optimum (docs/decisions.md, "The constants of the mu rule");
// * else, if both the full-gradient norm and the objective grew over it: the
//   grid was so coarse that its rounding noise outweighed the epoch's
//   contraction, mu *= kMuGrowth. SVRG decreases F in expectation on these
//   convex objectives, but the gradient norm need not fall every epoch even
//   in exact arithmetic, so it is not trusted alone;
// * mu stays within [1 / (eta T), 1 / eta]. At mu = 1 / eta the grid's reach
//   ||g~|| / mu is a single full-gradient step; at 1 / (eta T) it is T of
//   them, about as far as an epoch of T steps can carry the model along any
//   direction in expectation, so a wider grid mostly adds rounding noise.
// The start value is SolverConfig::mu (clamped to the same range). Growing
// by 4 rather than 2 recovers from a grid that is too coarse in half the
// epochs; each halving costs one epoch.
constexpr double kMuSaturationLimit = 0.001;
constexpr double kMuShrink = 0.5;
constexpr double kMuGrowth = 4.0;

// A stall (SolverConfig::stop_on_stall): over the last kStallWindow epochs the
// full-gradient norm fell by less than the factor kStallFactor while no epoch
// saturated more than kMuSaturationLimit (so mu was not still being lowered).
// On an 8-bit grid that is the precision floor: the rounding noise, or a few
// coordinates pinned at the grid's ends, balance the epoch's contraction. The
// test also fires where fp32 SVRG itself contracts that slowly (an
// ill-conditioned problem); there the 16-bit continuation costs the wider
// epochs but not more of them (docs/algorithms.md, "Stalls").
constexpr std::size_t kStallWindow = 4;
constexpr double kStallFactor = 0.5;

// Train from coef0 (K x d) and intercept0 (K). Runs entirely in C++; the
// caller may release the GIL.
FitResult fit(const KernelTable& kernels, const TrainData& data, const SolverConfig& config,
              const float* coef0, const double* intercept0);

}  // namespace lpcore
