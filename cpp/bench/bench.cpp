#include "bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>

#include "solvers/sampling.hpp"
#include "lpcore/dither.hpp"
#include "lpcore/memory.hpp"
#include "lpcore/rng.hpp"

namespace lpcore {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::uint8_t, FreeDeleter>;

// 64-byte aligned buffer of random bytes (touching every page before timing).
Buffer random_buffer(const KernelTable& k, std::size_t bytes, std::uint64_t seed) {
  const std::size_t padded = (bytes + 63) / 64 * 64 + 64;
  auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(64, padded));
  if (p == nullptr) throw std::bad_alloc();
  Xorshift128p4 rng(seed);
  k.fill_random(rng, p, padded / 32);
  return Buffer(p);
}

// Map random bytes onto the symmetric int8 grid and small floats.
void to_grid_i8(std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] == 0x80) p[i] = 0x81;
}
void to_grid_i16(std::int16_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] == -32768) p[i] = -32767;
}
void to_floats(float* p, std::size_t n) {
  auto* u = reinterpret_cast<std::uint32_t*>(p);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<float>(u[i] >> 8) * 0x1p-23f - 1.0f;
}
template <class T>
void shrink(T* p, std::size_t n, int shift) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<T>(p[i] >> shift);
}

volatile double g_sink;

}  // namespace

std::size_t kernel_bytes(const std::string& kernel, std::size_t n) {
  // 16 * n must not wrap; time_kernel's buffers (up to 16 * n bytes) rely on this check too.
  if (n > (std::size_t{1} << 36)) throw std::invalid_argument("n must be at most 2^36 elements, got " + std::to_string(n));
  if (kernel == "stream") return n;
  if (kernel == "dot_i8") return 2 * n;
  if (kernel == "dot_i16") return 4 * n;
  if (kernel == "dot_f32") return 8 * n;
  if (kernel == "axpy_f32") return 12 * n;    // read x, y; write y
  if (kernel == "update_f32") return 16 * n;  // read w, x, c; write w
  if (kernel == "update_i8") return 5 * n;    // read z, x, c (int16); write z
  if (kernel == "update_i16") return 10 * n;  // read z, x, c (int32); write z
  // The solver's fused steps: the update, then the next row's dot with the new model.
  if (kernel == "update_dot_f32") return 20 * n;     // read w, x, c, x_next; write w
  if (kernel == "update_dot_i8") return 6 * n;       // read z, x, c (int16), x_next; write z
  if (kernel == "update_dot_i8_i16") return 10 * n;  // read z (int16), x, c (int32), x_next; write z
  throw std::invalid_argument("unknown kernel '" + kernel + "'");
}

