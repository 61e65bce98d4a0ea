// Python bindings of the core: arrays in, arrays out, the GIL released while
// C++ computes. Every length is checked here, so no Python call can make a
// kernel read or write out of bounds. Value checks (grids, finiteness) live in
// the Python layer, lpcore/kernels.py and lpcore/quantize.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lpcore/bench.hpp"
#include "lpcore/dispatch.hpp"
#include "lpcore/dither.hpp"
#include "lpcore/float_format.hpp"
#include "lpcore/float_grad_sgd.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/rng.hpp"
#include "lpcore/solver.hpp"
#include "python/common.hpp"

namespace py = pybind11;
using namespace lpcore;

namespace {

using python::Array;
using python::Backend;
using python::table;

void same_length(py::ssize_t a, py::ssize_t b, const char* what) {
  if (a != b)
    throw std::invalid_argument(std::string(what) + ": lengths differ (" + std::to_string(a) + " and " +
                                std::to_string(b) + ")");
}

// dot_i8 / dot_i16 / dot_f32 share one binding shape.
template <class T, class Member>
auto dot_binding(Member member) {
  return [member](const Array<T>& a, const Array<T>& b, const Backend& backend) {
    same_length(a.size(), b.size(), "dot");
    const auto fn = table(backend).*member;
    py::gil_scoped_release nogil;
    return fn(a.data(), b.data(), static_cast<std::size_t>(a.size()));
  };
}

// The multi-row kernels read columns [0, n) of every row of a 2-D x of shape
// (rows, ld), n being the length of the 1-D vector they pair with the rows.
struct RowBlock {
  std::size_t rows, ld, n;
};

// A shape as NumPy prints it: (3,) or (3, 4).
std::string shape_of(const py::array& a) {
  std::string out = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) out += (k ? ", " : "") + std::to_string(a.shape(k));
  return out + (a.ndim() == 1 ? ",)" : ")");
}

RowBlock row_block(const py::array& x, const py::array& v, const char* what, const char* v_name) {
  if (x.ndim() != 2)
    throw std::invalid_argument(std::string(what) + ": x must be 2-D (rows, ld), got shape " + shape_of(x));
  if (v.ndim() != 1)
    throw std::invalid_argument(std::string(what) + ": " + v_name + " must be 1-D, got shape " + shape_of(v));
  if (v.shape(0) > x.shape(1))
    throw std::invalid_argument(std::string(what) + ": " + v_name + " has " + std::to_string(v.shape(0)) +
                                " elements but the rows of x only " + std::to_string(x.shape(1)) +
                                " (n must not exceed ld)");
  return {static_cast<std::size_t>(x.shape(0)), static_cast<std::size_t>(x.shape(1)),
          static_cast<std::size_t>(v.shape(0))};
}

// dot_rows_*: out[r] = x[r, :n] . w, with n = len(w).
template <class T, class Member>
auto dot_rows_binding(Member member, const char* what) {
  return [member, what](const Array<T>& x, const Array<float>& w, const Backend& backend) {
    const RowBlock b = row_block(x, w, what, "w");
    const auto fn = table(backend).*member;
    Array<float> out(static_cast<py::ssize_t>(b.rows));
    float* op = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      fn(x.data(), b.ld, b.rows, w.data(), b.n, op);
    }
    return out;
  };
}

// axpy_rows_*: y += a[r] * x[r, :n] for r = 0, 1, ..., in place, with n = len(y).
template <class T, class Member>
auto axpy_rows_binding(Member member, const char* what) {
  return [member, what](const Array<float>& a, const Array<T>& x, Array<float>& y, const Backend& backend) {
    const RowBlock b = row_block(x, y, what, "y");
    if (a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != b.rows)
      throw std::invalid_argument(std::string(what) + ": a must hold one coefficient per row of x, shape (" +
                                  std::to_string(b.rows) + ",), got shape " + shape_of(a));
    const auto fn = table(backend).*member;
    float* yp = y.mutable_data();
    py::gil_scoped_release nogil;
    fn(a.data(), x.data(), b.ld, b.rows, yp, b.n);
  };
}

