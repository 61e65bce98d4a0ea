// SGD, SVRG and HALP training loops (see lpcore/solver.hpp for the model),
// written once over ModelOps<T, X> (model_ops.hpp): a model of elements T
// (float, int8, int16) trained on data rows of elements X. Every float
// operation outside the kernels is scalar C++ compiled at baseline flags, so
// both backends train bit-identical models from the same seed.
#include "lpcore/solver.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

#include "solvers/epoch_loop.hpp"
#include "solvers/losses.hpp"
#include "solvers/model_ops.hpp"
#include "solvers/sampling.hpp"
#include "lpcore/dither.hpp"
#include "lpcore/memory.hpp"
#include "lpcore/rng.hpp"
#include "lpcore/width.hpp"

namespace lpcore {
namespace {

using losses::loss_and_derivative;

// The trainer of a model with elements T on data rows with elements X.
template <class T, class X = T>
class Trainer {
  using Ops = ModelOps<T, X>;
  using Offset = typename Ops::Offset;

 public:
  Trainer(const KernelTable& t, const TrainData& data, const SolverConfig& cfg)
      : t_(t), data_(data), cfg_(cfg), n_(data.n), d_(data.d), K_(cfg.n_outputs),
        Ky_(targets_per_row(cfg.loss, K_)), x_(Ops::rows(data)), z_(K_ * d_), b_(K_, 0.0), m_(K_), phi_(K_),
        dots_(K_), g_(K_ * d_), gb_(K_),
        stride_((alias_slot() + (data.sample_weight != nullptr ? 2 : 0) + 3) / 4 * 4), rows_(n_ * stride_),
        weight_(data.sample_weight, n_), inv_total_(1.0 / weight_.total()), dither_(seed(1)),
        sampler_(seed(2), n_, alias_entries(data)), offset_draws_(seed(4)) {
    for (std::size_t i = 0; i < n_; ++i) {
      record(i)[0] = Ops::kLowPrecision ? static_cast<double>(data.row_scale[i]) : 1.0;
      std::copy(data.y + i * Ky_, data.y + (i + 1) * Ky_, record(i) + 1);
    }
    if (data.sample_weight != nullptr)
      sampling::build_alias_table(data.sample_weight, n_, [this](std::size_t c, const sampling::AliasEntry& e) {
        std::memcpy(record(c) + alias_slot(), &e, sizeof e);
      });
    if (cfg.method != Method::sgd) {
      c_.assign(K_ * d_, Offset{0});
      if constexpr (Ops::kLowPrecision) c_float_.assign(K_ * d_, 0.0f);
    }
    if constexpr (Ops::kLowPrecision) zero_.assign(d_, Ops::kOffsetBias);  // packed zeros
    if (halp()) w_base_.assign(K_ * d_, 0.0f);
    if (centred_penalty()) pull_.assign(K_ * d_, 0.0f);
  }

  FitResult run(const float* coef0, const double* intercept0) {
    initialize(coef0, intercept0);
    FitResult out;
    run_epochs(*this, cfg_, poll_, out);
    out.coef = coefficients();
    out.centre.assign(K_ * d_, 0.0f);
    if constexpr (Ops::kLowPrecision) {
      if (halp()) out.centre = w_base_;
      out.offset.assign(z_.begin(), z_.end());
    }
    out.intercept = b_;
    out.scale = s_;
    out.n_outputs = K_;
    out.n_columns = d_;
    if (halp()) {
      out.mu = mu_;
      out.mu_min = mu_min();
    }
    return out;
  }

 private:
  struct Evaluation {
    double objective, grad_norm, coef_grad_norm;
  };

  // ---- run_epochs' side (epoch_loop.hpp) ----
  template <class Trainer>
  friend void lpcore::run_epochs(Trainer&, const SolverConfig&, InterruptPoll&, FitResult&);

  Evaluation begin_epoch(std::size_t) {
    if (halp()) recenter();
    if (centred_penalty()) {
      anchor_.assign(z_.begin(), z_.end());
      pull_k_ = std::numeric_limits<double>::quiet_NaN();  // pull_ is of the previous anchor
    }
    return full_pass();
  }

  const double* intercepts() const { return b_.data(); }

