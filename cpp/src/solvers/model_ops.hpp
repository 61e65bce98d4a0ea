// ModelOps<T, X>: the primitive operations of a model of elements T (float,
// int8, int16) on data rows of elements X, mapped onto the kernel table. The
// training loop (lowprec_trainer.cpp) is written once over them:
//   dot(x_i, z_k)           the margin's model part (integer SIMD dot at 8/16 bits)
//   update(z_k, x_i, a, c)  z_k <- Q(z_k + a x_i + c)  (the fused stochastic-rounding update)
//   update_dot(..., x_j)    the update, then x_j . z_k for the next sample j, in one pass
//   shrink(z_k, k)          z_k <- Q(z_k - k z_k)      (the periodic L2 shrinkage)
// and, for a block of rows X_B of the full-gradient pass,
//   dot_rows(X_B, w)        X_B w in fp32, w the model (32 bits) or HALP's centre
//   accumulate(g, a, X_B)   g += sum_r a_r x_r, in row order (the full-gradient sum)
#pragma once

#include <cstddef>
#include <cstdint>

#include "lpcore/dither.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/solver.hpp"
#include "lpcore/width.hpp"

namespace lpcore {

// The integer update_dot kernels give their exact dot as an int64; the loop
// takes it as a double, like ModelOps::dot.
template <class Kernel, class T, class X, class Offset>
std::size_t update_dot_int(Kernel kernel, T* z, const X* x, float a, const Offset* c, std::size_t n,
                           Dither& dither, const X* x_next, double* dot) {
  std::int64_t d = 0;
  const std::size_t sat = kernel(z, x, a, c, n, dither, x_next, &d);
  *dot = static_cast<double>(d);
  return sat;
}

// The integer shrinkage z <- Q(z - k z) is the fused update with x = z and
// zero offsets. When its multiplier rounds to 0 (mostly, at 8 bits, for a
// small alpha: k below one Q8 unit) every coordinate on the grid
// [-qmax, qmax], where the solver keeps z, stays where it is, so the pass is
// skipped and only its draws are consumed: bit for bit the same stream and
// model. Returns whether z may have changed (false only for a skipped pass).
template <class Kernel, class T, class Offset>
bool shrink_int(Kernel update, T* z, double k, const Offset* zero, std::size_t n, Dither& dither, int frac) {
  const auto a = static_cast<float>(-k);
  if (dither.peek_multiplier(a, frac) == 0) {
    dither.skip_update(n);
    return false;
  }
  update(z, z, a, zero, n, dither);
  return true;
}

// The fused update's offset format of each integer model width, and the
// model's own update (the shrinkage's z <- Q(z - k z), whatever the data).
template <class T>
struct IntegerWidth;

template <>
struct IntegerWidth<std::int8_t> {
  using Offset = std::int16_t;  // Q8, packed layout
  static constexpr Offset kOffsetBias = 0;
  static constexpr int kFrac = UpdateFormat::kFracI8;
  static constexpr double kMaxOffset = UpdateFormat::kMaxOffsetI8;
  static constexpr auto kUpdate = &KernelTable::update_i8;
};

template <>
struct IntegerWidth<std::int16_t> {
  using Offset = std::int32_t;  // Q16 plus 2^15, packed layout
  static constexpr Offset kOffsetBias = UpdateFormat::kOffsetBiasI16;
  static constexpr int kFrac = UpdateFormat::kFracI16;
  static constexpr double kMaxOffset = static_cast<double>(UpdateFormat::kMaxOffsetI16);
  static constexpr auto kUpdate = &KernelTable::update_i16;
};

// The kernels of the data rows alone, by their element type X: the full
// pass's block dots against an fp32 vector and its gradient sum.
template <class X>
struct DataRows;

template <>
struct DataRows<std::int8_t> {
  static constexpr auto kDotRows = &KernelTable::dot_rows_i8_f32;
  static constexpr auto kAccumulate = &KernelTable::axpy_rows_i8_f32;
};

template <>
struct DataRows<std::int16_t> {
  static constexpr auto kDotRows = &KernelTable::dot_rows_i16_f32;
  static constexpr auto kAccumulate = &KernelTable::axpy_rows_i16_f32;
};

// The kernels that pair a data row of type X with an integer model of type
// T: the step's dot x . z, its fused update and the two in one pass. The
// pairs: D8M8, D16M16 and D8M16 (an 8-bit row against a 16-bit model).
template <class X, class T>
struct RowKernels;

template <>
struct RowKernels<std::int8_t, std::int8_t> {
  static constexpr auto kDot = &KernelTable::dot_i8;
  static constexpr auto kUpdate = &KernelTable::update_i8;
  static constexpr auto kUpdateDot = &KernelTable::update_dot_i8;
};

template <>
struct RowKernels<std::int16_t, std::int16_t> {
  static constexpr auto kDot = &KernelTable::dot_i16;
  static constexpr auto kUpdate = &KernelTable::update_i16;
  static constexpr auto kUpdateDot = &KernelTable::update_dot_i16;
};

template <>
struct RowKernels<std::int8_t, std::int16_t> {
  static constexpr auto kDot = &KernelTable::dot_i8_i16;
  static constexpr auto kUpdate = &KernelTable::update_i8_i16;
  static constexpr auto kUpdateDot = &KernelTable::update_dot_i8_i16;
};

// ModelOps of an integer model T on data rows X: one definition over the
// traits above.
template <class T, class X = T>
struct ModelOps {
  using W = IntegerWidth<T>;
  using R = RowKernels<X, T>;
  using Offset = typename W::Offset;
  static constexpr Offset kOffsetBias = W::kOffsetBias;
  static constexpr bool kLowPrecision = true;
  static constexpr double kQmax = Width<T>::qmax;
  static constexpr int kFrac = W::kFrac;
  static constexpr double kMaxOffset = W::kMaxOffset;
  static constexpr std::size_t kBlock = Width<T>::block;
  static const X* rows(const TrainData& d) { return static_cast<const X*>(d.rows); }
  static double dot(const KernelTable& t, const X* x, const T* z, std::size_t n) {
    return static_cast<double>((t.*R::kDot)(x, z, n));
  }
  static void dot_rows(const KernelTable& t, const X* x, std::size_t rows, const float* w, std::size_t n,
                       float* out) {
    (t.*DataRows<X>::kDotRows)(x, n, rows, w, n, out);
  }
  static std::size_t update(const KernelTable& t, T* z, const X* x, float a, const Offset* c, std::size_t n,
                            Dither& dither) {
    return (t.*R::kUpdate)(z, x, a, c, n, dither);
  }
  static std::size_t update_dot(const KernelTable& t, T* z, const X* x, float a, const Offset* c, std::size_t n,
                                Dither& dither, const X* x_next, double* dot) {
    return update_dot_int(t.*R::kUpdateDot, z, x, a, c, n, dither, x_next, dot);
  }
  static void accumulate(const KernelTable& t, float* g, const float* a, const X* x, std::size_t rows,
                         std::size_t n) {
    (t.*DataRows<X>::kAccumulate)(a, x, n, rows, g, n);
  }
  static bool shrink(const KernelTable& t, T* z, double k, const Offset* zero, std::size_t n, Dither& dither) {
    return shrink_int(t.*W::kUpdate, z, k, zero, n, dither, kFrac);
  }
};

template <>
struct ModelOps<float, float> {
  using Offset = float;
  static constexpr bool kLowPrecision = false;
  static constexpr double kQmax = 0;
  static const float* rows(const TrainData& d) { return static_cast<const float*>(d.rows); }
  static double dot(const KernelTable& t, const float* x, const float* z, std::size_t n) {
    return t.dot_f32(x, z, n);
  }
  static std::size_t update(const KernelTable& t, float* z, const float* x, float a, const float* c,
                            std::size_t n, Dither&) {
    if (c == nullptr)
      t.axpy_f32(a, x, z, n);
    else
      t.update_f32(z, x, a, c, n);
    return 0;
  }
  static std::size_t update_dot(const KernelTable& t, float* z, const float* x, float a, const float* c,
                                std::size_t n, Dither&, const float* x_next, double* dot) {
    *dot = t.update_dot_f32(z, x, a, c, n, x_next);
    return 0;
  }
  static void dot_rows(const KernelTable& t, const float* x, std::size_t rows, const float* w, std::size_t n,
                       float* out) {
    t.dot_rows_f32(x, n, rows, w, n, out);
  }
  static void accumulate(const KernelTable& t, float* g, const float* a, const float* x, std::size_t rows,
                         std::size_t n) {
    t.axpy_rows_f32(a, x, n, rows, g, n);
  }
  static bool shrink(const KernelTable& t, float* z, double k, const float*, std::size_t n, Dither&) {
    t.axpy_f32(static_cast<float>(-k), z, z, n);
    return true;
  }
};

}  // namespace lpcore
