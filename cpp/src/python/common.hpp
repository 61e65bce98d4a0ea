// What every binding file shares: the array and backend types, and the
// kernel table a call runs on.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "lpcore/dispatch.hpp"
#include "lpcore/interrupt.hpp"
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

inline void same_length(py::ssize_t a, py::ssize_t b, const char* what) {
  if (a != b)
    throw std::invalid_argument(std::string(what) + ": lengths differ (" + std::to_string(a) + " and " +
                                std::to_string(b) + ")");
}

// A shape as NumPy prints it: (3,) or (3, 4).
inline std::string shape_of(const py::array& a) {
  std::string out = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) out += (k ? ", " : "") + std::to_string(a.shape(k));
  return out + (a.ndim() == 1 ? ",)" : ")");
}

// Whether `dt` is T in native byte order (dtype objects of equal type need not
// be the same object, as for a np.memmap's).
template <class T>
bool holds(const py::dtype& dt) {
  const char order = dt.byteorder();
  const char native = py::dtype::of<T>().byteorder();
  return dt.num() == py::dtype::of<T>().num() && (order == '=' || order == '|' || order == native);
}

// One binding per layer (module.cpp calls them in order).
void bind_kernels(py::module_& m);
void bind_float_formats(py::module_& m);
void bind_data(py::module_& m);
void bind_solver(py::module_& m);

// Ctrl-C in a long C++ loop (lpcore/interrupt.hpp). Called with the GIL
// held, before the loop: on Python's main thread, the only one that runs
// signal handlers, a check that takes the GIL back and runs them (true when
// one raised, KeyboardInterrupt for Ctrl-C, which stays set for the
// translator below); on any other thread no check, so a fit run in a thread
// pool never waits for the GIL to poll.
InterruptCheck python_interrupt_check();
// Translates Interrupted into the exception the signal handler set.
void register_interrupt_translator();

// An enum from its integer code, range-checked: the codes index tables.
template <class Enum>
Enum enum_from(int value, int count, const char* what) {
  if (value < 0 || value >= count)
    throw std::invalid_argument(std::string(what) + " code " + std::to_string(value) + " is out of range");
  return static_cast<Enum>(value);
}

}  // namespace lpcore::python