  bool stop_early(const Evaluation& ev, const std::vector<EpochRecord>& history) {
    grad_norms_.push_back(ev.grad_norm);
    return stalled(grad_norms_, history);
  }

  EpochRecord run_epoch(std::size_t epoch, const Evaluation& ev) {
    if (halp()) {
      if (cfg_.adapt_mu && epoch > 0)
        adapt_mu(last_saturated_, ev.grad_norm > previous_.grad_norm && ev.objective > previous_.objective);
      else if (cfg_.adapt_mu && cfg_.prior_saturated >= 0)
        adapt_mu(cfg_.prior_saturated, false);  // from the previous run's last epoch (partial_fit)
      // The grid must reach ||w* - w~|| <= ||g~|| / mu with 2^(b-1) - 1 steps.
      const double s = ev.coef_grad_norm / (mu_ * Ops::kQmax);
      if (s > 0 && std::isfinite(s)) s_ = s;
    }
    previous_ = ev;
    if (cfg_.method != Method::sgd) prepare_offsets();
    step_ = -cfg_.eta / s_;
    const auto t1 = std::chrono::steady_clock::now();
    const std::size_t saturated = inner_loop();
    EpochRecord rec;
    rec.inner_seconds = seconds_since(t1);
    rec.scale = s_;
    if (halp()) rec.mu = mu_;
    const std::size_t features = cfg_.n_features > 0 ? cfg_.n_features : d_;
    const double updates = static_cast<double>(cfg_.epoch_length) * static_cast<double>(K_ * features);
    rec.saturated = updates > 0 ? static_cast<double>(saturated) / updates : 0.0;
    last_saturated_ = rec.saturated;
    return rec;
  }

  bool halp() const { return Ops::kLowPrecision && cfg_.method == Method::halp; }
  // fp32 SVRG (and HALP at 32 bits, which is SVRG) puts the penalty's
  // alpha w~ part into the epoch's offset and shrinks z toward the anchor w~
  // (see shrink()), as HALP's centre does at 8 / 16 bits.
  bool centred_penalty() const { return !Ops::kLowPrecision && cfg_.method != Method::sgd; }
  std::uint64_t seed(std::uint64_t stream) const { return sampling::stream_seed(cfg_.seed, stream); }
  const X* row(std::size_t i) const { return x_ + i * d_; }
  // Row i's record: [row scale, targets y_i (Ky), anchor derivative phi_ik (K),
  // HALP's x_i . w_base_k (K)], and with sample weights column i's alias entry
  // (sampling.hpp; 16 bytes, from alias_slot()): a weighted draw reads it in
  // the record of its column, which is the drawn row's whenever the column
  // keeps its row, so a step reads no more cache lines than without weights.
  double* record(std::size_t i) { return rows_.data() + i * stride_; }
  std::size_t alias_slot() const { return 1 + Ky_ + 2 * K_; }
  sampling::AliasEntries alias_entries(const TrainData& data) const {
    if (data.sample_weight == nullptr) return {};
    return {reinterpret_cast<const unsigned char*>(rows_.data() + alias_slot()), stride_ * sizeof(double)};
  }
  const double* record(std::size_t i) const { return rows_.data() + i * stride_; }
  double row_scale(std::size_t i) const { return record(i)[0]; }
  const double* targets(std::size_t i) const { return record(i) + 1; }
  double& anchor_phi(std::size_t i, std::size_t k) { return record(i)[1 + Ky_ + k]; }
  double& base(std::size_t i, std::size_t k) { return record(i)[1 + Ky_ + K_ + k]; }
  double base(std::size_t i, std::size_t k) const { return record(i)[1 + Ky_ + K_ + k]; }
  // Row i's sample weight (1 without weights).
  double sample_weight(std::size_t i) const { return weight_(i); }

