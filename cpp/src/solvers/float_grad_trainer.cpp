// SGD / SVRG with gradients in a simulated low-precision float format
// (see lpcore/float_grad_sgd.hpp for the algorithm and the shrinkage measures).
//
// The kernels do the O(d) vector work (dot_f32, axpy_f32, quantize_float);
// everything else is scalar C++ at baseline flags, so both backends train
// bit-identical models from one seed.
#include "lpcore/float_grad_sgd.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "solvers/epoch_loop.hpp"
#include "solvers/losses.hpp"
#include "solvers/sampling.hpp"
#include "lpcore/rng.hpp"

namespace lpcore {
namespace {


// Loss scale S for one gradient (see float_grad_sgd.hpp).
double loss_scale_for(const FloatGradConfig& grad, double amax) {
  if (grad.scaling == GradScaling::fixed) return grad.loss_scale;
  if (grad.scaling == GradScaling::none || !(amax > 0) || !std::isfinite(amax)) return 1.0;
  float max_finite;
  const std::uint32_t bits = float_format_spec(grad.format).max_bits;
  std::memcpy(&max_finite, &bits, 4);
  // The largest power of two with S * amax <= max_finite; the exponent is
  // capped so that S and 1 / S stay comfortably inside float range.
  int e = std::ilogb(static_cast<double>(max_finite) / amax);
  if (std::ldexp(amax, e) > max_finite) --e;  // ilogb rounds toward -inf already; guards equality cases
  e = std::clamp(e, -100, 100);
  return std::ldexp(1.0, e);
}

class FloatGradTrainer {
 public:
  FloatGradTrainer(const KernelTable& t, const TrainData& data, const SolverConfig& cfg, const FloatGradConfig& grad)
      : t_(t), data_(data), cfg_(cfg), grad_(grad), n_(data.n), d_(data.d), K_(cfg.n_outputs),
        Ky_(targets_per_row(cfg.loss, K_)), len_(K_ * d_ + (cfg.fit_intercept ? K_ : 0)), w_(K_ * d_),
        b_(K_, 0.0), m_(K_), phi_(K_), g_(len_), scaled_(len_), q_(len_), sum_(K_ * d_), sum_b_(K_),
        weight_(data.sample_weight, data.n), inv_total_(1.0 / weight_.total()),
        sampler_(sampling::stream_seed(cfg.seed, 2), n_, data.sample_weight),
        rounding_(sampling::stream_seed(cfg.seed, 5)) {
    if (svrg()) {
      anchor_phi_.assign(n_ * K_, 0.0);
      anchor_g_.assign(K_ * d_, 0.0);
      anchor_gb_.assign(K_, 0.0);
    }
  }

  FloatGradResult run(const float* coef0, const double* intercept0) {
    std::copy(coef0, coef0 + K_ * d_, w_.begin());
    std::copy(intercept0, intercept0 + K_, b_.begin());
    FloatGradResult out;
    FitResult& fit = out.fit;
    run_epochs(*this, cfg_, poll_, fit);
    out.shrinkage = std::move(shrinkage_);
    fit.coef = w_;
    fit.centre.assign(K_ * d_, 0.0f);
    fit.intercept = b_;
    fit.scale = 1.0;
    fit.n_outputs = K_;
    fit.n_columns = d_;
    return out;
  }

 private:
  struct Evaluation {
    double objective, grad_norm;
  };

  // ---- run_epochs' side (epoch_loop.hpp) ----
  template <class Trainer>
  friend void lpcore::run_epochs(Trainer&, const SolverConfig&, InterruptPoll&, FitResult&);

  Evaluation begin_epoch(std::size_t) { return full_pass(); }
  std::vector<float> coefficients() const { return w_; }
  const double* intercepts() const { return b_.data(); }
  bool stop_early(const Evaluation&, const std::vector<EpochRecord>&) const { return false; }

  EpochRecord run_epoch(std::size_t, const Evaluation&) {
    const auto t1 = std::chrono::steady_clock::now();
    ShrinkageRecord shrink;
    const double overflow = inner_loop(shrink);
    EpochRecord rec;
    rec.inner_seconds = seconds_since(t1);
    rec.saturated = overflow;
    rec.scale = 1.0;
    shrinkage_.push_back(shrink);
    return rec;
  }

  bool svrg() const { return cfg_.method == Method::svrg; }
  const float* row(std::size_t i) const { return static_cast<const float*>(data_.rows) + i * d_; }
  const double* targets(std::size_t i) const { return data_.y + i * Ky_; }
  double sample_weight(std::size_t i) const { return weight_(i); }

  void margins(std::size_t i) {
    for (std::size_t k = 0; k < K_; ++k) m_[k] = b_[k] + t_.dot_f32(row(i), &w_[k * d_], d_);
  }

