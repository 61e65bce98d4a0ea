// The widths lpcore trains at: each element type's grid and vector block.
//
// Width<T>::qmax is the end of the symmetric grid [-qmax, qmax] (the codes
// -128 and -32768 are never used: that keeps the SIMD dot products exact,
// kernels.hpp); Width<T>::block is the number of columns in one vector block
// of the solvers, to which the data path pads every row (a row of whole
// blocks never runs a kernel's scalar tail), and the block of the packed
// offset layout at 8 and 16 bits; Width<T>::element is T, the element type
// of the rows and the model. Python reads these through _core (GRID_MAX,
// BLOCK_COLUMNS, ROW_DTYPES; lpcore/_constants.py) and never restates them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lpcore/kernels.hpp"

namespace lpcore {

template <class T>
struct Width;

template <>
struct Width<std::int8_t> {
  using element = std::int8_t;
  static constexpr int bits = 8;
  static constexpr int qmax = 127;
  static constexpr std::size_t block = kPackBlockI8;  // 32 int8 in a 256-bit register
};

template <>
struct Width<std::int16_t> {
  using element = std::int16_t;
  static constexpr int bits = 16;
  static constexpr int qmax = 32767;
  static constexpr std::size_t block = kPackBlockI16;  // 16 int16
};

template <>
struct Width<float> {
  using element = float;
  static constexpr int bits = 32;
  static constexpr int qmax = 0;  // no grid
  static constexpr std::size_t block = 8;  // 8 float32
};

}  // namespace lpcore