  void initialize(const float* coef0, const double* intercept0) {
    std::copy(intercept0, intercept0 + K_, b_.begin());
    if constexpr (!Ops::kLowPrecision) {
      std::copy(coef0, coef0 + K_ * d_, z_.begin());
      s_ = 1.0;
    } else if (halp()) {
      std::copy(coef0, coef0 + K_ * d_, w_base_.begin());
      s_ = 1.0;  // replaced at the first epoch
      mu_ = cfg_.adapt_mu ? std::clamp(cfg_.mu, mu_min(), mu_max()) : cfg_.mu;
    } else {
      s_ = cfg_.delta;
      for (std::size_t j = 0; j < K_ * d_; ++j) {
        const double q = std::nearbyint(static_cast<double>(coef0[j]) / s_);
        z_[j] = static_cast<T>(std::clamp(q, -Ops::kQmax, Ops::kQmax));
      }
    }
  }

  // Whether the fit has stalled (kStallWindow in lpcore/solver.hpp), from the
  // gradient norms at the start and after each epoch, and each epoch's record.
  bool stalled(const std::vector<double>& grad_norms, const std::vector<EpochRecord>& history) const {
    if (!cfg_.stop_on_stall || !halp() || history.size() < kStallWindow) return false;
    for (std::size_t k = history.size() - kStallWindow; k < history.size(); ++k)
      if (history[k].saturated > kMuSaturationLimit) return false;
    const std::size_t now = grad_norms.size() - 1;
    return grad_norms[now] > kStallFactor * grad_norms[now - kStallWindow];
  }

  // The bounds of the adaptive mu (see kMuGrowth in lpcore/solver.hpp).
  double mu_max() const { return 1.0 / cfg_.eta; }
  double mu_min() const {
    return 1.0 / (cfg_.eta * static_cast<double>(std::max<std::size_t>(cfg_.epoch_length, 1)));
  }

  // HALP's adaptive mu (the kMu* constants in lpcore/solver.hpp), from the
  // epoch just run: its fraction of saturated updates, and whether both the
  // full-gradient norm and the objective grew over it.
  void adapt_mu(double saturated, bool grew) {
    if (saturated > kMuSaturationLimit)
      mu_ *= kMuShrink;  // the grid was too narrow
    else if (grew)
      mu_ *= kMuGrowth;  // too coarse: its rounding noise beat SVRG's contraction
    mu_ = std::clamp(mu_, mu_min(), mu_max());
  }

  // w_base += s z; z = 0 (HALP's bit centring).
  void recenter() {
    if constexpr (Ops::kLowPrecision) {
      for (std::size_t j = 0; j < K_ * d_; ++j) {
        w_base_[j] = static_cast<float>(static_cast<double>(w_base_[j]) + s_ * static_cast<double>(z_[j]));
        z_[j] = 0;
      }
    }
  }

  // Margin of row i for class k from its model dot x_i . z_k.
  double margin(std::size_t i, std::size_t k, double dot, bool with_base) const {
    double m = b_[k] + row_scale(i) * s_ * dot;
    if (with_base) m += base(i, k);
    return m;
  }

  // Margins of row i at the current model into m.
  void margins(std::size_t i, bool with_base, double* m) const {
    for (std::size_t k = 0; k < K_; ++k) m[k] = margin(i, k, Ops::dot(t_, row(i), &z_[k * d_], d_), with_base);
  }

  // Rows per block of the full pass: each block is read twice (its dots,
  // then its sum), so it must stay in cache in between, and a block of more
  // rows reads more memory streams at once (docs/decisions.md, "Row pairs in
  // the full pass").
  static constexpr std::size_t kPassRows = 4;

  // The block of rows from i0, when its rows are short (narrow data): it then
  // arrives while this block is summed. A long row is a stream that the
  // hardware prefetcher keeps ahead of, and a prefetch of its start only
  // competes with it (docs/decisions.md, "Row pairs in the full pass").
  void prefetch_block(std::size_t i0) const {
    if (d_ * sizeof(X) > 4096) return;
    const char* begin = reinterpret_cast<const char*>(row(i0));
    const char* end = reinterpret_cast<const char*>(row(std::min(n_, i0 + kPassRows)));
    for (const char* p = begin; p < end; p += 64) prefetch_line(p);
  }

  // Whether the full pass takes its margins from fp32 dots x_i . w: w is the
  // model at 32 bits and HALP's centre at 8/16 bits (z = 0 right after
  // recenter()). LP-SGD and LP-SVRG keep margins()'s exact integer dot.
  bool float_margins() const { return !Ops::kLowPrecision || halp(); }