template <class Z, class C, class Fn>
std::size_t update(Array<Z>& z, const Array<Z>& x, float a, const Array<C>& c, Dither& dither, Fn fn) {
  same_length(z.size(), x.size(), "update");
  same_length(z.size(), c.size(), "update");
  Z* zp = z.mutable_data();
  const Z* xp = x.data();
  const C* cp = c.data();
  const auto n = static_cast<std::size_t>(z.size());
  py::gil_scoped_release nogil;
  return fn(zp, xp, a, cp, n, dither);
}

// update_dot_i8 / update_dot_i16: (saturated count, dot of x_next with the new z).
template <class Z, class C, class Fn>
std::pair<std::size_t, std::int64_t> update_dot(Array<Z>& z, const Array<Z>& x, float a, const Array<C>& c,
                                                Dither& dither, const Array<Z>& x_next, Fn fn) {
  same_length(z.size(), x.size(), "update_dot");
  same_length(z.size(), c.size(), "update_dot");
  same_length(z.size(), x_next.size(), "update_dot");
  Z* zp = z.mutable_data();
  const Z *xp = x.data(), *np = x_next.data();
  const C* cp = c.data();
  const auto n = static_cast<std::size_t>(z.size());
  std::int64_t dot = 0;
  py::gil_scoped_release nogil;
  const std::size_t sat = fn(zp, xp, a, cp, n, dither, np, &dot);
  return {sat, dot};
}

template <class Q, class Fn>
std::pair<Array<Q>, std::size_t> quantize_rows(const Array<float>& x, const Array<float>& scales,
                                               Rounding rounding, std::uint64_t seed, Fn fn) {
  if (x.ndim() != 2) throw std::invalid_argument("quantize: x must be 2-D (rows)");
  const auto rows = static_cast<std::size_t>(x.shape(0)), cols = static_cast<std::size_t>(x.shape(1));
  same_length(scales.size(), x.shape(0), "quantize: one scale per row");
  Array<Q> q({x.shape(0), x.shape(1)});
  Q* qp = q.mutable_data();
  const float* xp = x.data();
  const float* sp = scales.data();
  std::size_t clipped = 0;
  {
    py::gil_scoped_release nogil;
    Xorshift128p4 rng(seed);
    for (std::size_t r = 0; r < rows; ++r) clipped += fn(xp + r * cols, cols, sp[r], rounding, rng, qp + r * cols);
  }
  return {q, clipped};
}

template <class Q, class Fn>
Array<float> dequantize_rows(const Array<Q>& q, const Array<float>& scales, Fn fn) {
  if (q.ndim() != 2) throw std::invalid_argument("dequantize: q must be 2-D (rows)");
  const auto rows = static_cast<std::size_t>(q.shape(0)), cols = static_cast<std::size_t>(q.shape(1));
  same_length(scales.size(), q.shape(0), "dequantize: one scale per row");
  Array<float> x({q.shape(0), q.shape(1)});
  float* xp = x.mutable_data();
  const Q* qp = q.data();
  const float* sp = scales.data();
  py::gil_scoped_release nogil;
  for (std::size_t r = 0; r < rows; ++r) fn(qp + r * cols, cols, sp[r], xp + r * cols);
  return x;
}

Method parse_method(const std::string& method) {
  if (method == "sgd") return Method::sgd;
  if (method == "svrg") return Method::svrg;
  if (method == "halp") return Method::halp;
  throw std::invalid_argument("fit: unknown method '" + method + "'");
}

Loss parse_loss(const std::string& loss) {
  if (loss == "squared") return Loss::squared;
  if (loss == "logistic") return Loss::logistic;
  if (loss == "multinomial") return Loss::multinomial;
  throw std::invalid_argument("fit: unknown loss '" + loss + "'");
}