  // One pass over the data: the objective and the full gradient's norm, and
  // for SVRG the anchor's per-row derivatives and mean loss gradient.
  Evaluation full_pass() {
    std::fill(sum_.begin(), sum_.end(), 0.0f);
    std::fill(sum_b_.begin(), sum_b_.end(), 0.0);
    double loss = 0;
    for (std::size_t i = 0; i < n_; ++i) {
      margins(i);
      poll_.add(K_ * d_);
      const double v = sample_weight(i);
      const double value = losses::loss_and_derivative(cfg_.loss, m_.data(), targets(i), K_, phi_.data());
      if (v != 0) loss += v * value;  // a zero-weight row adds nothing, even an infinite loss
      for (std::size_t k = 0; k < K_; ++k) {
        if (svrg()) anchor_phi_[i * K_ + k] = phi_[k];
        sum_b_[k] += v * phi_[k];
        t_.axpy_f32(static_cast<float>(phi_[k] * v), row(i), &sum_[k * d_], d_);
      }
    }
    double reg = 0, grad_sq = 0;
    for (std::size_t j = 0; j < K_ * d_; ++j) {
      const double w = w_[j];
      reg += w * w;
      const double gj = static_cast<double>(sum_[j]) * inv_total_ + cfg_.alpha * w;
      grad_sq += gj * gj;
      if (svrg()) anchor_g_[j] = static_cast<double>(sum_[j]) * inv_total_;
    }
    for (std::size_t k = 0; k < K_; ++k) {
      if (cfg_.fit_intercept) grad_sq += (sum_b_[k] * inv_total_) * (sum_b_[k] * inv_total_);
      if (svrg()) anchor_gb_[k] = sum_b_[k] * inv_total_;
    }
    return {loss * inv_total_ + 0.5 * cfg_.alpha * reg, std::sqrt(grad_sq)};
  }

  // g_ <- the step's gradient (weights of every output, then the intercepts).
  void form_gradient(std::size_t i) {
    margins(i);
    losses::loss_and_derivative(cfg_.loss, m_.data(), targets(i), K_, phi_.data());
    const float* x = row(i);
    for (std::size_t k = 0; k < K_; ++k) {
      const double delta = phi_[k] - (svrg() ? anchor_phi_[i * K_ + k] : 0.0);
      for (std::size_t j = 0; j < d_; ++j) {
        const std::size_t jj = k * d_ + j;
        double gj = delta * static_cast<double>(x[j]) + cfg_.alpha * static_cast<double>(w_[jj]);
        if (svrg()) gj += anchor_g_[jj];
        g_[jj] = static_cast<float>(gj);
      }
      if (cfg_.fit_intercept) g_[K_ * d_ + k] = static_cast<float>(delta + (svrg() ? anchor_gb_[k] : 0.0));
    }
  }

  // q_ <- Q(S g) / S; returns the number of overflowed entries.
  std::size_t quantize_gradient(double& log2_scale) {
    double amax = 0;
    for (std::size_t j = 0; j < len_; ++j) amax = std::max(amax, std::fabs(static_cast<double>(g_[j])));
    const double S = loss_scale_for(grad_, amax);
    log2_scale = std::log2(S);
    for (std::size_t j = 0; j < len_; ++j) scaled_[j] = static_cast<float>(static_cast<double>(g_[j]) * S);
    const std::size_t over =
        t_.quantize_float(scaled_.data(), len_, grad_.format, grad_.rounding, grad_.overflow, rounding_, q_.data());
    for (std::size_t j = 0; j < len_; ++j) q_[j] = static_cast<float>(static_cast<double>(q_[j]) / S);
    return over;
  }