  const float* anchor_weights(std::size_t k) const {
    if constexpr (Ops::kLowPrecision)
      return &w_base_[k * d_];
    else
      return &z_[k * d_];
  }

  // One lane of the full pass (kPassLanes in lpcore/solver.hpp): its sums
  // and the scratch of the block it is on.
  struct PassLane {
    std::vector<float> g;  // K x d, the loss part of the gradient (lane 0 sums into g_)
    std::vector<double> gb, m, phi;
    std::vector<float> block_dot, block_coef;  // at [k * kPassRows + r]
    double loss = 0;
  };

  // Rows per lane of the full pass: n and d decide it, never the threads.
  std::size_t lane_rows() const {
    const std::size_t lanes = std::clamp<std::size_t>(n_ * d_ / kPassLaneWork, 1, kPassLanes);
    const std::size_t rows = (n_ + lanes - 1) / lanes;
    return (rows + kPassRows - 1) / kPassRows * kPassRows;
  }

  // Margins of row i, row r of the block, from the block's dots into lane.m.
  void block_margins(std::size_t i, std::size_t r, PassLane& lane) {
    const double sx = row_scale(i);
    for (std::size_t k = 0; k < K_; ++k) {
      const double xw = lane.block_dot[k * kPassRows + r];
      if (halp()) {  // the margin is b + x_i . w_base
        base(i, k) = sx * xw;
        lane.m[k] = b_[k] + base(i, k);
      } else {  // fp32
        lane.m[k] = margin(i, k, xw, false);
      }
    }
  }

  // The full pass's rows [begin, end) into the sums g (K x d), lane.gb and
  // lane.loss, starting from zero; per row, the anchor derivative (and
  // HALP's base dot) into its record. Rows go in blocks of kPassRows: the
  // block's dots, then each row's loss and derivative, then
  // g_k += sum_r phi_rk x_r. A block's kernels read w_k and g_k once instead
  // of once per row, and the block's rows are still in cache when the sum
  // reads them again. Every sum keeps the row order, so the result is that
  // of a row-by-row pass, bit for bit. Only the calling thread polls.
  void pass_rows(std::size_t begin, std::size_t end, PassLane& lane, float* g, bool polls) {
    std::fill(g, g + K_ * d_, 0.0f);
    std::fill(lane.gb.begin(), lane.gb.end(), 0.0);
    double loss = 0;
    for (std::size_t i0 = begin; i0 < end; i0 += kPassRows) {
      const std::size_t rows = std::min(kPassRows, end - i0);
      if (float_margins())
        for (std::size_t k = 0; k < K_; ++k)
          Ops::dot_rows(t_, row(i0), rows, anchor_weights(k), d_, &lane.block_dot[k * kPassRows]);
      prefetch_block(i0 + rows);
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t i = i0 + r;
        if (float_margins())
          block_margins(i, r, lane);
        else
          margins(i, false, lane.m.data());
        const double v = sample_weight(i);
        const double value = loss_and_derivative(cfg_.loss, lane.m.data(), targets(i), K_, lane.phi.data());
        if (v != 0) loss += v * value;  // a zero-weight row adds nothing, even an infinite loss
        if (polls) poll_.add(K_ * d_);
        for (std::size_t k = 0; k < K_; ++k) {
          anchor_phi(i, k) = lane.phi[k];
          lane.gb[k] += v * lane.phi[k];
          lane.block_coef[k * kPassRows + r] = static_cast<float>(lane.phi[k] * row_scale(i) * v);
        }
      }
      for (std::size_t k = 0; k < K_; ++k)
        Ops::accumulate(t_, &g[k * d_], &lane.block_coef[k * kPassRows], row(i0), rows, d_);
    }
    lane.loss = loss;
  }

