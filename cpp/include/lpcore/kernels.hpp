// lpcore kernels: the plain C++ API of the compute core.
//
// Every kernel exists twice, with the same signature and the same result bit
// for bit: lpcore::scalar::NAME is the specification, lpcore::avx2::NAME the
// AVX2 + FMA implementation. Callers reach them through a KernelTable
// (dispatch.hpp), never directly.
//
// Grids. Low-precision values live on the symmetric grid [-(2^(b-1)-1), 2^(b-1)-1]:
// [-127, 127] for int8 and [-32767, 32767] for int16. The extra codes -128 and
// -32768 are never produced; they are what keeps the maddubs / madd based dot
// products exact (see dot_i8, dot_i16).
//
// Packed offsets. The fused updates read their per-coordinate offset c in a
// blocked layout, the order in which the AVX2 kernels produce the coordinates'
// sums: in every full block of 32 int8 coordinates the even coordinates come
// first, then the odd ones (vpmaddubsw pairs); in every full block of 16 int16
// coordinates the order is 0-3, 8-11, 4-7, 12-15 (vpunpck{l,h}wd halves). A
// final partial block is kept in natural order. pack_offsets() in this header
// produces the layout; the int16 offsets also carry a bias of 2^15
// (UpdateFormat::kOffsetBiasI16), which their producers add after packing:
// the solver's offset rounding and the Python binding _core.pack_offsets_i16.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lpcore {

struct Dither;
struct Xorshift128p4;
enum class FloatFormat : int;    // float_format.hpp
enum class FloatRounding : int;
enum class Overflow : int;

enum class Isa : int { scalar = 0, avx2 = 1 };
enum class Rounding : int { nearest = 0, stochastic = 1 };

// Block sizes of the packed offset layout.
constexpr std::size_t kPackBlockI8 = 32;
constexpr std::size_t kPackBlockI16 = 16;

// Position of coordinate j of a full block in the packed layout (see above).
inline std::size_t packed_position(std::size_t j, std::size_t block) {
  if (block == kPackBlockI16) return (j & 3) | ((j & 4) << 1) | ((j & 8) >> 1);  // swap bits 2 and 3
  return (j & 1) * (block / 2) + j / 2;
}

// Index of coordinate i's offset in the packed layout.
inline std::size_t packed_index(std::size_t i, std::size_t n, std::size_t block) {
  const std::size_t full = n - n % block;
  if (i >= full) return i;
  return i - i % block + packed_position(i % block, block);
}

// Natural order -> packed order (block kPackBlockI8 or kPackBlockI16), without
// the int16 bias. `out` must not alias `in`.
template <class T>
void pack_offsets(const T* in, T* out, std::size_t n, std::size_t block) {
  for (std::size_t i = 0; i < n; ++i) out[packed_index(i, n, block)] = in[i];
}

