// The data path: the one conversion of a user's X into solver input.
//
// X arrives as the user holds it: float64 or float32, C- or F-ordered or any
// strided view (a np.memmap too). prepare_rows reads it once, a block of rows
// at a time, and writes, per row i:
//
//   rows      x_i at the model's width: int8 / int16 rounded to nearest on the
//             symmetric grid with the row's scale, or float32; then zeros up
//             to the padded width. (A float64 -> float32 conversion rounds to
//             nearest, as NumPy's astype does.)
//   scale     max_j |x_ij| / qmax in float32 (1 for an all-zero row), unless
//             the caller gives the scales (int8 / int16 only)
//   sq_norm   ||x^_i||^2 of the stored row: scale^2 * sum_j q_ij^2, or
//             sum_j x_ij^2 at float32 (the step-size rule's row norms)
//   sq_x      sum_j x_ij^2 of the float32 row, and
//   sq_err    sum_j (x_ij - scale * q_ij)^2: the data rounding error's parts
//
// with the sums of squares in the fixed lane order of kernels/spec.hpp, so the
// result is the same on every backend and for every thread count. No
// temporary as large as X is made. The threads take chunks of rows (at most
// 16 MiB of X each) in turn from a shared counter. A row that lies contiguous
// in X is read in place by two fused kernels: convert_stats_f64 (float32 copy
// into a row-sized buffer, max |x| and sum x^2, in one read of the float64
// row), then quantize_sqerr_* on that buffer (grid values, rounding error and
// sum q^2 in one pass). Any other layout is first converted a block of rows
// at a time into a buffer of at most a few hundred KiB (16 rows at least, so
// that an F-ordered X is read a cache line per column), whose rows then take
// row_stats_f32 and quantize_sqerr_*.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lpcore/kernels.hpp"

namespace lpcore {

struct DataSource {
  const char* base = nullptr;  // element (0, 0)
  std::size_t n = 0, d = 0;
  std::ptrdiff_t row_stride = 0, col_stride = 0;  // in bytes, any sign
  bool f64 = true;                                // else float32
};

struct DataTarget {
  int bits = 8;                 // 8, 16 or 32
  void* rows = nullptr;         // n x width, row-major, of int8 / int16 / float
  std::size_t width = 0;        // >= d; columns d..width-1 are written as zeros
  float* scale = nullptr;       // n: written, or read when given_scales (8 / 16 bits)
  bool given_scales = false;
  Rounding rounding = Rounding::nearest;
  std::uint64_t seed = 0;       // stochastic rounding: one stream over the rows in order
  double* sq_norm = nullptr;    // n, may be null (at 8 / 16 bits, only with rounding to nearest)
  double* sq_x = nullptr;       // n, may be null
  double* sq_err = nullptr;     // n, may be null (bits 8 / 16, rounding to nearest)
};

enum class DataProblem : int { none = 0, not_finite = 1, beyond_float32 = 2 };

struct DataStatus {
  DataProblem problem = DataProblem::none;
  std::size_t row = 0, col = 0;  // the first bad element, in row order
  std::size_t clipped = 0;       // values clipped to the grid (given scales only)
};

// Fills `out` from `src` with n_threads threads (>= 1). Stochastic rounding
// draws one stream through the rows in order, so it runs on one thread, and
// gives no sq_norm or sq_err (std::invalid_argument if asked for).
// Stops at nothing: a bad value is reported, and the caller discards the output.
DataStatus prepare_rows(const KernelTable& kernels, const DataSource& src, const DataTarget& out,
                        std::size_t n_threads);

}  // namespace lpcore
