// The scalar backend: the specification of every kernel (see kernels.hpp).
#include <cmath>
#include <cstring>

#include "kernels/float_format_spec.hpp"
#include "kernels/spec.hpp"
#include "lpcore/dither.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/width.hpp"
#include "lpcore/rng.hpp"

namespace lpcore::scalar {

std::int64_t dot_i8(const std::int8_t* a, const std::int8_t* b, std::size_t n) {
  std::int64_t s = 0;
  for (std::size_t i = 0; i < n; ++i) s += spec::dot_term_i8(a[i], b[i]);
  return s;
}

std::int64_t dot_i16(const std::int16_t* a, const std::int16_t* b, std::size_t n) {
  std::int64_t s = 0;
  std::size_t i = 0;
  for (; i + 2 <= n; i += 2) s += spec::dot_pair_i16(a[i], b[i], a[i + 1], b[i + 1]);
  if (i < n) s += std::int64_t{a[i]} * b[i];
  return s;
}

std::int64_t dot_i8_i16(const std::int8_t* x, const std::int16_t* z, std::size_t n) {
  return spec::dot_i8_i16(x, z, n);
}

float dot_f32(const float* a, const float* b, std::size_t n) { return spec::dot_f32(a, b, n); }
float dot_i8_f32(const std::int8_t* x, const float* w, std::size_t n) { return spec::dot_f32(x, w, n); }
float dot_i16_f32(const std::int16_t* x, const float* w, std::size_t n) { return spec::dot_f32(x, w, n); }

// The multi-row kernels are defined as their single-row kernel, row after row.
void dot_rows_f32(const float* x, std::size_t ld, std::size_t rows, const float* w, std::size_t n,
                  float* out) {
  for (std::size_t r = 0; r < rows; ++r) out[r] = dot_f32(x + r * ld, w, n);
}

void dot_rows_i8_f32(const std::int8_t* x, std::size_t ld, std::size_t rows, const float* w, std::size_t n,
                     float* out) {
  for (std::size_t r = 0; r < rows; ++r) out[r] = dot_i8_f32(x + r * ld, w, n);
}

void dot_rows_i16_f32(const std::int16_t* x, std::size_t ld, std::size_t rows, const float* w, std::size_t n,
                      float* out) {
  for (std::size_t r = 0; r < rows; ++r) out[r] = dot_i16_f32(x + r * ld, w, n);
}

void axpy_i8_f32(float a, const std::int8_t* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = spec::axpy_term(a, x[i], y[i]);
}

void axpy_i16_f32(float a, const std::int16_t* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = spec::axpy_term(a, x[i], y[i]);
}

void axpy_f32(float a, const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = spec::axpy_term(a, x[i], y[i]);
}

void axpy_rows_f32(const float* a, const float* x, std::size_t ld, std::size_t rows, float* y, std::size_t n) {
  for (std::size_t r = 0; r < rows; ++r) axpy_f32(a[r], x + r * ld, y, n);
}

void axpy_rows_i8_f32(const float* a, const std::int8_t* x, std::size_t ld, std::size_t rows, float* y,
                      std::size_t n) {
  for (std::size_t r = 0; r < rows; ++r) axpy_i8_f32(a[r], x + r * ld, y, n);
}

void axpy_rows_i16_f32(const float* a, const std::int16_t* x, std::size_t ld, std::size_t rows, float* y,
                       std::size_t n) {
  for (std::size_t r = 0; r < rows; ++r) axpy_i16_f32(a[r], x + r * ld, y, n);
}

void update_f32(float* w, const float* x, float a, const float* c, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) w[i] = std::fma(a, x[i], w[i] + c[i]);
}

std::int64_t draw_multiplier(Dither& dither, float a, int frac_bits) {
  return dither.draw_multiplier(a, frac_bits);
}

std::size_t update_i8(std::int8_t* z, const std::int8_t* x, float a, const std::int16_t* c,
                      std::size_t n, Dither& dither) {
  const std::int64_t A = dither.draw_multiplier(a, UpdateFormat::kFracI8);
  std::size_t sat = 0;
  spec::for_each_chunk(n, dither, [&](std::size_t c0, std::size_t m, std::size_t off) {
    sat += spec::update_chunk_i8(z, x, A, c, n, c0, 0, m, dither.table.data() + off);
  });
  return sat;
}

namespace {

// update_i16 / update_i8_i16: the int16 update on a row of type X.
template <class X>
std::size_t update_int16(std::int16_t* z, const X* x, float a, const std::int32_t* c, std::size_t n,
                         Dither& dither) {
  const std::int64_t A = dither.draw_multiplier(a, spec::frac_i16<X>());
  std::size_t sat = 0;
  spec::for_each_chunk(n, dither, [&](std::size_t c0, std::size_t m, std::size_t off) {
    sat += spec::update_chunk_i16(z, x, A, c, n, c0, 0, m, dither.table.data() + 2 * off);
  });
  return sat;
}

}  // namespace

std::size_t update_i16(std::int16_t* z, const std::int16_t* x, float a, const std::int32_t* c,
                       std::size_t n, Dither& dither) {
  return update_int16(z, x, a, c, n, dither);
}

