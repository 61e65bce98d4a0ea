// Bindings of the float-format layer (lpcore/float_format.hpp): rounding onto
// a format's grid, and the table of formats that lpcore/float_formats.py reads.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "lpcore/float_format.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/rng.hpp"
#include "python/common.hpp"

namespace lpcore::python {
namespace {

py::tuple quantize_float_binding(const Array<float>& x, int format, int rounding, int overflow, std::uint64_t seed,
                                 const Backend& backend) {
  const auto fmt = enum_from<FloatFormat>(format, kFloatFormatCount, "float format");
  const auto mode = enum_from<FloatRounding>(rounding, 3, "float rounding");
  const auto ovf = enum_from<Overflow>(overflow, 2, "overflow policy");
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  Array<float> out(shape);
  const auto& t = table(backend);
  float* op = out.mutable_data();
  std::size_t overflowed;
  {
    py::gil_scoped_release nogil;
    Xorshift128p4 rng(seed);
    overflowed = t.quantize_float(x.data(), static_cast<std::size_t>(x.size()), fmt, mode, ovf, rng, op);
  }
  return py::make_tuple(out, overflowed);
}

}  // namespace

void bind_float_formats(py::module_& m) {
  const auto be = py::arg("backend") = py::none();
  m.def("quantize_float", &quantize_float_binding, py::arg("x").noconvert(), py::arg("format"), py::arg("rounding"),
        py::arg("overflow"), py::arg("seed"), be);
  m.def("float_formats", [] {
    py::list out;
    for (const FloatFormatSpec& f : kFloatFormats) {
      py::dict d;
      d["name"] = f.name;
      d["exponent_bits"] = f.exponent_bits;
      d["mantissa_bits"] = f.mantissa_bits;
      d["bias"] = f.bias;
      d["max_bits"] = f.max_bits;
      d["has_inf"] = f.has_inf;
      d["has_nan"] = f.has_nan;
      out.append(d);
    }
    return out;
  });
}

}  // namespace lpcore::python