  // Returns the fraction of gradient entries that overflowed.
  double inner_loop(ShrinkageRecord& rec) {
    double q_min = std::numeric_limits<double>::infinity(), q_sum = 0, ratio_sum = 0, mult_sum = 0, scale_sum = 0;
    std::size_t measured = 0, nonzero = 0, flushed = 0, overflowed = 0;
    for (std::size_t step = 0; step < cfg_.epoch_length; ++step) {
      const std::size_t i = sampler_.next();
      poll_.add(len_ + 1);
      form_gradient(i);
      double log2_scale = 0;
      overflowed += quantize_gradient(log2_scale);
      scale_sum += log2_scale;
      // The shrinkage of this step: projection, norm ratio, flushed entries.
      double gq = 0, gg = 0, qq = 0;
      for (std::size_t j = 0; j < len_; ++j) {
        const double g = g_[j], q = q_[j];
        gq += g * q;
        gg += g * g;
        qq += q * q;
        nonzero += g != 0;
        flushed += (g != 0 && q == 0);
      }
      // The step, with the estimate of q from the steps before this one.
      const double multiplier = grad_.compensate ? 1.0 / std::clamp(q_hat_, grad_.q_floor, 1.0) : 1.0;
      mult_sum += multiplier;
      const double step_size = cfg_.eta * multiplier;
      for (std::size_t k = 0; k < K_; ++k) {
        t_.axpy_f32(static_cast<float>(-step_size), &q_[k * d_], &w_[k * d_], d_);
        if (cfg_.fit_intercept) b_[k] -= step_size * static_cast<double>(q_[K_ * d_ + k]);
      }
      const double q_t = gq / gg;
      if (gg > 0 && std::isfinite(q_t)) {
        q_min = std::min(q_min, q_t);
        q_sum += q_t;
        ratio_sum += std::sqrt(qq / gg);
        ++measured;
        q_hat_ += kShrinkageEmaWeight * (q_t - q_hat_);
      }
    }
    const double steps = static_cast<double>(std::max<std::size_t>(cfg_.epoch_length, 1));
    rec.q_min = measured ? q_min : std::numeric_limits<double>::quiet_NaN();
    rec.q_mean = measured ? q_sum / static_cast<double>(measured) : std::numeric_limits<double>::quiet_NaN();
    rec.norm_ratio_mean = measured ? ratio_sum / static_cast<double>(measured) : std::numeric_limits<double>::quiet_NaN();
    rec.zero_fraction = nonzero ? static_cast<double>(flushed) / static_cast<double>(nonzero) : 0.0;
    rec.step_multiplier = mult_sum / steps;
    rec.log2_scale_mean = scale_sum / steps;
    const double entries = steps * static_cast<double>(len_);
    rec.overflow_fraction = static_cast<double>(overflowed) / entries;
    return rec.overflow_fraction;
  }

  void report(std::size_t epoch, const EpochRecord& r) const {
    const ShrinkageRecord& s = shrinkage_.back();
    std::fprintf(stderr,
                 "lpcore epoch %zu: objective %.9g  |grad| %.3e  %.4f s  q min %.3g mean %.3g  flushed %.3g%%  "
                 "step x%.3g\n",
                 epoch, r.objective, r.grad_norm, r.seconds, s.q_min, s.q_mean, 100.0 * s.zero_fraction,
                 s.step_multiplier);
  }

  const KernelTable& t_;
  const TrainData& data_;
  const SolverConfig& cfg_;
  const FloatGradConfig& grad_;
  const std::size_t n_, d_, K_;
  const std::size_t Ky_;  // targets per row: K for squared loss, else 1
  const std::size_t len_;
  std::vector<float> w_;
  std::vector<double> b_, m_, phi_;
  std::vector<float> g_, scaled_, q_;  // gradient, S * gradient, its quantization (unscaled)
  std::vector<float> sum_;             // full pass: sum_i phi_ik x_i
  std::vector<double> sum_b_;
  std::vector<double> anchor_phi_, anchor_g_, anchor_gb_;  // SVRG anchor
  const sampling::SampleWeights weight_;  // read by the full pass
  const double inv_total_;                // 1 / the sum of the sample weights (1 / n without weights)
  double q_hat_ = 1.0;  // running estimate of q (no evidence of shrinkage yet)
  std::vector<ShrinkageRecord> shrinkage_;  // one per epoch, aligned with the history
  sampling::RowSampler sampler_;
  Xorshift128p4 rounding_;
  InterruptPoll poll_{cfg_.interrupt_check};
};

}  // namespace

FloatGradResult fit_float_grad(const KernelTable& kernels, const TrainData& data, const SolverConfig& config,
                               const FloatGradConfig& grad, const float* coef0, const double* intercept0) {
  check_problem(data, config, "fit_float_grad");
  if (data.data_bits != 32 || data.rows == nullptr)
    throw std::invalid_argument("fit_float_grad: the data must be float32");
  if (config.bits != 0 && config.bits != 32)
    throw std::invalid_argument("fit_float_grad: the model is fp32 (bits 32), got bits " + std::to_string(config.bits));
  if (config.method != Method::sgd && config.method != Method::svrg)
    throw std::invalid_argument("fit_float_grad: the method must be sgd or svrg");
  if (!(grad.q_floor > 0 && grad.q_floor <= 1)) throw std::invalid_argument("fit_float_grad: q_floor must be in (0, 1]");
  if (grad.scaling == GradScaling::fixed && !(grad.loss_scale > 0 && std::isfinite(grad.loss_scale)))
    throw std::invalid_argument("fit_float_grad: the loss scale must be positive and finite");
  return FloatGradTrainer(kernels, data, config, grad).run(coef0, intercept0);
}

}  // namespace lpcore
