// What every binding file shares: the array and backend types, and the
// kernel table a call runs on.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "lpcore/dispatch.hpp"
#include "lpcore/kernels.hpp"

namespace lpcore::python {

namespace py = pybind11;

template <class T>
using Array = py::array_t<T, py::array::c_style>;
using Backend = std::optional<std::string>;

// The kernel table of `backend` (None: the active one), counted per call.
inline const KernelTable& table(const Backend& backend) {
  const KernelTable& t = backend ? kernels_for(parse_isa(*backend)) : active_kernels();
  count_call(t.isa);
  return t;
}

// One binding per layer (module.cpp calls them in order).
void bind_data(py::module_& m);

}  // namespace lpcore::python
