// Ctrl-C in the long C++ loops (lpcore/interrupt.hpp), shared by both
// extensions: _core's fits and _bench's timing loops.
#include <pybind11/pybind11.h>

#include <exception>

#include "lpcore/interrupt.hpp"
#include "python/common.hpp"

namespace lpcore::python {

InterruptCheck python_interrupt_check() {
  const auto main_ident = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  if (PyThread_get_thread_ident() != main_ident) return {};
  return [] {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  };
}

void register_interrupt_translator() {
  // A loop stopped by python_interrupt_check raises the exception the signal
  // handler set (KeyboardInterrupt for Ctrl-C).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Interrupted&) {
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });
}

}  // namespace lpcore::python