// Per-epoch records as a dict of float64 arrays, one per named field.
template <class Record>
py::dict columns(const std::vector<Record>& rows,
                 std::initializer_list<std::pair<const char*, double Record::*>> fields) {
  py::dict out;
  for (const auto& [name, member] : fields) {
    Array<double> column(static_cast<py::ssize_t>(rows.size()));
    double* p = column.mutable_data();
    for (const Record& row : rows) *p++ = row.*member;
    out[name] = column;
  }
  return out;
}

// The fitted state and per-epoch history of a FitResult as a dict.
py::dict result_dict(const FitResult& r, py::ssize_t n_outputs, py::ssize_t n_features) {
  Array<float> coef({n_outputs, n_features});
  std::copy(r.coef.begin(), r.coef.end(), coef.mutable_data());
  const py::dict history = columns(r.history, {{"objective", &EpochRecord::objective},
                                                {"grad_norm", &EpochRecord::grad_norm},
                                                {"seconds", &EpochRecord::seconds},
                                                {"inner_seconds", &EpochRecord::inner_seconds},
                                                {"saturated", &EpochRecord::saturated},
                                                {"scale", &EpochRecord::scale},
                                                {"mu", &EpochRecord::mu}});
  py::dict out;
  out["coef"] = coef;
  out["intercept"] = Array<double>(static_cast<py::ssize_t>(r.intercept.size()), r.intercept.data());
  out["history"] = history;
  Array<float> centre({n_outputs, n_features});
  std::copy(r.centre.begin(), r.centre.end(), centre.mutable_data());
  out["centre"] = centre;
  if (!r.offset.empty()) {
    Array<std::int32_t> offset({n_outputs, n_features});
    std::copy(r.offset.begin(), r.offset.end(), offset.mutable_data());
    out["offset"] = offset;
  } else {
    out["offset"] = py::none();
  }
  out["initial_objective"] = r.initial_objective;
  out["initial_grad_norm"] = r.initial_grad_norm;
  out["n_iter"] = r.n_iter;
  out["scale"] = r.scale;
  out["mu"] = r.mu;
  out["converged"] = r.converged;
  out["diverged"] = r.diverged;
  return out;
}

// fit(): every length and shape is checked here; the config's values
// (eta > 0, labels, ...) are validated by the estimators in Python, and the
// C++ side re-checks whatever could index out of bounds (class labels).
struct FitSetup {
  TrainData data;
  SolverConfig cfg;
};

// The training data and solver configuration of a fit, with every length and
// shape checked.
FitSetup prepare_fit(const py::array& X, const std::optional<Array<float>>& row_scale, const Array<double>& y,
                     const Array<float>& coef0, const Array<double>& intercept0, const std::string& method,
                     const std::string& loss, double eta, double alpha, double mu, double delta,
                     std::size_t epoch_length, std::size_t max_iter, double tol, bool fit_intercept,
                     std::uint64_t seed, int verbose, bool adapt_mu, std::size_t n_features) {
  if (X.ndim() != 2) throw std::invalid_argument("fit: X must be 2-D");
  if (!(X.flags() & py::array::c_style)) throw std::invalid_argument("fit: X must be C-contiguous");
  FitSetup setup;
  TrainData& data = setup.data;
  SolverConfig& cfg = setup.cfg;
  data.n = static_cast<std::size_t>(X.shape(0));
  data.d = static_cast<std::size_t>(X.shape(1));
  cfg.method = parse_method(method);
  cfg.loss = parse_loss(loss);
  if (coef0.ndim() != 2 || static_cast<std::size_t>(coef0.shape(1)) != data.d)
    throw std::invalid_argument("fit: coef0 must have shape (n_outputs, n_features)");
  cfg.n_outputs = static_cast<std::size_t>(coef0.shape(0));
  same_length(intercept0.size(), coef0.shape(0), "fit: intercept0");
  same_length(y.size(), X.shape(0), "fit: y");
  cfg.eta = eta;
  cfg.alpha = alpha;
  cfg.mu = mu;
  cfg.adapt_mu = adapt_mu;
  cfg.delta = delta;
  cfg.epoch_length = epoch_length;
  cfg.max_iter = max_iter;
  cfg.tol = tol;
  cfg.fit_intercept = fit_intercept;
  cfg.seed = seed;
  cfg.verbose = verbose;
  if (n_features > data.d)
    throw std::invalid_argument("fit: n_features (" + std::to_string(n_features) + ") exceeds X's " +
                                std::to_string(data.d) + " columns");
  cfg.n_features = n_features;
  if (X.dtype().is(py::dtype::of<float>())) {
    data.x32 = static_cast<const float*>(X.data());
  } else if (X.dtype().is(py::dtype::of<std::int8_t>())) {
    data.x8 = static_cast<const std::int8_t*>(X.data());
  } else if (X.dtype().is(py::dtype::of<std::int16_t>())) {
    data.x16 = static_cast<const std::int16_t*>(X.data());
  } else {
    throw std::invalid_argument("fit: X must be float32, int8 or int16");
  }
  if (data.x32 == nullptr) {
    if (!row_scale) throw std::invalid_argument("fit: integer X needs row_scale");
    same_length(row_scale->size(), X.shape(0), "fit: row_scale");
    data.row_scale = row_scale->data();
  }
  data.y = y.data();
  return setup;
}

