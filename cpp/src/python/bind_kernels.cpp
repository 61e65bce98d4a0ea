// Bindings of the kernel layer (lpcore/kernels.hpp): every kernel of the table
// on NumPy arrays, on the active backend or the one named by `backend`, with
// the GIL released while it runs. Every length is checked here, so no Python
// call can make a kernel read or write out of bounds. Value checks (grids,
// finiteness) live in the Python layer, lpcore/kernels.py and lpcore/quantize.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lpcore/dispatch.hpp"
#include "lpcore/dither.hpp"
#include "lpcore/kernels.hpp"
#include "lpcore/rng.hpp"
#include "lpcore/solver.hpp"
#include "python/common.hpp"

namespace lpcore::python {
namespace {

// The dots share one binding shape: a . b, b of type B (the int16 model of dot_i8_i16).
template <class T, class Member, class B = T>
auto dot_binding(Member member) {
  return [member](const Array<T>& a, const Array<B>& b, const Backend& backend) {
    same_length(a.size(), b.size(), "dot");
    const auto fn = table(backend).*member;
    py::gil_scoped_release nogil;
    return fn(a.data(), b.data(), static_cast<std::size_t>(a.size()));
  };
}

// The data path's fused quantize of one row: (q, sq_err, sum_q2, clipped).
template <class Q, class Member>
auto quantize_sqerr_binding(Member member) {
  return [member](const Array<float>& x, float scale, const Backend& backend) {
    const auto fn = table(backend).*member;
    Array<Q> q(x.size());
    Q* qp = q.mutable_data();
    double err = 0, q2 = 0;
    std::size_t clipped;
    {
      py::gil_scoped_release nogil;
      clipped = fn(x.data(), static_cast<std::size_t>(x.size()), scale, qp, &err, &q2);
    }
    return py::make_tuple(q, err, q2, clipped);
  };
}

// The multi-row kernels read columns [0, n) of every row of a 2-D x of shape
// (rows, ld), n being the length of the 1-D vector they pair with the rows.
struct RowBlock {
  std::size_t rows, ld, n;
};

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

template <class Z, class X, class C, class Fn>
std::size_t update(Array<Z>& z, const Array<X>& x, float a, const Array<C>& c, Dither& dither, Fn fn) {
  same_length(z.size(), x.size(), "update");
  same_length(z.size(), c.size(), "update");
  Z* zp = z.mutable_data();
  const X* xp = x.data();
  const C* cp = c.data();
  const auto n = static_cast<std::size_t>(z.size());
  py::gil_scoped_release nogil;
  return fn(zp, xp, a, cp, n, dither);
}

// update_dot_*: (saturated count, dot of x_next with the new z).
template <class Z, class X, class C, class Fn>
std::pair<std::size_t, std::int64_t> update_dot(Array<Z>& z, const Array<X>& x, float a, const Array<C>& c,
                                                Dither& dither, const Array<X>& x_next, Fn fn) {
  same_length(z.size(), x.size(), "update_dot");
  same_length(z.size(), c.size(), "update_dot");
  same_length(z.size(), x_next.size(), "update_dot");
  Z* zp = z.mutable_data();
  const X *xp = x.data(), *np = x_next.data();
  const C* cp = c.data();
  const auto n = static_cast<std::size_t>(z.size());
  std::int64_t dot = 0;
  py::gil_scoped_release nogil;
  const std::size_t sat = fn(zp, xp, a, cp, n, dither, np, &dot);
  return {sat, dot};
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

void bind_kernels(py::module_& m) {
  const auto nc = [](const char* name) { return py::arg(name).noconvert(); };
  const auto be = py::arg("backend") = py::none();

  m.def("dot_i8", dot_binding<std::int8_t>(&KernelTable::dot_i8), nc("a"), nc("b"), be);
  m.def("dot_i16", dot_binding<std::int16_t>(&KernelTable::dot_i16), nc("a"), nc("b"), be);
  m.def("dot_i8_i16", dot_binding<std::int8_t, decltype(&KernelTable::dot_i8_i16), std::int16_t>(
            &KernelTable::dot_i8_i16), nc("a"), nc("b"), be);
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
  m.def("update_i8_i16", [](Array<std::int16_t>& z, const Array<std::int8_t>& x, float a,
                            const Array<std::int32_t>& c_packed, Dither& dither, const Backend& backend) {
        return update(z, x, a, c_packed, dither, table(backend).update_i8_i16);
      }, nc("z"), nc("x"), py::arg("a"), nc("c_packed"), py::arg("dither"), be);
  m.def("update_dot_i8_i16", [](Array<std::int16_t>& z, const Array<std::int8_t>& x, float a,
                                const Array<std::int32_t>& c_packed, Dither& dither,
                                const Array<std::int8_t>& x_next, const Backend& backend) {
        return update_dot(z, x, a, c_packed, dither, x_next, table(backend).update_dot_i8_i16);
      }, nc("z"), nc("x"), py::arg("a"), nc("c_packed"), py::arg("dither"), nc("x_next"), be);
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

  m.def("dequantize_i8", [](const Array<std::int8_t>& q, const Array<float>& scales, const Backend& backend) {
        return dequantize_rows(q, scales, table(backend).dequantize_i8);
      }, nc("q"), nc("scales"), be);
  m.def("dequantize_i16", [](const Array<std::int16_t>& q, const Array<float>& scales, const Backend& backend) {
        return dequantize_rows(q, scales, table(backend).dequantize_i16);
      }, nc("q"), nc("scales"), be);

  m.def("quantize_sqerr_i8", quantize_sqerr_binding<std::int8_t>(&KernelTable::quantize_sqerr_i8), nc("x"),
        py::arg("scale"), be);
  m.def("quantize_sqerr_i16", quantize_sqerr_binding<std::int16_t>(&KernelTable::quantize_sqerr_i16), nc("x"),
        py::arg("scale"), be);

  m.def("stream_sum", [](const Array<std::uint8_t>& p, const Backend& backend) {
        const auto& t = table(backend);
        py::gil_scoped_release nogil;
        return t.stream_sum(p.data(), static_cast<std::size_t>(p.size()));
      }, nc("p"), be);
  m.def("fill_random", [](std::uint64_t seed, std::size_t n_blocks, const Backend& backend) {
        // 32 * n_blocks bytes must be a valid array size.
        if (n_blocks > static_cast<std::size_t>(std::numeric_limits<py::ssize_t>::max()) / 32)
          throw std::invalid_argument("fill_random: n_blocks = " + std::to_string(n_blocks) +
                                      " is too large: 32 * n_blocks bytes exceeds the largest array size");
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
}

}  // namespace lpcore::python
