// The timing harness as its own extension, lpcore._bench, for benchmarks/
// and its smoke tests: it never ships inside the user's lpcore._core. It
// compiles the kernel layer again and chooses its backend the same way
// (LPCORE_FORCE_ISA), so `backend=None` means the backend _core would use.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bench.hpp"
#include "lpcore/dispatch.hpp"
#include "python/common.hpp"

namespace py = pybind11;
using namespace lpcore;
using python::Backend;
using python::table;

PYBIND11_MODULE(_bench, m) {
  m.doc() = "lpcore timing harness (private; used by benchmarks/)";
  select_backend_from_env();
  python::register_interrupt_translator();
  const auto be = py::arg("backend") = py::none();

  m.def("time_kernel", [](const std::string& kernel, std::size_t n, std::size_t reps, std::size_t inner,
                          const Backend& backend) {
        const auto& t = table(backend);
        const InterruptCheck interrupt = python::python_interrupt_check();
        py::gil_scoped_release nogil;
        return time_kernel(t, kernel, n, reps, inner, interrupt);
      }, py::arg("kernel"), py::arg("n"), py::arg("reps"), py::arg("inner"), be);
  m.def("kernel_bytes", &kernel_bytes, py::arg("kernel"), py::arg("n"));
  m.def("time_gather", [](std::size_t n_rows, std::size_t row_bytes, std::size_t rows, std::size_t lookahead,
                          std::size_t reps, const Backend& backend) {
        const auto& t = table(backend);
        const InterruptCheck interrupt = python::python_interrupt_check();
        py::gil_scoped_release nogil;
        return time_gather(t, n_rows, row_bytes, rows, lookahead, reps, interrupt);
      }, py::arg("n_rows"), py::arg("row_bytes"), py::arg("rows"), py::arg("lookahead"), py::arg("reps"), be);
}