py::dict fit_binding(const py::array& X, const std::optional<Array<float>>& row_scale, const Array<double>& y,
                     const Array<float>& coef0, const Array<double>& intercept0, const std::string& method,
                     const std::string& loss, double eta, double alpha, double mu, double delta,
                     std::size_t epoch_length, std::size_t max_iter, double tol, bool fit_intercept,
                     std::uint64_t seed, int verbose, bool adapt_mu, std::size_t n_features,
                     const Backend& backend) {
  const FitSetup setup = prepare_fit(X, row_scale, y, coef0, intercept0, method, loss, eta, alpha, mu, delta,
                                     epoch_length, max_iter, tol, fit_intercept, seed, verbose, adapt_mu,
                                     n_features);
  const KernelTable& t = table(backend);
  FitResult r;
  {
    py::gil_scoped_release nogil;
    r = fit(t, setup.data, setup.cfg, coef0.data(), intercept0.data());
  }
  return result_dict(r, coef0.shape(0), coef0.shape(1));
}

// The float-format enums arrive as ints from lpcore/float_formats.py; they
// index the format table, so they are range-checked here.
template <class Enum>
Enum enum_from(int value, int count, const char* what) {
  if (value < 0 || value >= count)
    throw std::invalid_argument(std::string(what) + " code " + std::to_string(value) + " is out of range");
  return static_cast<Enum>(value);
}

FloatGradConfig grad_config(int format, int rounding, int overflow, int scaling, double loss_scale, bool compensate,
                            double q_floor) {
  FloatGradConfig g;
  g.format = enum_from<FloatFormat>(format, kFloatFormatCount, "float format");
  g.rounding = enum_from<FloatRounding>(rounding, 3, "float rounding");
  g.overflow = enum_from<Overflow>(overflow, 2, "overflow policy");
  g.scaling = enum_from<GradScaling>(scaling, 3, "gradient scaling");
  g.loss_scale = loss_scale;
  g.compensate = compensate;
  g.q_floor = q_floor;
  return g;
}