std::vector<double> time_kernel(const KernelTable& k, const std::string& kernel, std::size_t n,
                                std::size_t reps, std::size_t inner, const InterruptCheck& interrupt) {
  kernel_bytes(kernel, n);  // validates the name and n
  // The calls run reps * inner times.
  if (reps > (std::size_t{1} << 20) || inner > (std::size_t{1} << 30))
    throw std::invalid_argument("time_kernel: reps must be at most 2^20 and inner at most 2^30");
  if (inner == 0) inner = 1;
  std::function<void()> call;
  std::vector<Buffer> keep;
  auto buf = [&](std::size_t bytes) {
    keep.push_back(random_buffer(k, bytes, 0x5EED + keep.size()));
    return keep.back().get();
  };
  Dither dither(12345);
  if (kernel == "stream") {
    auto* p = buf(n);
    call = [&k, p, n] { g_sink = static_cast<double>(k.stream_sum(p, n)); };
  } else if (kernel == "dot_i8") {
    auto *a = buf(n), *b = buf(n);
    to_grid_i8(a, n);
    to_grid_i8(b, n);
    call = [&k, a, b, n] {
      g_sink = static_cast<double>(k.dot_i8(reinterpret_cast<std::int8_t*>(a), reinterpret_cast<std::int8_t*>(b), n));
    };
  } else if (kernel == "dot_i16") {
    auto *a = reinterpret_cast<std::int16_t*>(buf(2 * n)), *b = reinterpret_cast<std::int16_t*>(buf(2 * n));
    to_grid_i16(a, n);
    to_grid_i16(b, n);
    call = [&k, a, b, n] { g_sink = static_cast<double>(k.dot_i16(a, b, n)); };
  } else if (kernel == "dot_f32") {
    auto *a = reinterpret_cast<float*>(buf(4 * n)), *b = reinterpret_cast<float*>(buf(4 * n));
    to_floats(a, n);
    to_floats(b, n);
    call = [&k, a, b, n] { g_sink = k.dot_f32(a, b, n); };
  } else if (kernel == "axpy_f32") {
    auto *x = reinterpret_cast<float*>(buf(4 * n)), *y = reinterpret_cast<float*>(buf(4 * n));
    to_floats(x, n);
    to_floats(y, n);
    call = [&k, x, y, n] { k.axpy_f32(1e-7f, x, y, n); };
  } else if (kernel == "update_f32") {
    auto *w = reinterpret_cast<float*>(buf(4 * n)), *x = reinterpret_cast<float*>(buf(4 * n)),
         *c = reinterpret_cast<float*>(buf(4 * n));
    to_floats(w, n);
    to_floats(x, n);
    to_floats(c, n);
    call = [&k, w, x, c, n] { k.update_f32(w, x, 1e-7f, c, n); };
  } else if (kernel == "update_i8") {
    auto *z = reinterpret_cast<std::int8_t*>(buf(n)), *x = reinterpret_cast<std::int8_t*>(buf(n));
    auto* c = reinterpret_cast<std::int16_t*>(buf(2 * n));
    to_grid_i8(reinterpret_cast<std::uint8_t*>(z), n);
    to_grid_i8(reinterpret_cast<std::uint8_t*>(x), n);
    shrink(c, n, 6);  // |c| < 512: within two grid steps, like HALP's eta * g~ / s
    call = [&k, z, x, c, n, &dither] { g_sink = static_cast<double>(k.update_i8(z, x, 0.03f, c, n, dither)); };
  } else if (kernel == "update_dot_f32") {
    auto *w = reinterpret_cast<float*>(buf(4 * n)), *x = reinterpret_cast<float*>(buf(4 * n)),
         *c = reinterpret_cast<float*>(buf(4 * n)), *xn = reinterpret_cast<float*>(buf(4 * n));
    for (float* p : {w, x, c, xn}) to_floats(p, n);
    call = [&k, w, x, c, xn, n] { g_sink = k.update_dot_f32(w, x, 1e-7f, c, n, xn); };
  } else if (kernel == "update_dot_i8") {
    auto *z = reinterpret_cast<std::int8_t*>(buf(n)), *x = reinterpret_cast<std::int8_t*>(buf(n)),
         *xn = reinterpret_cast<std::int8_t*>(buf(n));
    auto* c = reinterpret_cast<std::int16_t*>(buf(2 * n));
    for (auto* p : {z, x, xn}) to_grid_i8(reinterpret_cast<std::uint8_t*>(p), n);
    shrink(c, n, 6);
    call = [&k, z, x, c, xn, n, &dither] {
      std::int64_t dot = 0;
      g_sink = static_cast<double>(k.update_dot_i8(z, x, 0.03f, c, n, dither, xn, &dot) + dot);
    };
  } else if (kernel == "update_dot_i8_i16") {
    auto* z = reinterpret_cast<std::int16_t*>(buf(2 * n));
    auto *x = reinterpret_cast<std::int8_t*>(buf(n)), *xn = reinterpret_cast<std::int8_t*>(buf(n));
    auto* c = reinterpret_cast<std::int32_t*>(buf(4 * n));
    to_grid_i16(z, n);
    for (auto* p : {x, xn}) to_grid_i8(reinterpret_cast<std::uint8_t*>(p), n);
    shrink(c, n, 14);
    call = [&k, z, x, c, xn, n, &dither] {
      std::int64_t dot = 0;
      g_sink = static_cast<double>(k.update_dot_i8_i16(z, x, 0.03f, c, n, dither, xn, &dot) + dot);
    };
  } else {  // update_i16
    auto *z = reinterpret_cast<std::int16_t*>(buf(2 * n)), *x = reinterpret_cast<std::int16_t*>(buf(2 * n));
    auto* c = reinterpret_cast<std::int32_t*>(buf(4 * n));
    to_grid_i16(z, n);
    to_grid_i16(x, n);
    shrink(c, n, 14);
    call = [&k, z, x, c, n, &dither] { g_sink = static_cast<double>(k.update_i16(z, x, 0.03f, c, n, dither)); };
  }
  call();  // warm-up
  std::vector<double> seconds;
  seconds.reserve(reps);
  // Polled once per batch of calls of about 2^24 elements in all: nothing
  // is added to the timed loop per call.
  InterruptPoll poll(interrupt);
  const std::size_t batch = std::max<std::size_t>(1, InterruptPoll::kPollWork / (n + 1));
  for (std::size_t r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < inner; i += batch) {
      const std::size_t m = std::min(batch, inner - i);
      for (std::size_t j = 0; j < m; ++j) call();
      poll.add(m * (n + 1));
    }
    const auto t1 = std::chrono::steady_clock::now();
    seconds.push_back(std::chrono::duration<double>(t1 - t0).count() / static_cast<double>(inner));
  }
  return seconds;
}

double time_gather(const KernelTable& k, std::size_t n_rows, std::size_t row_bytes, std::size_t rows,
                   std::size_t lookahead, std::size_t reps, const InterruptCheck& interrupt) {
  if (n_rows == 0 || row_bytes == 0 || rows == 0 || lookahead == 0 || reps == 0)
    throw std::invalid_argument("time_gather: every size must be positive");
  if (row_bytes > (std::size_t{1} << 40) / n_rows) throw std::invalid_argument("time_gather: buffer too large");
  if (reps > (std::size_t{1} << 20) || rows > (std::size_t{1} << 40) || lookahead > (std::size_t{1} << 20))
    throw std::invalid_argument("time_gather: reps and lookahead must be at most 2^20, rows at most 2^40");
  const std::size_t blocks = (n_rows * row_bytes + 31) / 32;
  LargeArray<std::uint8_t> data(32 * blocks);
  Xorshift128p4 fill(0x6A7E);
  k.fill_random(fill, data.data(), blocks);  // touches every page before timing
  std::vector<std::size_t> ring(lookahead);
  Xorshift128p sampler(0x5A3B);
  const auto prefetch_row = [&](std::size_t i) {
    const std::uint8_t* p = data.data() + i * row_bytes;
    for (std::size_t off = 0; off < std::min<std::size_t>(row_bytes, 4096); off += 64) prefetch_line(p + off);
  };
  std::vector<double> seconds;
  InterruptPoll poll(interrupt);
  for (std::size_t r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t sum = 0;
    for (std::size_t s = 0; s < lookahead; ++s) prefetch_row(ring[s] = sampling::uniform_index(sampler.next(), n_rows));
    for (std::size_t s = 0; s < rows; ++s) {
      const std::size_t i = ring[s % lookahead];
      prefetch_row(ring[s % lookahead] = sampling::uniform_index(sampler.next(), n_rows));
      sum += k.stream_sum(data.data() + i * row_bytes, row_bytes);
      poll.add(row_bytes + 1);
    }
    g_sink = static_cast<double>(sum);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                      static_cast<double>(rows));
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace lpcore
