// The compiled core, lpcore._core: the backend choice, then one binding per
// layer (kernels, float formats, the data path, the solvers). The timing
// harness is a separate extension, lpcore._bench (cpp/bench/).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "lpcore/dispatch.hpp"
#include "python/common.hpp"

namespace py = pybind11;
using namespace lpcore;

PYBIND11_MODULE(_core, m) {
  m.doc() = "lpcore compiled core (private; use the lpcore package)";
  select_backend_from_env();

  m.def("backend", [] { return std::string(active_kernels().name); });
  m.def("supported_backends", [] {
    std::vector<std::string> out;
    for (Isa isa : supported_isas()) out.emplace_back(isa_name(isa));
    return out;
  });
  m.def("call_counts", [] {
    py::dict d;
    d["scalar"] = call_count(Isa::scalar);
    d["avx2"] = call_count(Isa::avx2);
    return d;
  });
  python::bind_kernels(m);
  python::bind_float_formats(m);
  python::bind_data(m);
  python::bind_solver(m);
}