py::dict fit_float_grad_binding(const Array<float>& X, const Array<double>& y, const Array<float>& coef0,
                                const Array<double>& intercept0, const std::string& method, const std::string& loss,
                                double eta, double alpha, std::size_t epoch_length, std::size_t max_iter, double tol,
                                bool fit_intercept, std::uint64_t seed, int verbose, int format, int rounding,
                                int overflow, int scaling, double loss_scale, bool compensate, double q_floor,
                                const Backend& backend) {
  const FitSetup setup = prepare_fit(X, std::nullopt, y, coef0, intercept0, method, loss, eta, alpha, 1.0, 1.0,
                                     epoch_length, max_iter, tol, fit_intercept, seed, verbose, false, 0);
  const FloatGradConfig grad = grad_config(format, rounding, overflow, scaling, loss_scale, compensate, q_floor);
  const KernelTable& t = table(backend);
  FloatGradResult r;
  {
    py::gil_scoped_release nogil;
    r = fit_float_grad(t, setup.data, setup.cfg, grad, coef0.data(), intercept0.data());
  }
  py::dict out = result_dict(r.fit, coef0.shape(0), coef0.shape(1));
  const py::dict shrinkage = columns(r.shrinkage, {{"q_min", &ShrinkageRecord::q_min},
                                                   {"q_mean", &ShrinkageRecord::q_mean},
                                                   {"norm_ratio_mean", &ShrinkageRecord::norm_ratio_mean},
                                                   {"zero_fraction", &ShrinkageRecord::zero_fraction},
                                                   {"overflow_fraction", &ShrinkageRecord::overflow_fraction},
                                                   {"step_multiplier", &ShrinkageRecord::step_multiplier},
                                                   {"log2_scale_mean", &ShrinkageRecord::log2_scale_mean}});
  out["shrinkage"] = shrinkage;
  return out;
}

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

