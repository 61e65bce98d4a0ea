// Binding of the data path (lpcore/data.hpp): lpcore/_data.py allocates the
// outputs and calls _core.prepare_rows. Every shape, dtype and length is
// checked here, so no call can make the data path read or write out of bounds.
#include <stdexcept>
#include <string>

#include "lpcore/data.hpp"
#include "lpcore/width.hpp"
#include "python/common.hpp"

namespace lpcore::python {
namespace {

// A writable 1-D array of n elements of T, or null for None.
template <class T>
T* per_row(std::optional<py::array> a, py::ssize_t n, const char* name) {
  if (!a) return nullptr;
  if (!holds<T>(a->dtype()) || a->ndim() != 1 || a->shape(0) != n ||
      !(a->flags() & py::array::c_style) || !a->writeable())
    throw std::invalid_argument(std::string("prepare_rows: ") + name + " must be a writable contiguous " +
                                py::str(py::dtype::of<T>()).cast<std::string>() + " array of shape (" +
                                std::to_string(n) + ",), got " + py::str(a->dtype()).cast<std::string>() +
                                " of shape " + shape_of(*a));
  return static_cast<T*>(a->mutable_data());
}

py::tuple prepare_rows_binding(const py::array& X, int bits, py::array& out, const std::optional<py::array>& scale,
                               bool given_scales, bool stochastic, std::uint64_t seed,
                               const std::optional<py::array>& sq_norm, const std::optional<py::array>& sq_x,
                               const std::optional<py::array>& sq_err, std::size_t n_threads,
                               const Backend& backend) {
  if (X.ndim() != 2) throw std::invalid_argument("prepare_rows: X must be 2-D, got shape " + shape_of(X));
  DataSource src;
  if (holds<double>(X.dtype()))
    src.f64 = true;
  else if (holds<float>(X.dtype()))
    src.f64 = false;
  else
    throw std::invalid_argument("prepare_rows: X must be float32 or float64 in native byte order, got " +
                                py::str(X.dtype()).cast<std::string>());
  src.base = static_cast<const char*>(X.data());
  src.n = static_cast<std::size_t>(X.shape(0));
  src.d = static_cast<std::size_t>(X.shape(1));
  src.row_stride = X.strides(0);
  src.col_stride = X.strides(1);

  DataTarget dst;
  dst.bits = bits;
  py::dtype want;
  bool matches = false;
  if (bits == 8) {
    want = py::dtype::of<std::int8_t>();
    matches = holds<std::int8_t>(out.dtype());
  } else if (bits == 16) {
    want = py::dtype::of<std::int16_t>();
    matches = holds<std::int16_t>(out.dtype());
  } else if (bits == 32) {
    want = py::dtype::of<float>();
    matches = holds<float>(out.dtype());
  } else {
    throw std::invalid_argument("prepare_rows: bits must be 8, 16 or 32, got " + std::to_string(bits));
  }
  if (!matches || out.ndim() != 2 || out.shape(0) != X.shape(0) || out.shape(1) < X.shape(1) ||
      !(out.flags() & py::array::c_style) || !out.writeable())
    throw std::invalid_argument("prepare_rows: out must be a writable C-contiguous " +
                                py::str(want).cast<std::string>() + " array of " + std::to_string(X.shape(0)) +
                                " rows and at least " + std::to_string(X.shape(1)) + " columns, got " +
                                py::str(out.dtype()).cast<std::string>() + " of shape " + shape_of(out));
  if (n_threads < 1 || n_threads > 1024)
    throw std::invalid_argument("prepare_rows: n_threads must be in [1, 1024], got " + std::to_string(n_threads));
  dst.rows = out.mutable_data();
  dst.width = static_cast<std::size_t>(out.shape(1));
  const py::ssize_t n = X.shape(0);
  if (bits != 32) {
    if (!scale) throw std::invalid_argument("prepare_rows: 8- and 16-bit rows need a scale array");
    dst.scale = per_row<float>(scale, n, "scale");
  }
  dst.given_scales = given_scales && bits != 32;
  dst.rounding = stochastic ? Rounding::stochastic : Rounding::nearest;
  dst.seed = seed;
  dst.sq_norm = per_row<double>(sq_norm, n, "sq_norm");
  dst.sq_x = per_row<double>(sq_x, n, "sq_x");
  dst.sq_err = bits != 32 ? per_row<double>(sq_err, n, "sq_err") : nullptr;
  const KernelTable& t = table(backend);
  DataStatus status;
  {
    py::gil_scoped_release nogil;
    status = prepare_rows(t, src, dst, n_threads);
  }
  return py::make_tuple(static_cast<int>(status.problem), status.row, status.col, status.clipped);
}

}  // namespace

// {bits: value} for 8, 16 and 32 bits.
template <class Field>
py::dict per_width(Field field) {
  py::dict out;
  out[py::int_(8)] = field(Width<std::int8_t>{});
  out[py::int_(16)] = field(Width<std::int16_t>{});
  out[py::int_(32)] = field(Width<float>{});
  return out;
}

void bind_data(py::module_& m) {
  // The grids and vector blocks (lpcore/width.hpp): Python reads them here.
  py::dict grid = per_width([](auto w) { return decltype(w)::qmax; });
  grid.attr("pop")(py::int_(32));
  m.attr("GRID_MAX") = grid;
  m.attr("BLOCK_COLUMNS") = per_width([](auto w) { return decltype(w)::block; });
  m.attr("ROW_DTYPES") = per_width([](auto w) { return py::dtype::of<typename decltype(w)::element>(); });
  m.def("prepare_rows", &prepare_rows_binding, py::arg("X"), py::arg("bits"), py::arg("out"),
        py::arg("scale") = py::none(), py::arg("given_scales") = false, py::arg("stochastic") = false,
        py::arg("seed") = 0, py::arg("sq_norm") = py::none(), py::arg("sq_x") = py::none(),
        py::arg("sq_err") = py::none(), py::arg("n_threads") = 1, py::arg("backend") = py::none());
}

}  // namespace lpcore::python