  // Runs every lane of the pass on up to cfg_.n_threads threads, the calling
  // one included; each lane's sums land in its PassLane (lane 0's gradient in
  // g_). Which thread takes a lane changes nothing in its sums.
  void run_lanes(std::size_t per, std::size_t lanes) {
    if (lanes_.size() < lanes) {  // once per fit: lane 0 sums into g_
      lanes_.resize(lanes);
      for (std::size_t l = 0; l < lanes; ++l) {
        if (l > 0) lanes_[l].g.resize(K_ * d_);
        lanes_[l].gb.resize(K_);
        lanes_[l].m.resize(K_);
        lanes_[l].phi.resize(K_);
        lanes_[l].block_dot.resize(K_ * kPassRows);
        lanes_[l].block_coef.resize(K_ * kPassRows);
      }
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    const auto work = [&](bool polls) {
      for (std::size_t l; !stop.load(std::memory_order_relaxed) && (l = next.fetch_add(1)) < lanes;) {
        const std::size_t begin = l * per, end = std::min(n_, begin + per);
        pass_rows(begin, end, lanes_[l], l == 0 ? g_.data() : lanes_[l].g.data(), polls);
      }
    };
    const std::size_t by_work = std::max<std::size_t>(1, n_ * d_ * K_ / kPassThreadWork);
    const std::size_t helpers = std::min({std::max<std::size_t>(cfg_.n_threads, 1), lanes, by_work}) - 1;
    std::vector<std::thread> threads;
    threads.reserve(helpers);
    for (std::size_t h = 0; h < helpers; ++h) {
      try {
        threads.emplace_back(work, false);
      } catch (const std::system_error&) {
        break;  // a thread that cannot start leaves its lanes to the others
      }
    }
    const auto join = [&] {
      for (auto& th : threads) th.join();
    };
    try {
      work(true);  // only the calling thread polls for an interrupt
    } catch (...) {
      stop = true;
      join();
      throw;
    }
    join();
  }

  // One pass over the data at the anchor: the objective, the full gradient
  // (g_ holds its loss part summed over rows, gb_ the intercept's) and, per row,
  // the loss derivative the inner loop subtracts.
  Evaluation full_pass() {
    const std::size_t per = lane_rows(), lanes = (n_ + per - 1) / per;
    run_lanes(per, lanes);
    double loss = lanes_[0].loss;
    std::copy(lanes_[0].gb.begin(), lanes_[0].gb.end(), gb_.begin());
    for (std::size_t l = 1; l < lanes; ++l) {
      loss += lanes_[l].loss;
      for (std::size_t k = 0; k < K_; ++k) gb_[k] += lanes_[l].gb[k];
      const float* gl = lanes_[l].g.data();
      for (std::size_t j = 0; j < K_ * d_; ++j) g_[j] += gl[j];
    }
    double reg = 0, coef_sq = 0, icpt_sq = 0;
    for (std::size_t j = 0; j < K_ * d_; ++j) {
      const double w = weight(j);
      reg += w * w;
      const double gj = static_cast<double>(g_[j]) * inv_total_ + cfg_.alpha * w;
      coef_sq += gj * gj;
    }
    if (cfg_.fit_intercept)
      for (std::size_t k = 0; k < K_; ++k) icpt_sq += (gb_[k] * inv_total_) * (gb_[k] * inv_total_);
    return {loss * inv_total_ + 0.5 * cfg_.alpha * reg, std::sqrt(coef_sq + icpt_sq), std::sqrt(coef_sq)};
  }

  // Coefficient j of the current model, w = w_base + s z.
  double weight(std::size_t j) const {
    double w = s_ * static_cast<double>(z_[j]);
    if constexpr (Ops::kLowPrecision)
      if (halp()) w += static_cast<double>(w_base_[j]);
    return w;
  }

  std::vector<float> coefficients() const {
    std::vector<float> w(K_ * d_);
    for (std::size_t j = 0; j < K_ * d_; ++j) w[j] = static_cast<float>(weight(j));
    return w;
  }

  // The per-epoch offset c = -eta (g~_loss + alpha w_base) / s, in grid units:
  // the part of every SVRG step that does not depend on the sample. (The
  // alpha s z part of the penalty is the periodic shrinkage.) w_base is
  // HALP's centre, fp32 SVRG's anchor, and 0 for LP-SVRG.
  void prepare_offsets() {
    for (std::size_t k = 0; k < K_; ++k) {
      for (std::size_t j = 0; j < d_; ++j) {
        const std::size_t jj = k * d_ + j;
        double centre = 0;
        if constexpr (Ops::kLowPrecision) {
          if (halp()) centre = w_base_[jj];
        } else if (centred_penalty()) {
          centre = anchor_[jj];
        }
        const double c = -cfg_.eta * (static_cast<double>(g_[jj]) * inv_total_ + cfg_.alpha * centre) / s_;
        if constexpr (Ops::kLowPrecision) {
          // Clamped to the fused update's exact domain (|c| <= kMaxOffset in
          // fixed point); a larger offset would saturate the coordinate anyway.
          const double limit = Ops::kMaxOffset / static_cast<double>(1 << Ops::kFrac);
          c_float_[jj] = static_cast<float>(std::clamp(c, -limit, limit));
        } else {
          c_[jj] = static_cast<float>(c);
        }
      }
      if constexpr (Ops::kLowPrecision) {
        std::vector<float> natural(c_float_.begin() + k * d_, c_float_.begin() + (k + 1) * d_);
        pack_offsets(natural.data(), &c_float_[k * d_], d_, Ops::kBlock);
      }
    }
    if constexpr (Ops::kLowPrecision) round_offsets();
  }

  // Stochastic rounding of c_float_ (packed) into the fixed-point offsets c_.
  // int8 runs this every kOffsetPeriod steps so that the Q8 rounding error of
  // c averages out within the epoch: an integer kernel with a 16-bit dither
  // from the update's table, a few instructions per coordinate. int16 (Q16,
  // plus the packed layout's bias) rounds once per epoch.
  void round_offsets() {
    if constexpr (std::is_same_v<T, std::int8_t>) {
      t_.round_offsets_i8(c_float_.data(), K_ * d_, dither_, c_.data());
    } else if constexpr (std::is_same_v<T, std::int16_t>) {
      for (std::size_t j = 0; j < K_ * d_; ++j) {
        const double v = std::ldexp(static_cast<double>(c_float_[j]), Ops::kFrac);
        const double fl = std::floor(v);
        const double u = offset_draws_.uniform();
        c_[j] = static_cast<std::int32_t>(fl) + (u < v - fl ? 1 : 0) + Ops::kOffsetBias;
      }
    }
  }

  double shrink_factor(std::size_t steps) const {
    return 1.0 - std::pow(1.0 - cfg_.eta * cfg_.alpha, static_cast<double>(steps));
  }

  // The L2 penalty's alpha s z part, for `steps` steps at once: z <- Q(z - k z)
  // with k = 1 - (1 - eta alpha)^steps. Returns whether z may have changed.
  //
  // fp32 SVRG shrinks toward the anchor instead, z <- z - k (z - w~), its
  // offset holding the alpha w~ part. Between shrinkages z then stays at the
  // optimum once it is there: shrunk toward 0, it would saw-tooth by
  // P eta alpha w* around it, and every sample's variance-reduced gradient
  // would see that distance as noise. That noise held the gradient norm at
  // 2e-3 of its start on standardized 8-feature logistic data at alpha 1e-3,
  // 2e-2 at alpha 1e-2, for any number of epochs.
  bool shrink(std::size_t steps) {
    if (cfg_.alpha <= 0 || steps == 0) return false;
    const double k = steps == kRefreshPeriod ? shrink_period_ : shrink_factor(steps);
    if constexpr (!Ops::kLowPrecision) {
      if (centred_penalty()) {
        if (!(k == pull_k_)) {
          for (std::size_t j = 0; j < K_ * d_; ++j) pull_[j] = static_cast<float>(k * static_cast<double>(anchor_[j]));
          pull_k_ = k;
        }
        const auto a = static_cast<float>(-k);
        for (std::size_t c = 0; c < K_; ++c) t_.update_f32(&z_[c * d_], &z_[c * d_], a, &pull_[c * d_], d_);
        return true;
      }
    }
    const Offset* zero = Ops::kLowPrecision ? zero_.data() : nullptr;
    bool changed = false;
    for (std::size_t c = 0; c < K_; ++c) changed |= Ops::shrink(t_, &z_[c * d_], k, zero, d_, dither_);
    return changed;
  }

  // Everything step i will read at a random address: the row (its first 4 KiB;
  // the hardware prefetcher streams the rest) and its record.
  void prefetch_sample(std::size_t i) const {
    const char* p = reinterpret_cast<const char*>(row(i));
    const std::size_t bytes = std::min<std::size_t>(d_ * sizeof(X), 4096);
    for (std::size_t off = 0; off < bytes; off += 64) prefetch_line(p + off);
    const char* r = reinterpret_cast<const char*>(record(i));
    for (std::size_t off = 0; off < stride_ * sizeof(double); off += 64) prefetch_line(r + off);
  }

  // How many steps ahead samples are drawn and prefetched: enough to cover a
  // random row's memory latency at d = 256 (docs/decisions.md, "Sample lookahead").
  static constexpr std::size_t kLookahead = 16;

  std::size_t inner_loop() {
    const bool vr = cfg_.method != Method::sgd;
    std::size_t saturated = 0, since_refresh = 0;
    // Samples are drawn kLookahead steps ahead (the same index sequence) so
    // that their rows arrive from memory before they are needed.
    std::size_t ring[kLookahead] = {}, drawn = 0;
    const auto draw = [&] {
      const std::size_t j = sampler_.next();
      ring[drawn % kLookahead] = j;
      prefetch_sample(j);
      ++drawn;
    };
    while (drawn < std::min(kLookahead, cfg_.epoch_length)) draw();
    // A step's update also computes the next sample's model dots (update_dot).
    // On a refresh step the periodic shrinkage may move z after the update.
    // At 8/16 bits its pass is skipped when its multiplier rounds to 0, so the
    // update still takes the dots and the next step retakes them if the pass
    // ran; at 32 bits it always runs, so that update runs alone.
    bool have_margins = false;
    for (std::size_t step = 0; step < cfg_.epoch_length; ++step) {
      const std::size_t i = ring[step % kLookahead];
      if (drawn < cfg_.epoch_length) draw();  // reuses step's slot, after reading it
      if (!have_margins) margins(i, halp(), m_.data());
      poll_.add(K_ * d_ + 1);
      loss_and_derivative(cfg_.loss, m_.data(), targets(i), K_, phi_.data());
      const double sx = row_scale(i);
      const bool refresh = since_refresh + 1 == kRefreshPeriod;
      have_margins = (!refresh || Ops::kLowPrecision) && step + 1 < cfg_.epoch_length;
      const std::size_t j = ring[(step + 1) % kLookahead];  // the next sample, if any
      for (std::size_t k = 0; k < K_; ++k) {
        const double delta = vr ? phi_[k] - anchor_phi(i, k) : phi_[k];
        const auto a = static_cast<float>(step_ * delta * sx);
        const Offset* c = vr ? &c_[k * d_] : (Ops::kLowPrecision ? zero_.data() : nullptr);
        if (have_margins)
          saturated += Ops::update_dot(t_, &z_[k * d_], row(i), a, c, d_, dither_, row(j), &dots_[k]);
        else
          saturated += Ops::update(t_, &z_[k * d_], row(i), a, c, d_, dither_);
        if (cfg_.fit_intercept) b_[k] -= cfg_.eta * (delta + (vr ? gb_[k] * inv_total_ : 0.0));
      }
      if (have_margins)
        for (std::size_t k = 0; k < K_; ++k) m_[k] = margin(j, k, dots_[k], halp());
      if (refresh) {
        if (shrink(kRefreshPeriod)) have_margins = false;
        since_refresh = 0;
        if constexpr (std::is_same_v<T, std::int8_t>)
          if (vr && (step + 1) % kOffsetPeriod == 0) round_offsets();
      } else {
        ++since_refresh;
      }
    }
    shrink(since_refresh);  // the steps since the last refresh
    return saturated;
  }

  void report(std::size_t epoch, const EpochRecord& r) const {
    char mu[32] = "";
    if (halp()) std::snprintf(mu, sizeof mu, "  mu %.3g", r.mu);
    std::fprintf(stderr, "lpcore epoch %zu: objective %.9g  |grad| %.3e  %.4f s  saturated %.3g%%  scale %.3e%s\n",
                 epoch, r.objective, r.grad_norm, r.seconds, 100.0 * r.saturated, r.scale, mu);
  }

  const KernelTable& t_;
  const TrainData& data_;
  const SolverConfig& cfg_;
  const std::size_t n_, d_, K_;
  const std::size_t Ky_;  // targets per row: K for squared loss, else 1
  const X* x_;
  std::vector<T> z_;
  std::vector<double> b_, m_, phi_, dots_;  // the inner loop's margins, derivatives and next-row dots
  std::vector<float> g_;
  std::vector<double> gb_;
  std::vector<PassLane> lanes_;  // the full pass's lanes (full_pass())
  // Per-row records (see record()), one allocation so that a random sample
  // touches one more cache line, not four arrays; in large pages for the TLB.
  const std::size_t stride_;  // doubles per record: 1 + Ky + 2K (+ 2 with weights) rounded up to 32 bytes
  LargeArray<double> rows_;
  const sampling::SampleWeights weight_;  // read by the full pass
  const double inv_total_;                // 1 / the sum of the weights (1 / n without weights)
  std::vector<float> w_base_;      // HALP centre
  std::vector<float> anchor_;      // fp32 SVRG: the epoch's anchor w~ (centred_penalty())
  std::vector<float> pull_;        // fp32 SVRG: k w~, the shrinkage's pull toward the anchor
  double pull_k_ = 0;              // the k of pull_ (NaN: none yet for this anchor)
  std::vector<Offset> c_, zero_;   // per-epoch offsets (packed at 8/16 bits); zeros
  std::vector<float> c_float_;     // the offsets before rounding (packed)
  double s_ = 1.0;
  double mu_ = 0;    // HALP's mu: the one the coming epoch's scale is set with
  const double shrink_period_ = shrink_factor(kRefreshPeriod);
  double step_ = 0;  // -eta / s for the epoch: a sample's update is a = step_ * delta_phi * row scale
  Evaluation previous_{};          // at the start of the previous epoch
  double last_saturated_ = 0;      // the saturated fraction of the last epoch
  std::vector<double> grad_norms_;  // at the end of each epoch, the start's first (the stall test)
  Dither dither_;
  InterruptPoll poll_{cfg_.interrupt_check};
  sampling::RowSampler sampler_;
  Xorshift128p offset_draws_;  // int16 offsets' rounding
};

}  // namespace

FitResult fit(const KernelTable& kernels, const TrainData& data, const SolverConfig& config,
              const float* coef0, const double* intercept0) {
  check_problem(data, config, "fit");
  const int data_bits = data.data_bits;
  if (data.rows == nullptr) throw std::invalid_argument("fit: no data");
  if (data_bits != 8 && data_bits != 16 && data_bits != 32)
    throw std::invalid_argument("fit: data_bits must be 8, 16 or 32, got " + std::to_string(data_bits));
  if (data_bits != 32 && data.row_scale == nullptr) throw std::invalid_argument("fit: integer data needs row scales");
  const int bits = config.bits == 0 ? data_bits : config.bits;
  // One trainer per entry of kWidthPairs (solver.hpp), in its order.
  if (data_bits == 8 && bits == 8) return Trainer<std::int8_t>(kernels, data, config).run(coef0, intercept0);
  if (data_bits == 16 && bits == 16) return Trainer<std::int16_t>(kernels, data, config).run(coef0, intercept0);
  if (data_bits == 32 && bits == 32) return Trainer<float>(kernels, data, config).run(coef0, intercept0);
  if (data_bits == 8 && bits == 16)
    return Trainer<std::int16_t, std::int8_t>(kernels, data, config).run(coef0, intercept0);
  // The four pairs dispatched above are kWidthPairs, no more and no fewer.
  static_assert(std::size(kWidthPairs) == 4 && is_width_pair(8, 8) && is_width_pair(16, 16) &&
                    is_width_pair(32, 32) && is_width_pair(8, 16),
                "fit() dispatches exactly the pairs of kWidthPairs");
  throw std::invalid_argument("fit: a " + std::to_string(bits) + "-bit model on " + std::to_string(data_bits) +
                              "-bit data is not supported; the widths are 8, 16 or 32 with data at the "
                              "model's width, or 8-bit data under a 16-bit model");
}

}  // namespace lpcore