// The fused updates' offsets in their packed layout (kernels.hpp), after a
// check of the fast path's domain |c| <= max_offset; `bias` is added to every
// value (2^15 for int16, 0 for int8).
template <class T>
Array<T> packed(const Array<T>& c, std::size_t block, std::int64_t max_offset, T bias) {
  const auto n = static_cast<std::size_t>(c.size());
  const T* cp = c.data();
  for (std::size_t i = 0; i < n; ++i)
    if (cp[i] > max_offset || cp[i] < -max_offset)
      throw std::invalid_argument("pack_offsets: offsets must satisfy |c| <= " + std::to_string(max_offset) +
                                  ", got " + std::to_string(cp[i]) + " at index " + std::to_string(i));
  Array<T> out(c.size());
  T* op = out.mutable_data();
  pack_offsets(cp, op, n, block);
  for (std::size_t i = 0; i < n; ++i) op[i] = static_cast<T>(op[i] + bias);
  return out;
}

}  // namespace

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

  const auto nc = [](const char* name) { return py::arg(name).noconvert(); };
  const auto be = py::arg("backend") = py::none();

  m.def("dot_i8", dot_binding<std::int8_t>(&KernelTable::dot_i8), nc("a"), nc("b"), be);
  m.def("dot_i16", dot_binding<std::int16_t>(&KernelTable::dot_i16), nc("a"), nc("b"), be);
  m.def("dot_f32", dot_binding<float>(&KernelTable::dot_f32), nc("a"), nc("b"), be);
  m.def("axpy_f32", [](float a, const Array<float>& x, Array<float>& y, const Backend& backend) {
        same_length(x.size(), y.size(), "axpy_f32");
        const auto& t = table(backend);
        float* yp = y.mutable_data();
        py::gil_scoped_release nogil;
        t.axpy_f32(a, x.data(), yp, static_cast<std::size_t>(x.size()));
      }, py::arg("a"), nc("x"), nc("y"), be);
  m.def("dot_i8_f32", [](const Array<std::int8_t>& x, const Array<float>& w, const Backend& backend) {
        same_length(x.size(), w.size(), "dot_i8_f32");
        const auto fn = table(backend).dot_i8_f32;
        py::gil_scoped_release nogil;
        return fn(x.data(), w.data(), static_cast<std::size_t>(x.size()));
      }, nc("x"), nc("w"), be);
  m.def("dot_i16_f32", [](const Array<std::int16_t>& x, const Array<float>& w, const Backend& backend) {
        same_length(x.size(), w.size(), "dot_i16_f32");
        const auto fn = table(backend).dot_i16_f32;
        py::gil_scoped_release nogil;
        return fn(x.data(), w.data(), static_cast<std::size_t>(x.size()));
      }, nc("x"), nc("w"), be);
  m.def("axpy_i8_f32", [](float a, const Array<std::int8_t>& x, Array<float>& y, const Backend& backend) {
        same_length(x.size(), y.size(), "axpy_i8_f32");
        const auto fn = table(backend).axpy_i8_f32;
        float* yp = y.mutable_data();
        py::gil_scoped_release nogil;
        fn(a, x.data(), yp, static_cast<std::size_t>(x.size()));
      }, py::arg("a"), nc("x"), nc("y"), be);
  m.def("axpy_i16_f32", [](float a, const Array<std::int16_t>& x, Array<float>& y, const Backend& backend) {
        same_length(x.size(), y.size(), "axpy_i16_f32");
        const auto fn = table(backend).axpy_i16_f32;
        float* yp = y.mutable_data();
        py::gil_scoped_release nogil;
        fn(a, x.data(), yp, static_cast<std::size_t>(x.size()));
      }, py::arg("a"), nc("x"), nc("y"), be);
  m.def("dot_rows_f32", dot_rows_binding<float>(&KernelTable::dot_rows_f32, "dot_rows_f32"), nc("x"), nc("w"), be);
  m.def("dot_rows_i8_f32", dot_rows_binding<std::int8_t>(&KernelTable::dot_rows_i8_f32, "dot_rows_i8_f32"), nc("x"),
        nc("w"), be);
  m.def("dot_rows_i16_f32", dot_rows_binding<std::int16_t>(&KernelTable::dot_rows_i16_f32, "dot_rows_i16_f32"),
        nc("x"), nc("w"), be);
  m.def("axpy_rows_f32", axpy_rows_binding<float>(&KernelTable::axpy_rows_f32, "axpy_rows_f32"), nc("a"), nc("x"),
        nc("y"), be);
  m.def("axpy_rows_i8_f32", axpy_rows_binding<std::int8_t>(&KernelTable::axpy_rows_i8_f32, "axpy_rows_i8_f32"),
        nc("a"), nc("x"), nc("y"), be);
  m.def("axpy_rows_i16_f32", axpy_rows_binding<std::int16_t>(&KernelTable::axpy_rows_i16_f32, "axpy_rows_i16_f32"),
        nc("a"), nc("x"), nc("y"), be);
  m.def("update_f32", [](Array<float>& w, const Array<float>& x, float a, const Array<float>& c,
                         const Backend& backend) {
        same_length(w.size(), x.size(), "update_f32");
        same_length(w.size(), c.size(), "update_f32");
        const auto& t = table(backend);
        float* wp = w.mutable_data();
        py::gil_scoped_release nogil;
        t.update_f32(wp, x.data(), a, c.data(), static_cast<std::size_t>(w.size()));
      }, nc("w"), nc("x"), py::arg("a"), nc("c"), be);

  py::class_<Dither>(m, "Dither", "Dither table and draw stream of the fused updates.")
      .def(py::init<std::uint64_t>(), py::arg("seed"))
      .def("table", [](const Dither& d) {
        Array<std::uint8_t> out(static_cast<py::ssize_t>(d.table.size()));
        std::copy(d.table.begin(), d.table.end(), out.mutable_data());
        return out;
      })
      .def("draw_multiplier", [](Dither& d, float a, int frac_bits, const Backend& backend) {
            if (frac_bits < 0 || frac_bits > 30)
              throw std::invalid_argument("draw_multiplier: frac_bits must be in [0, 30], got " +
                                          std::to_string(frac_bits));
            return table(backend).draw_multiplier(d, a, frac_bits);
          }, py::arg("a"), py::arg("frac_bits"), be)
      .def("next_offset", &Dither::next_offset)
      .def_property_readonly_static("chunk", [](py::object) { return Dither::kChunk; });

  m.def("update_i8", [](Array<std::int8_t>& z, const Array<std::int8_t>& x, float a,
                        const Array<std::int16_t>& c_packed, Dither& dither, const Backend& backend) {
        return update(z, x, a, c_packed, dither, table(backend).update_i8);
      }, nc("z"), nc("x"), py::arg("a"), nc("c_packed"), py::arg("dither"), be);
  m.def("update_i16", [](Array<std::int16_t>& z, const Array<std::int16_t>& x, float a,
                         const Array<std::int32_t>& c_packed, Dither& dither, const Backend& backend) {
        return update(z, x, a, c_packed, dither, table(backend).update_i16);
      }, nc("z"), nc("x"), py::arg("a"), nc("c_packed"), py::arg("dither"), be);
  m.def("update_dot_i8", [](Array<std::int8_t>& z, const Array<std::int8_t>& x, float a,
                            const Array<std::int16_t>& c_packed, Dither& dither,
                            const Array<std::int8_t>& x_next, const Backend& backend) {
        return update_dot(z, x, a, c_packed, dither, x_next, table(backend).update_dot_i8);
      }, nc("z"), nc("x"), py::arg("a"), nc("c_packed"), py::arg("dither"), nc("x_next"), be);
  m.def("update_dot_i16", [](Array<std::int16_t>& z, const Array<std::int16_t>& x, float a,
                             const Array<std::int32_t>& c_packed, Dither& dither,
                             const Array<std::int16_t>& x_next, const Backend& backend) {
        return update_dot(z, x, a, c_packed, dither, x_next, table(backend).update_dot_i16);
      }, nc("z"), nc("x"), py::arg("a"), nc("c_packed"), py::arg("dither"), nc("x_next"), be);
  m.def("update_dot_f32", [](Array<float>& w, const Array<float>& x, float a, std::optional<Array<float>> c,
                             const Array<float>& x_next, const Backend& backend) {
        same_length(w.size(), x.size(), "update_dot_f32");
        same_length(w.size(), x_next.size(), "update_dot_f32");
        if (c) same_length(w.size(), c->size(), "update_dot_f32");
        const auto& t = table(backend);
        float* wp = w.mutable_data();
        const float* cp = c ? c->data() : nullptr;
        py::gil_scoped_release nogil;
        return t.update_dot_f32(wp, x.data(), a, cp, static_cast<std::size_t>(w.size()), x_next.data());
      }, nc("w"), nc("x"), py::arg("a"), py::arg("c").none(true), nc("x_next"), be);
  m.def("round_offsets_i8", [](const Array<float>& c, Dither& dither, const Backend& backend) {
        if (c.ndim() != 1)
          throw std::invalid_argument("round_offsets_i8: c must be one-dimensional, got shape " + shape_of(c));
        const auto n = static_cast<std::size_t>(c.size());
        Array<std::int16_t> q(c.size());
        const float* cp = c.data();
        std::int16_t* qp = q.mutable_data();
        const auto fn = table(backend).round_offsets_i8;
        py::gil_scoped_release nogil;
        fn(cp, n, dither, qp);
        return q;
      }, nc("c"), py::arg("dither"), be);
  m.def("pack_offsets_i8", [](const Array<std::int16_t>& c) {
    return packed(c, kPackBlockI8, UpdateFormat::kMaxOffsetI8, std::int16_t{0});
  }, nc("c"));
  m.def("pack_offsets_i16", [](const Array<std::int32_t>& c) {
    return packed(c, kPackBlockI16, UpdateFormat::kMaxOffsetI16, UpdateFormat::kOffsetBiasI16);
  }, nc("c"));

  m.def("quantize_i8", [](const Array<float>& x, const Array<float>& scales, bool stochastic,
                          std::uint64_t seed, const Backend& backend) {
        return quantize_rows<std::int8_t>(x, scales, stochastic ? Rounding::stochastic : Rounding::nearest,
                                          seed, table(backend).quantize_i8);
      }, nc("x"), nc("scales"), py::arg("stochastic"), py::arg("seed"), be);
  m.def("quantize_i16", [](const Array<float>& x, const Array<float>& scales, bool stochastic,
                           std::uint64_t seed, const Backend& backend) {
        return quantize_rows<std::int16_t>(x, scales, stochastic ? Rounding::stochastic : Rounding::nearest,
                                           seed, table(backend).quantize_i16);
      }, nc("x"), nc("scales"), py::arg("stochastic"), py::arg("seed"), be);
  m.def("dequantize_i8", [](const Array<std::int8_t>& q, const Array<float>& scales, const Backend& backend) {
        return dequantize_rows(q, scales, table(backend).dequantize_i8);
      }, nc("q"), nc("scales"), be);
  m.def("dequantize_i16", [](const Array<std::int16_t>& q, const Array<float>& scales, const Backend& backend) {
        return dequantize_rows(q, scales, table(backend).dequantize_i16);
      }, nc("q"), nc("scales"), be);

  m.def("stream_sum", [](const Array<std::uint8_t>& p, const Backend& backend) {
        const auto& t = table(backend);
        py::gil_scoped_release nogil;
        return t.stream_sum(p.data(), static_cast<std::size_t>(p.size()));
      }, nc("p"), be);
  m.def("fill_random", [](std::uint64_t seed, std::size_t n_blocks, const Backend& backend) {
        const auto& t = table(backend);
        Array<std::uint8_t> out(static_cast<py::ssize_t>(32 * n_blocks));
        std::uint8_t* op = out.mutable_data();
        {
          py::gil_scoped_release nogil;
          Xorshift128p4 rng(seed);
          t.fill_random(rng, op, n_blocks);
        }
        return out;
      }, py::arg("seed"), py::arg("n_blocks"), be);

  m.def("fit", &fit_binding, py::arg("X"), py::arg("row_scale"), nc("y"), nc("coef0"), nc("intercept0"),
        py::arg("method"), py::arg("loss"), py::arg("eta"), py::arg("alpha"), py::arg("mu"), py::arg("delta"),
        py::arg("epoch_length"), py::arg("max_iter"), py::arg("tol"), py::arg("fit_intercept"), py::arg("seed"),
        py::arg("verbose"), py::arg("adapt_mu") = false, py::arg("n_features") = 0, be);

  m.def("quantize_float", &quantize_float_binding, nc("x"), py::arg("format"), py::arg("rounding"),
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
  m.def("fit_float_grad", &fit_float_grad_binding, nc("X"), nc("y"), nc("coef0"), nc("intercept0"),
        py::arg("method"), py::arg("loss"), py::arg("eta"), py::arg("alpha"), py::arg("epoch_length"),
        py::arg("max_iter"), py::arg("tol"), py::arg("fit_intercept"), py::arg("seed"), py::arg("verbose"),
        py::arg("format"), py::arg("rounding"), py::arg("overflow"), py::arg("scaling"), py::arg("loss_scale"),
        py::arg("compensate"), py::arg("q_floor"), be);

  python::bind_data(m);

  m.def("time_kernel", [](const std::string& kernel, std::size_t n, std::size_t reps, std::size_t inner,
                          const Backend& backend) {
        const auto& t = table(backend);
        py::gil_scoped_release nogil;
        return time_kernel(t, kernel, n, reps, inner);
      }, py::arg("kernel"), py::arg("n"), py::arg("reps"), py::arg("inner"), be);
  m.def("kernel_bytes", &kernel_bytes, py::arg("kernel"), py::arg("n"));
  m.def("time_gather", [](std::size_t n_rows, std::size_t row_bytes, std::size_t rows, std::size_t lookahead,
                          std::size_t reps, const Backend& backend) {
        const auto& t = table(backend);
        py::gil_scoped_release nogil;
        return time_gather(t, n_rows, row_bytes, rows, lookahead, reps);
      }, py::arg("n_rows"), py::arg("row_bytes"), py::arg("rows"), py::arg("lookahead"), py::arg("reps"), be);
}
