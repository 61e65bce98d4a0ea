// The data path (lpcore/data.hpp): X as the user holds it -> padded rows at the
// model's width, row scales and row statistics, in one read of X.
#include "lpcore/data.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "lpcore/memory.hpp"
#include "lpcore/rng.hpp"
#include "lpcore/width.hpp"

namespace lpcore {
namespace {

// Rows per converted block: a buffer of about kBlockBytes of float32, and at
// least kMinBlockRows, so that an F-ordered X is read a cache line (8 float64
// of one column) at a time.
constexpr std::size_t kBlockBytes = std::size_t{256} << 10;
constexpr std::size_t kMinBlockRows = 16;

std::size_t block_rows(std::size_t d) {
  return std::max(kMinBlockRows, kBlockBytes / (sizeof(float) * std::max<std::size_t>(d, 1)));
}

// The scale of a row whose largest |x| is amax: amax / qmax in float32, so that
// nothing saturates. An all-zero row gets 1 (it quantizes to zeros at any
// scale). Where amax / qmax is below the smallest normal float the float32
// quotient loses its precision, and can round to 0 or below the true
// quotient, which would saturate amax; there the scale is the quotient
// rounded up to the next subnormal (at least the smallest one).
inline float row_scale(float amax, float qmax) {
  if (!(amax > 0)) return 1.0f;
  const float s = amax / qmax;
  if (s >= std::numeric_limits<float>::min()) return s;
  const double exact = static_cast<double>(amax) / static_cast<double>(qmax);
  float up = static_cast<float>(exact);
  if (static_cast<double>(up) < exact) up = std::nextafter(up, std::numeric_limits<float>::infinity());
  return std::max(up, std::numeric_limits<float>::denorm_min());
}

template <class In>
float element(const char* p) {
  In v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<float>(v);
}

// Rows [i0, i0 + rows) of a non-contiguous X (contiguous rows are read in
// place) as float32 into buf (rows x d), in the loop order that walks X's
// smaller stride innermost.
template <class In>
void convert_block(const DataSource& src, std::size_t i0, std::size_t rows, float* buf) {
  const std::size_t d = src.d;
  const char* first = src.base + static_cast<std::ptrdiff_t>(i0) * src.row_stride;
  const bool by_row = std::abs(src.col_stride) <= std::abs(src.row_stride);
  if (by_row) {
    for (std::size_t r = 0; r < rows; ++r) {
      const char* p = first + static_cast<std::ptrdiff_t>(r) * src.row_stride;
      float* o = buf + r * d;
      for (std::size_t j = 0; j < d; ++j) o[j] = element<In>(p + static_cast<std::ptrdiff_t>(j) * src.col_stride);
    }
  } else {
    for (std::size_t j = 0; j < d; ++j) {
      const char* p = first + static_cast<std::ptrdiff_t>(j) * src.col_stride;
      for (std::size_t r = 0; r < rows; ++r) buf[r * d + j] = element<In>(p + static_cast<std::ptrdiff_t>(r) * src.row_stride);
    }
  }
}

// Where in row i of X the first non-finite float32 value is, and why: NaN or
// inf in X itself, or a finite float64 beyond the float32 range.
template <class In>
DataStatus classify(const DataSource& src, std::size_t i) {
  const char* p = src.base + static_cast<std::ptrdiff_t>(i) * src.row_stride;
  for (std::size_t j = 0; j < src.d; ++j) {
    In v;
    std::memcpy(&v, p + static_cast<std::ptrdiff_t>(j) * src.col_stride, sizeof v);
    if (!std::isfinite(v)) return {DataProblem::not_finite, i, j, 0};
    if (!std::isfinite(static_cast<float>(v))) return {DataProblem::beyond_float32, i, j, 0};
  }
  return {DataProblem::not_finite, i, 0, 0};  // not reached: the row had a non-finite float32
}

template <class Q>
std::size_t quantize_row(const KernelTable& t, const float* x, std::size_t d, float scale, Rounding rounding,
                         Xorshift128p4& rng, Q* q) {
  if constexpr (sizeof(Q) == 1)
    return t.quantize_i8(x, d, scale, rounding, rng, q);
  else
    return t.quantize_i16(x, d, scale, rounding, rng, q);
}

// quantize_row (nearest) with the row's squared rounding error and sum q^2,
// in one pass over x.
template <class Q>
std::size_t quantize_sqerr_row(const KernelTable& t, const float* x, std::size_t d, float scale, Q* q,
                               double* sq_err, double* sum_q2) {
  if constexpr (sizeof(Q) == 1)
    return t.quantize_sqerr_i8(x, d, scale, q, sq_err, sum_q2);
  else
    return t.quantize_sqerr_i16(x, d, scale, q, sq_err, sum_q2);
}

// Whether the rows of X lie contiguous in memory, to be read in place.
template <class In>
bool contiguous_rows(const DataSource& src) {
  return src.col_stride == static_cast<std::ptrdiff_t>(sizeof(In)) || src.d <= 1;
}

// A row as read: its float32 values (null when d = 0: no kernel reads them),
// max |x| and sum x^2.
struct RowRead {
  const float* x = nullptr;
  float amax = 0;
  double sq_x = 0;
};

// The contiguous path prefetches the rows ahead of the one it reads: on the
// Intel Xeon of docs/performance.md ("The data path's read-ahead") the reads
// of convert_stats_f64 stalled without it, while on an AMD EPYC the hardware
// prefetcher kept up and a prefetch changed nothing.
// Rows of up to kReadAheadMaxRow bytes prefetch the row at least 2 and about
// kReadAheadBytes ahead; longer rows are left to the hardware prefetcher
// (docs/decisions.md, "The data path's fused passes").
constexpr std::size_t kReadAheadBytes = std::size_t{4} << 10;
constexpr std::size_t kReadAheadMaxRow = std::size_t{64} << 10;

// How many rows ahead a row of row_bytes is prefetched (0: none).
std::size_t read_ahead_rows(std::size_t row_bytes) {
  if (row_bytes == 0 || row_bytes > kReadAheadMaxRow) return 0;
  return std::max<std::size_t>(2, (kReadAheadBytes + row_bytes - 1) / row_bytes);
}

// Prefetches the cache lines of [p, p + bytes), bytes > 0: every 64 bytes
// from p, and the last byte's line, which a row that does not start on a
// line can leave out.
void prefetch_bytes(const char* p, std::size_t bytes) {
  for (std::size_t off = 0; off < bytes; off += 64) prefetch_line(p + off);
  prefetch_line(p + bytes - 1);
}

// One chunk of rows: [begin, end). Q is the stored element type.
//
// A contiguous row is read in place, once: a float64 row is converted into a
// row-sized float32 buffer (or straight into the stored row at 32 bits) with
// its statistics in the same pass; then the buffer, in L1, is quantized with
// its rounding error in one more pass. Row i + 1 is read before row i is
// quantized (two buffers), so that the read's memory stalls and the
// quantization's arithmetic overlap, and rows of up to 64 KiB are
// prefetched ahead (read_ahead_rows). Other layouts are converted a block of
// rows at a time first (convert_block), in the loop order their strides ask.
template <class In, class Q>
DataStatus prepare_range(const KernelTable& t, const DataSource& src, const DataTarget& out, std::size_t begin,
                         std::size_t end, Xorshift128p4& rng, std::vector<float>& buf) {
  const std::size_t d = src.d;
  constexpr bool kFloat = std::is_same_v<Q, float>;
  constexpr float kQmax = static_cast<float>(Width<Q>::qmax);
  // The sums come with rounding to nearest (prepare_rows checks it);
  // lpcore.quantize, stochastic or not, asks for neither.
  const bool sums = out.sq_norm || out.sq_err;
  DataStatus status;
  const auto row_of = [&](std::size_t i) { return static_cast<Q*>(out.rows) + i * out.width; };

  // Everything after the read: the scale, the stored row and the per-row sums.
  const auto finish = [&](std::size_t i, const RowRead& r) {
    Q* row = row_of(i);
    if (out.sq_x) out.sq_x[i] = r.sq_x;
    if constexpr (kFloat) {
      if (d > 0 && r.x != reinterpret_cast<const float*>(row)) std::memcpy(row, r.x, d * sizeof(float));
      if (out.sq_norm) out.sq_norm[i] = r.sq_x;
    } else {
      float scale;
      if (out.given_scales) {
        scale = out.scale[i];
      } else {
        scale = row_scale(r.amax, kQmax);
        out.scale[i] = scale;
      }
      double err = 0, q2 = 0;
      if (sums)
        status.clipped += quantize_sqerr_row(t, r.x, d, scale, row, &err, &q2);
      else
        status.clipped += quantize_row(t, r.x, d, scale, out.rounding, rng, row);
      const double s = static_cast<double>(scale);
      if (out.sq_norm) out.sq_norm[i] = q2 * (s * s);
      if (out.sq_err) out.sq_err[i] = err;
    }
    std::fill(row + d, row + out.width, Q{0});
  };

  if (contiguous_rows<In>(src)) {
    if (!kFloat && std::is_same_v<In, double>) buf.resize(std::max(buf.size(), 2 * d));
    const std::size_t ahead = read_ahead_rows(d * sizeof(In));
    RowRead prev;
    for (std::size_t i = begin; i <= end; ++i) {
      RowRead cur;
      if (i < end && d > 0) {
        const char* p = src.base + static_cast<std::ptrdiff_t>(i) * src.row_stride;
        if (ahead > 0 && end - i > ahead)
          prefetch_bytes(p + static_cast<std::ptrdiff_t>(ahead) * src.row_stride, d * sizeof(In));
        if constexpr (std::is_same_v<In, double>) {
          float* f = kFloat ? reinterpret_cast<float*>(row_of(i)) : buf.data() + ((i - begin) & 1) * d;
          cur.amax = t.convert_stats_f64(reinterpret_cast<const double*>(p), d, f, &cur.sq_x);
          cur.x = f;
        } else {
          cur.x = reinterpret_cast<const float*>(p);
          cur.amax = t.row_stats_f32(cur.x, d, &cur.sq_x);
        }
        if (!std::isfinite(cur.amax)) return classify<In>(src, i);
      }
      if (i > begin) finish(i - 1, prev);
      prev = cur;
    }
    return status;
  }

  const std::size_t block = block_rows(d);
  buf.resize(std::max(buf.size(), std::min(block, end - begin) * d));
  for (std::size_t i0 = begin; i0 < end; i0 += block) {
    const std::size_t rows = std::min(block, end - i0);
    convert_block<In>(src, i0, rows, buf.data());
    for (std::size_t r = 0; r < rows; ++r) {
      RowRead cur;
      cur.x = buf.data() + r * d;
      cur.amax = t.row_stats_f32(cur.x, d, &cur.sq_x);
      if (!std::isfinite(cur.amax)) return classify<In>(src, i0 + r);
      finish(i0 + r, cur);
    }
  }
  return status;
}

// Rows per chunk of work: whole blocks of rows, and about a quarter of a
// thread's share of X, at most kChunkBytes: small enough that the threads end
// together, large enough that a chunk's start costs little (chunks of 2 MiB
// and of 32 MiB measured slower: docs/decisions.md, "The data path's fused
// passes").
constexpr std::size_t kChunkBytes = std::size_t{16} << 20;

std::size_t chunk_rows(const DataSource& src, std::size_t n_threads) {
  const std::size_t row_bytes = std::max<std::size_t>(1, src.d * (src.f64 ? sizeof(double) : sizeof(float)));
  const std::size_t block = block_rows(src.d);
  const std::size_t share = src.n / std::max<std::size_t>(1, 4 * n_threads);
  const std::size_t rows = std::min(kChunkBytes / row_bytes, share);
  return std::max<std::size_t>(1, rows / block) * block;
}

// The threads take chunks of rows in turn from a shared counter, so that a
// core that runs slower (on a shared host) takes fewer of them. A row's output
// does not depend on the thread that writes it.
template <class In, class Q>
DataStatus prepare_typed(const KernelTable& t, const DataSource& src, const DataTarget& out,
                         std::size_t n_threads) {
  // Stochastic rounding is one stream through the rows in order: one thread,
  // which takes the chunks in order.
  if (out.rounding == Rounding::stochastic) n_threads = 1;
  const std::size_t chunk = chunk_rows(src, n_threads), n_chunks = (src.n + chunk - 1) / chunk;
  n_threads = std::max<std::size_t>(1, std::min(n_threads, n_chunks));
  std::vector<DataStatus> status(n_chunks);
  std::atomic<std::size_t> next{0}, first_bad{n_chunks};
  // An exception (an allocation that fails) must not escape a thread, which
  // would terminate the process: each thread keeps its own, rethrown after
  // every thread has joined. A thread that cannot be started leaves the
  // chunks to the others (the calling thread works too).
  std::vector<std::exception_ptr> errors(n_threads);
  const auto work = [&](std::size_t k) {
    try {
      Xorshift128p4 rng(out.seed);
      std::vector<float> buf;
      for (std::size_t c; (c = next.fetch_add(1)) < n_chunks;) {
        if (c > first_bad.load()) continue;  // past a bad value: only earlier rows still matter
        const std::size_t begin = c * chunk, end = std::min(src.n, begin + chunk);
        status[c] = prepare_range<In, Q>(t, src, out, begin, end, rng, buf);
        if (status[c].problem != DataProblem::none) {
          std::size_t seen = first_bad.load();
          while (c < seen && !first_bad.compare_exchange_weak(seen, c)) {
          }
        }
      }
    } catch (...) {
      errors[k] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(n_threads - 1);  // before any thread runs: emplace_back then never reallocates
  for (std::size_t k = 1; k < n_threads; ++k) {
    try {
      threads.emplace_back(work, k);
    } catch (const std::system_error&) {
      break;
    }
  }
  work(0);
  for (auto& th : threads) th.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  DataStatus total;
  for (const DataStatus& s : status) {  // chunks in row order: the first problem is the first in X
    if (s.problem != DataProblem::none && total.problem == DataProblem::none) {
      total.problem = s.problem;
      total.row = s.row;
      total.col = s.col;
    }
    total.clipped += s.clipped;
  }
  return total;
}

template <class In>
DataStatus prepare_from(const KernelTable& t, const DataSource& src, const DataTarget& out, std::size_t n_threads) {
  switch (out.bits) {
    case 8:
      return prepare_typed<In, std::int8_t>(t, src, out, n_threads);
    case 16:
      return prepare_typed<In, std::int16_t>(t, src, out, n_threads);
    default:
      return prepare_typed<In, float>(t, src, out, n_threads);
  }
}

}  // namespace

DataStatus prepare_rows(const KernelTable& kernels, const DataSource& src, const DataTarget& out,
                        std::size_t n_threads) {
  if (out.rounding == Rounding::stochastic && out.bits != 32 && (out.sq_norm || out.sq_err))
    throw std::invalid_argument(
        "prepare_rows: sq_norm and sq_err come with rounding to nearest; stochastic rounding gives neither");
  if (src.n == 0) return {};
  return src.f64 ? prepare_from<double>(kernels, src, out, n_threads)
                 : prepare_from<float>(kernels, src, out, n_threads);
}

}  // namespace lpcore
