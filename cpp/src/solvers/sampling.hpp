// How the training loops draw their samples, and the seeds of their random
// streams. Both trainers (lowprec_trainer.cpp, float_grad_trainer.cpp) use these, so
// every solver draws the same rows from the same seed.
//
// Without sample weights a row is drawn uniformly with replacement (Lemire's
// multiply-shift). With weights w, row i is drawn with probability
// w_i / sum w (Walker's alias method, built by Vose's algorithm): the
// stochastic gradient of the weighted objective (1 / sum w) sum w_i f_i is
// then f_i's own gradient, unbiased, and the inner step is the same integer
// step as without weights. Each draw still costs one 64-bit random word.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "lpcore/memory.hpp"
#include "lpcore/rng.hpp"

namespace lpcore::sampling {

// Lemire's multiply-shift: a uniform index in [0, n) from 64 random bits.
inline std::size_t uniform_index(std::uint64_t r, std::size_t n) {
  return static_cast<std::size_t>((static_cast<unsigned __int128>(r) * n) >> 64);
}

// The seed of the solver's random stream number `stream` (1: dither,
// 2: sampler, ...), as lowprec_trainer.cpp derives them.
inline std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t s = seed ^ (0x9E3779B97F4A7C15ULL * stream);
  return splitmix64(s);
}

// The sum of n sample weights, in row order.
inline double total_weight(const double* w, std::size_t n) {
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) total += w[i];
  return total;
}

// Sample weights as the full-gradient passes read them: divided by the
// largest, so that a weight times a row's gradient stays within float32's
// range whatever the weights' scale (the objective does not change; the
// estimators pass weights whose largest is 1 already), and the total of the
// scaled weights in row order, the objective's normalization. Without
// weights every row weighs 1 and the total is n.
class SampleWeights {
 public:
  SampleWeights(const double* w, std::size_t n) : w_(w), total_(static_cast<double>(n)) {
    if (w == nullptr) return;
    top_ = *std::max_element(w, w + n);
    total_ = 0;
    for (std::size_t i = 0; i < n; ++i) total_ += w[i] / top_;
  }
  double operator()(std::size_t i) const { return w_ != nullptr ? w_[i] / top_ : 1.0; }
  double total() const { return total_; }

 private:
  const double* w_;
  double top_ = 1;
  double total_;
};

// Walker's alias table over n rows with weights w (finite, >= 0, positive
// sum; the binding checks them). A draw r picks the column c = floor(r n /
// 2^64) and keeps c when the low 64 bits of r n (uniform given c, to within
// n / 2^64) fall below c's threshold, else takes c's alias. Column c's
// threshold is 2^64 q_c, q_c = w_c n / sum w after Vose's pairing, so row i
// is drawn with probability w_i / sum w (to within n / 2^64). A zero-weight
// row has threshold 0 and never gets drawn: it is paired with a large row
// before the pairing can run out of them, which would take a rounding error
// of a whole unit in the sum of the q.
struct AliasEntry {
  std::uint64_t threshold;
  std::uint64_t alias;
};

// Vose's algorithm: calls put(c, entry) once for every column c.
template <class Put>
void build_alias_table(const double* w, std::size_t n, Put put) {
  constexpr std::uint64_t kAlways = std::numeric_limits<std::uint64_t>::max();
  // 2^64 q for q in [0, 1): exact in double, and below 2^64.
  const auto threshold = [](double q) { return static_cast<std::uint64_t>(std::ldexp(std::max(q, 0.0), 64)); };
  const double total = total_weight(w, n);
  std::vector<double> q(n);
  std::vector<std::size_t> small, large;
  for (std::size_t i = 0; i < n; ++i) {
    q[i] = (w[i] * static_cast<double>(n)) / total;
    (q[i] < 1.0 ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    const std::size_t s = small.back(), l = large.back();
    small.pop_back();
    large.pop_back();
    put(s, AliasEntry{threshold(q[s]), l});
    q[l] -= 1.0 - q[s];  // l gives column s the rest of its unit
    (q[l] < 1.0 ? small : large).push_back(l);
  }
  // Whatever is left holds q = 1 up to rounding: the column is its own row.
  for (const std::size_t i : large) put(i, AliasEntry{kAlways, i});
  for (const std::size_t i : small) put(i, AliasEntry{kAlways, i});
}

// Where a sampler reads column c's alias entry: at base + c * stride bytes,
// in a table of its own or in a per-row record the step reads anyway (the
// solver's, which saves a random cache line per weighted step). Null base:
// no weights.
struct AliasEntries {
  const unsigned char* base = nullptr;
  std::size_t stride = 0;

  const void* address(std::size_t c) const { return base + c * stride; }
  AliasEntry at(std::size_t c) const {
    AliasEntry e;
    std::memcpy(&e, address(c), sizeof e);
    return e;
  }
};

// The rows of a training loop: uniform without weights, else through the
// alias entries. A weighted draw's entry is prefetched kAhead draws before it
// is read (a random read per draw, out of cache for large n); the sequence
// of rows is that of resolving the random words in order.
class RowSampler {
 public:
  // Weights (or null) with a table of the sampler's own.
  RowSampler(std::uint64_t seed, std::size_t n, const double* weights) : rng_(seed), n_(n) {
    if (weights == nullptr) return;
    own_ = LargeArray<AliasEntry>(n);
    build_alias_table(weights, n, [this](std::size_t c, const AliasEntry& e) { own_[c] = e; });
    start({reinterpret_cast<const unsigned char*>(own_.data()), sizeof(AliasEntry)});
  }
  // Entries kept elsewhere (their owner writes them before the first next()).
  RowSampler(std::uint64_t seed, std::size_t n, AliasEntries entries) : rng_(seed), n_(n) {
    if (entries.base != nullptr) start(entries);
  }

  std::size_t next() {
    if (entries_.base == nullptr) return uniform_index(rng_.next(), n_);
    const std::uint64_t r = pending_[head_];
    pending_[head_] = rng_.next();
    prefetch_line(entries_.address(uniform_index(pending_[head_], n_)));
    head_ = (head_ + 1) % kAhead;
    const unsigned __int128 p = static_cast<unsigned __int128>(r) * n_;
    const auto c = static_cast<std::size_t>(p >> 64);
    const AliasEntry e = entries_.at(c);
    return static_cast<std::uint64_t>(p) < e.threshold ? c : static_cast<std::size_t>(e.alias);
  }

 private:
  static constexpr std::size_t kAhead = 16;

  void start(AliasEntries entries) {
    entries_ = entries;
    for (std::uint64_t& r : pending_) {
      r = rng_.next();
      prefetch_line(entries_.address(uniform_index(r, n_)));
    }
  }

  Xorshift128p rng_;
  std::size_t n_;
  LargeArray<AliasEntry> own_;
  AliasEntries entries_;
  std::uint64_t pending_[kAhead] = {};
  std::size_t head_ = 0;
};

}  // namespace lpcore::sampling