// THE kernel list: X(return type, name, (parameters)) once per kernel. It
// generates the declarations in each backend's namespace, the fields of
// KernelTable and both backends' tables (dispatch.cpp), so a kernel is added
// here and in its two implementations, and nowhere else in the core.
#define LPCORE_KERNELS(X) \
  /* sum_i a_i * b_i, exact in int64 for any length when no b_i is -128. */                                 \
  X(std::int64_t, dot_i8, (const std::int8_t* a, const std::int8_t* b, std::size_t n))                      \
  /* sum_i a_i * b_i, exact in int64 for any length unless two adjacent pairs are both                      \
     (-32768, -32768) (then that pair's 2^31 wraps, as vpmaddwd does). */                                   \
  X(std::int64_t, dot_i16, (const std::int16_t* a, const std::int16_t* b, std::size_t n))                   \
  /* sum_i x_i * z_i of an int8 data row and an int16 model, exact in int64 for any length. */              \
  X(std::int64_t, dot_i8_i16, (const std::int8_t* x, const std::int16_t* z, std::size_t n))                 \
  /* fp32 dot with 32 FMA partial sums (the order is part of the specification). */                         \
  X(float, dot_f32, (const float* a, const float* b, std::size_t n))                                        \
  /* The same dot with integer x converted to float: x_i . w for a low-precision data row. */               \
  X(float, dot_i8_f32, (const std::int8_t* x, const float* w, std::size_t n))                               \
  X(float, dot_i16_f32, (const std::int16_t* x, const float* w, std::size_t n))                             \
  /* out[r] = dot_*_f32(x + r * ld, w, n) for r < rows, bit for bit: one pass over w for a block            \
     of rows (the full-gradient pass). ld >= n is the row stride, in elements. */                           \
  X(void, dot_rows_f32, (const float* x, std::size_t ld, std::size_t rows, const float* w, std::size_t n,   \
                         float* out))                                                                       \
  X(void, dot_rows_i8_f32, (const std::int8_t* x, std::size_t ld, std::size_t rows, const float* w,         \
                            std::size_t n, float* out))                                                     \
  X(void, dot_rows_i16_f32, (const std::int16_t* x, std::size_t ld, std::size_t rows, const float* w,       \
                             std::size_t n, float* out))                                                    \
  /* y <- fma(a, x, y) */                                                                                   \
  X(void, axpy_f32, (float a, const float* x, float* y, std::size_t n))                                     \
  /* y <- fma(a, float(x), y): full-gradient sums over integer rows */                                      \
  X(void, axpy_i8_f32, (float a, const std::int8_t* x, float* y, std::size_t n))                            \
  X(void, axpy_i16_f32, (float a, const std::int16_t* x, float* y, std::size_t n))                          \
  /* axpy_*_f32(a[r], x + r * ld, y, n) for r = 0, 1, ..., rows - 1 in that order, bit for bit:             \
     one pass over y for a block of rows. ld >= n is the row stride, in elements; y must not                \
     overlap x. */                                                                                          \
  X(void, axpy_rows_f32, (const float* a, const float* x, std::size_t ld, std::size_t rows, float* y,       \
                          std::size_t n))                                                                   \
  X(void, axpy_rows_i8_f32, (const float* a, const std::int8_t* x, std::size_t ld, std::size_t rows,        \
                             float* y, std::size_t n))                                                      \
  X(void, axpy_rows_i16_f32, (const float* a, const std::int16_t* x, std::size_t ld, std::size_t rows,      \
                              float* y, std::size_t n))                                                     \
  /* w <- fma(a, x, w + c): the fp32 SGD / SVRG inner update */                                             \
  X(void, update_f32, (float* w, const float* x, float a, const float* c, std::size_t n))                   \
  /* The fused updates' multiplier: Dither::draw_multiplier (the specification), one draw. */               \
  X(std::int64_t, draw_multiplier, (Dither& dither, float a, int frac_bits))                                \
  /* z <- clamp127(floor(z + (A*x + c + r) / 256)), A = stochastic round of a*256, r the dither:            \
     the stochastic-rounding update of HALP / LP-SVRG. c is Q8 in packed layout.                            \
     Returns the number of saturated coordinates. */                                                        \
  X(std::size_t, update_i8, (std::int8_t* z, const std::int8_t* x, float a, const std::int16_t* c,          \
                             std::size_t n, Dither& dither))                                                \
  /* The same on the int16 grid: z <- clamp32767(floor(z + (A*x + c + s) / 2^16)), A = stochastic           \
     round of a*2^16, s the signed dither word, c the Q16 offset plus 2^15 in packed layout. */             \
  X(std::size_t, update_i16, (std::int16_t* z, const std::int16_t* x, float a, const std::int32_t* c,       \
                              std::size_t n, Dither& dither))                                               \
  /* update_i16 for an int8 row against an int16 model (D8M16): update_i16 on the row 256 x                 \
     with A = stochastic round of a*2^8 (UpdateFormat::kFracI8I16), so A * 256 x is a x in Q16. */          \
  X(std::size_t, update_i8_i16, (std::int16_t* z, const std::int8_t* x, float a, const std::int32_t* c,     \
                                 std::size_t n, Dither& dither))                                            \
  /* The solver's fused step: the update, then the next sample's dot with the new model, in one             \
     pass over the model. Equal to update_*(z, x, a, c, n, dither) followed by                              \
     *dot = dot_*(x_next, z, n); update_dot_f32 is update_f32 (axpy_f32 when c is null)                     \
     followed by dot_f32(x_next, w, n), returned. */                                                        \
  X(std::size_t, update_dot_i8, (std::int8_t* z, const std::int8_t* x, float a, const std::int16_t* c,      \
                                 std::size_t n, Dither& dither, const std::int8_t* x_next,                  \
                                 std::int64_t* dot))                                                        \
  X(std::size_t, update_dot_i16, (std::int16_t* z, const std::int16_t* x, float a, const std::int32_t* c,   \
                                  std::size_t n, Dither& dither, const std::int16_t* x_next,                \
                                  std::int64_t* dot))                                                       \
  X(std::size_t, update_dot_i8_i16, (std::int16_t* z, const std::int8_t* x, float a, const std::int32_t* c, \
                                     std::size_t n, Dither& dither, const std::int8_t* x_next,              \
                                     std::int64_t* dot))                                                    \
  X(float, update_dot_f32, (float* w, const float* x, float a, const float* c, std::size_t n,               \
                            const float* x_next))                                                           \
  /* The int8 solvers' offsets c (grid units) re-rounded to Q8 with a 16-bit dither, exactly in             \
     integer arithmetic: q = (floor(y) + r) >> 16, y = c * 2^24 clamped to +-16383 * 2^16 (NaN ->           \
     the lower end), r = 16-bit dither table value offset + k for coordinate k of a chunk (one              \
     offset draw per chunk). Unbiased to 2^-16 of a Q8 unit; |q| <= 16383. */                               \
  X(void, round_offsets_i8, (const float* c, std::size_t n, Dither& dither, std::int16_t* q))               \
  /* q = clamp(round(x / scale)); returns how many values were clipped to the grid. */                      \
  X(std::size_t, quantize_i8, (const float* x, std::size_t n, float scale, Rounding rounding,               \
                               Xorshift128p4& rng, std::int8_t* q))                                         \
  X(std::size_t, quantize_i16, (const float* x, std::size_t n, float scale, Rounding rounding,              \
                                Xorshift128p4& rng, std::int16_t* q))                                       \
  X(void, dequantize_i8, (const std::int8_t* q, std::size_t n, float scale, float* x))                      \
  X(void, dequantize_i16, (const std::int16_t* q, std::size_t n, float scale, float* x))                    \
  /* The data path (lpcore/data.hpp). A row's statistics in one pass: returns max |x_i|, compared          \
     by bit pattern (not finite exactly when some x_i is not; 0 for n = 0), and *sumsq = sum_i x_i^2        \
     in double, over 8 lanes in a fixed order (kernels/spec.hpp, sumsq_lanes). */                           \
  X(float, row_stats_f32, (const float* x, std::size_t n, double* sumsq))                                   \
  /* out = float(x) (rounded to nearest), and returns row_stats_f32(out, n, sumsq): reading x once. */      \
  X(float, convert_stats_f64, (const double* x, std::size_t n, float* out, double* sumsq))                  \
  /* q = quantize_*(x, n, scale, nearest), returning the clipped count; *sq_err = sum_i (x_i - q_i *        \
     scale)^2 in double over the same lanes (kernels/spec.hpp, sqerr_lanes), a row's squared rounding       \
     error, and *sum_q2 = sum_i q_i^2 (an integer, exact in double up to 2^53): reading x once. */          \
  X(std::size_t, quantize_sqerr_i8, (const float* x, std::size_t n, float scale, std::int8_t* q,            \
                                     double* sq_err, double* sum_q2))                                       \
  X(std::size_t, quantize_sqerr_i16, (const float* x, std::size_t n, float scale, std::int16_t* q,          \
                                      double* sq_err, double* sum_q2))                                      \
  /* out = x rounded onto a float format's grid (float_format.hpp); returns how many values                 \
     overflowed. Stochastic rounding draws one 32-byte block per group of 8 values. */                      \
  X(std::size_t, quantize_float, (const float* x, std::size_t n, FloatFormat format,                        \
                                  FloatRounding rounding, Overflow overflow, Xorshift128p4& rng,            \
                                  float* out))                                                              \
  /* Sum of all bytes: a pure streaming read, used to measure memory bandwidth. */                          \
  X(std::uint64_t, stream_sum, (const std::uint8_t* p, std::size_t n))                                      \
  /* Fill 32 * n_blocks bytes from the four-lane xorshift128+ stream. */                                    \
  X(void, fill_random, (Xorshift128p4& rng, std::uint8_t* out, std::size_t n_blocks))

#define LPCORE_DECLARE_KERNEL(ret, name, params) ret name params;

namespace scalar {
LPCORE_KERNELS(LPCORE_DECLARE_KERNEL)
}
namespace avx2 {
LPCORE_KERNELS(LPCORE_DECLARE_KERNEL)
}

// One backend's kernels, one pointer per entry of LPCORE_KERNELS.
#define LPCORE_KERNEL_FIELD(ret, name, params) ret(*name) params;
struct KernelTable {
  Isa isa;
  const char* name;
  LPCORE_KERNELS(LPCORE_KERNEL_FIELD)
};

}  // namespace lpcore