std::size_t update_i8_i16(std::int16_t* z, const std::int8_t* x, float a, const std::int32_t* c,
                          std::size_t n, Dither& dither) {
  return update_int16(z, x, a, c, n, dither);
}

std::size_t update_dot_i8(std::int8_t* z, const std::int8_t* x, float a, const std::int16_t* c, std::size_t n,
                          Dither& dither, const std::int8_t* x_next, std::int64_t* dot) {
  const std::size_t sat = update_i8(z, x, a, c, n, dither);
  *dot = dot_i8(x_next, z, n);
  return sat;
}

std::size_t update_dot_i16(std::int16_t* z, const std::int16_t* x, float a, const std::int32_t* c, std::size_t n,
                           Dither& dither, const std::int16_t* x_next, std::int64_t* dot) {
  const std::size_t sat = update_i16(z, x, a, c, n, dither);
  *dot = dot_i16(x_next, z, n);
  return sat;
}

std::size_t update_dot_i8_i16(std::int16_t* z, const std::int8_t* x, float a, const std::int32_t* c,
                              std::size_t n, Dither& dither, const std::int8_t* x_next, std::int64_t* dot) {
  const std::size_t sat = update_i8_i16(z, x, a, c, n, dither);
  *dot = dot_i8_i16(x_next, z, n);
  return sat;
}

float update_dot_f32(float* w, const float* x, float a, const float* c, std::size_t n, const float* x_next) {
  if (c == nullptr)
    axpy_f32(a, x, w, n);
  else
    update_f32(w, x, a, c, n);
  return dot_f32(x_next, w, n);
}

void round_offsets_i8(const float* c, std::size_t n, Dither& dither, std::int16_t* q) {
  spec::for_each_chunk(n, dither, [&](std::size_t c0, std::size_t m, std::size_t off) {
    spec::round_offsets_chunk_i8(c + c0, 0, m, dither.table.data() + 2 * off, q + c0);
  });
}

std::size_t quantize_i8(const float* x, std::size_t n, float scale, Rounding rounding,
                        Xorshift128p4& rng, std::int8_t* q) {
  return spec::quantize_range(x, 0, n, scale, rounding, rng, q, float{Width<std::int8_t>::qmax});
}

std::size_t quantize_i16(const float* x, std::size_t n, float scale, Rounding rounding,
                         Xorshift128p4& rng, std::int16_t* q) {
  return spec::quantize_range(x, 0, n, scale, rounding, rng, q, float{Width<std::int16_t>::qmax});
}

void dequantize_i8(const std::int8_t* q, std::size_t n, float scale, float* x) {
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(q[i]) * scale;
}

void dequantize_i16(const std::int16_t* q, std::size_t n, float scale, float* x) {
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(q[i]) * scale;
}

float row_stats_f32(const float* x, std::size_t n, double* sumsq) {
  std::uint32_t m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, spec::abs_bits(x[i]));
  double lane[8] = {};
  spec::sumsq_lanes(x, 0, n, lane);
  *sumsq = spec::combine_lanes(lane);
  return spec::float_from_bits(m);
}

float convert_stats_f64(const double* x, std::size_t n, float* out, double* sumsq) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(x[i]);
  return row_stats_f32(out, n, sumsq);
}

namespace {

// quantize_* (nearest), then the squared rounding error of the stored row in
// the data path's lanes, and sum q^2.
template <class Q>
std::size_t quantize_sqerr(const float* x, std::size_t n, float scale, Q* q, double* sq_err, double* sum_q2) {
  Xorshift128p4 unused(0);  // nearest rounding draws nothing
  const std::size_t clipped =
      spec::quantize_range(x, 0, n, scale, Rounding::nearest, unused, q, static_cast<float>(Width<Q>::qmax));
  double lane[8] = {};
  *sum_q2 = 0;
  spec::sqerr_lanes(x, q, scale, 0, n, lane, *sum_q2);
  *sq_err = spec::combine_lanes(lane);
  return clipped;
}

}  // namespace

std::size_t quantize_sqerr_i8(const float* x, std::size_t n, float scale, std::int8_t* q, double* sq_err,
                              double* sum_q2) {
  return quantize_sqerr(x, n, scale, q, sq_err, sum_q2);
}

std::size_t quantize_sqerr_i16(const float* x, std::size_t n, float scale, std::int16_t* q, double* sq_err,
                               double* sum_q2) {
  return quantize_sqerr(x, n, scale, q, sq_err, sum_q2);
}

std::uint64_t stream_sum(const std::uint8_t* p, std::size_t n) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

void fill_random(Xorshift128p4& rng, std::uint8_t* out, std::size_t n_blocks) {
  std::uint64_t block[4];
  for (std::size_t b = 0; b < n_blocks; ++b) {
    rng.next_block(block);
    std::memcpy(out + 32 * b, block, 32);
  }
}

// quantize_float: the float-format specification itself (float_format_spec.hpp).
std::size_t quantize_float(const float* x, std::size_t n, FloatFormat format, FloatRounding rounding,
                           Overflow overflow, Xorshift128p4& rng, float* out) {
  return spec::quantize_float_range(x, 0, n, format, rounding, overflow, rng, out);
}

}  // namespace lpcore::scalar
