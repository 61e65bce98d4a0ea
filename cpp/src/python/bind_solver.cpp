// Binding of the training loops: one typed config in (SolverConfig, plus
// FloatGradConfig for simulated float gradients), one typed result out
// (FitResult with its EpochRecord history). lpcore/_solver.py fills the config
// from the estimators' parameters; every length and shape is checked here, and
// the C++ side re-checks whatever could index out of bounds (class labels).
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lpcore/float_format.hpp"
#include "lpcore/float_grad_sgd.hpp"
#include "lpcore/solver.hpp"
#include "lpcore/width.hpp"
#include "python/common.hpp"

namespace lpcore::python {
namespace {

// Per-epoch records as a dict of float64 arrays, one per named field.
template <class Record, std::size_t N>
py::dict columns(const std::vector<Record>& rows, const std::pair<const char*, double Record::*> (&fields)[N]) {
  py::dict out;
  for (const auto& [name, member] : fields) {
    Array<double> column(static_cast<py::ssize_t>(rows.size()));
    double* p = column.mutable_data();
    for (const Record& row : rows) *p++ = row.*member;
    out[name] = column;
  }
  return out;
}

constexpr std::pair<const char*, double EpochRecord::*> kEpochFields[] = {
    {"objective", &EpochRecord::objective}, {"grad_norm", &EpochRecord::grad_norm},
    {"seconds", &EpochRecord::seconds},     {"inner_seconds", &EpochRecord::inner_seconds},
    {"saturated", &EpochRecord::saturated}, {"scale", &EpochRecord::scale},
    {"mu", &EpochRecord::mu}};

constexpr std::pair<const char*, double ShrinkageRecord::*> kShrinkageFields[] = {
    {"q_min", &ShrinkageRecord::q_min},
    {"q_mean", &ShrinkageRecord::q_mean},
    {"norm_ratio_mean", &ShrinkageRecord::norm_ratio_mean},
    {"zero_fraction", &ShrinkageRecord::zero_fraction},
    {"overflow_fraction", &ShrinkageRecord::overflow_fraction},
    {"step_multiplier", &ShrinkageRecord::step_multiplier},
    {"log2_scale_mean", &ShrinkageRecord::log2_scale_mean}};

// SolverConfig::epoch_hook from a Python callable hook(epoch, record, coef,
// intercept): record a copy of the EpochRecord, coef a (K, d)
// float32 copy, intercept a (K,) float64 copy; a result that is true (as
// Python's `if` reads it) stops the fit.
// The loop runs without the GIL; the hook takes it. None: no hook.
EpochHook python_epoch_hook(const py::object& hook, std::size_t K, std::size_t d) {
  if (hook.is_none()) return {};
  if (!PyCallable_Check(hook.ptr())) throw py::type_error("fit: epoch_hook must be callable or None");
  return [hook, K, d](std::size_t epoch, const EpochRecord& r, const float* coef, const double* intercept) {
    py::gil_scoped_acquire gil;
    py::object record = py::cast(r, py::return_value_policy::copy);
    Array<float> c({static_cast<py::ssize_t>(K), static_cast<py::ssize_t>(d)});
    std::copy(coef, coef + K * d, c.mutable_data());
    Array<double> b(static_cast<py::ssize_t>(K));
    std::copy(intercept, intercept + K, b.mutable_data());
    const py::object stop = hook(epoch, record, c, b);
    const int truth = PyObject_IsTrue(stop.ptr());  // any object, as Python's `if` reads it
    if (truth < 0) throw py::error_already_set();
    return truth == 1;
  };
}

// A K x d vector of the result as a (K, d) array.
template <class T>
Array<T> matrix(const FitResult& r, const std::vector<T>& v) {
  Array<T> out({static_cast<py::ssize_t>(r.n_outputs), static_cast<py::ssize_t>(r.n_columns)});
  if (v.size() != r.n_outputs * r.n_columns) throw std::logic_error("FitResult: inconsistent sizes");
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// The training data of a fit, with every length and shape checked against
// the config (n_outputs and n_features are set from coef0 and X here). y
// holds one target per row and output for the squared loss, else one label
// per row; the solver checks the labels' and weights' values.
TrainData train_data(const py::array& X, const std::optional<Array<float>>& row_scale, const Array<double>& y,
                     const Array<float>& coef0, const Array<double>& intercept0,
                     const std::optional<Array<double>>& sample_weight, SolverConfig& cfg) {
  if (X.ndim() != 2) throw std::invalid_argument("fit: X must be 2-D, got shape " + shape_of(X));
  if (!(X.flags() & py::array::c_style)) throw std::invalid_argument("fit: X must be C-contiguous");
  TrainData data;
  data.n = static_cast<std::size_t>(X.shape(0));
  data.d = static_cast<std::size_t>(X.shape(1));
  if (coef0.ndim() != 2 || static_cast<std::size_t>(coef0.shape(1)) != data.d)
    throw std::invalid_argument("fit: coef0 must have shape (n_outputs, " + std::to_string(data.d) + "), got " +
                                shape_of(coef0));
  cfg.n_outputs = static_cast<std::size_t>(coef0.shape(0));
  same_length(intercept0.size(), coef0.shape(0), "fit: intercept0");
  const auto per_row = static_cast<py::ssize_t>(targets_per_row(cfg.loss, cfg.n_outputs));
  if (per_row == 0) throw std::invalid_argument("fit: coef0 has no rows (no outputs)");
  if (y.size() % per_row != 0 || y.size() / per_row != X.shape(0))
    throw std::invalid_argument("fit: y must hold " + std::to_string(per_row) + " value(s) for each of X's " +
                                std::to_string(X.shape(0)) + " rows, got " + std::to_string(y.size()));
  if (sample_weight) {
    same_length(sample_weight->size(), X.shape(0), "fit: sample_weight");
    data.sample_weight = sample_weight->data();
  }
  if (cfg.n_features > data.d)
    throw std::invalid_argument("fit: n_features (" + std::to_string(cfg.n_features) + ") exceeds X's " +
                                std::to_string(data.d) + " columns");
  // The one place where the rows' element type becomes a width.
  data.data_bits = holds<float>(X.dtype())          ? Width<float>::bits
                   : holds<std::int8_t>(X.dtype())  ? Width<std::int8_t>::bits
                   : holds<std::int16_t>(X.dtype()) ? Width<std::int16_t>::bits
                                                    : 0;
  if (data.data_bits == 0) throw std::invalid_argument("fit: X must be float32, int8 or int16");
  data.rows = X.data();
  if (data.data_bits != 32) {
    if (!row_scale) throw std::invalid_argument("fit: integer X needs row_scale");
    same_length(row_scale->size(), X.shape(0), "fit: row_scale");
    data.row_scale = row_scale->data();
  }
  data.y = y.data();
  return data;
}

FitResult fit_binding(const py::array& X, const std::optional<Array<float>>& row_scale, const Array<double>& y,
                      const Array<float>& coef0, const Array<double>& intercept0, SolverConfig cfg,
                      const Backend& backend, const std::optional<Array<double>>& sample_weight,
                      const py::object& epoch_hook) {
  const TrainData data = train_data(X, row_scale, y, coef0, intercept0, sample_weight, cfg);
  cfg.interrupt_check = python_interrupt_check();
  cfg.epoch_hook = python_epoch_hook(epoch_hook, cfg.n_outputs, data.d);
  const KernelTable& t = table(backend);
  py::gil_scoped_release nogil;
  return fit(t, data, cfg, coef0.data(), intercept0.data());
}

FloatGradResult fit_float_grad_binding(const Array<float>& X, const Array<double>& y, const Array<float>& coef0,
                                       const Array<double>& intercept0, SolverConfig cfg,
                                       const FloatGradConfig& grad, const Backend& backend,
                                       const std::optional<Array<double>>& sample_weight,
                                       const py::object& epoch_hook) {
  const TrainData data = train_data(X, std::nullopt, y, coef0, intercept0, sample_weight, cfg);
  cfg.interrupt_check = python_interrupt_check();
  cfg.epoch_hook = python_epoch_hook(epoch_hook, cfg.n_outputs, data.d);
  const KernelTable& t = table(backend);
  py::gil_scoped_release nogil;
  return fit_float_grad(t, data, cfg, grad, coef0.data(), intercept0.data());
}

// An enum field of FloatGradConfig, set from its integer code (range-checked:
// the codes index the format tables).
template <class Enum>
auto enum_property(Enum FloatGradConfig::*member, int count, const char* what) {
  return std::make_pair([member](const FloatGradConfig& g) { return static_cast<int>(g.*member); },
                        [member, count, what](FloatGradConfig& g, int v) { g.*member = enum_from<Enum>(v, count, what); });
}

}  // namespace

void bind_solver(py::module_& m) {
  register_interrupt_translator();
  py::enum_<Method>(m, "Method").value("sgd", Method::sgd).value("svrg", Method::svrg).value("halp", Method::halp);
  py::enum_<Loss>(m, "Loss")
      .value("squared", Loss::squared)
      .value("logistic", Loss::logistic)
      .value("multinomial", Loss::multinomial);
  py::enum_<GradScaling>(m, "GradScaling")
      .value("none", GradScaling::none)
      .value("fixed", GradScaling::fixed)
      .value("dynamic", GradScaling::dynamic);

  py::class_<SolverConfig>(m, "SolverConfig", "The solver's settings (cpp/include/lpcore/solver.hpp).")
      .def(py::init<>())
      .def_readwrite("method", &SolverConfig::method)
      .def_readwrite("loss", &SolverConfig::loss)
      .def_readwrite("bits", &SolverConfig::bits)
      .def_readonly("n_outputs", &SolverConfig::n_outputs)
      .def_readwrite("eta", &SolverConfig::eta)
      .def_readwrite("alpha", &SolverConfig::alpha)
      .def_readwrite("mu", &SolverConfig::mu)
      .def_readwrite("adapt_mu", &SolverConfig::adapt_mu)
      .def_readwrite("prior_saturated", &SolverConfig::prior_saturated)
      .def_readwrite("delta", &SolverConfig::delta)
      .def_readwrite("epoch_length", &SolverConfig::epoch_length)
      .def_readwrite("max_iter", &SolverConfig::max_iter)
      .def_readwrite("tol", &SolverConfig::tol)
      .def_readwrite("tol_reference", &SolverConfig::tol_reference)
      .def_readwrite("fit_intercept", &SolverConfig::fit_intercept)
      .def_readwrite("n_features", &SolverConfig::n_features)
      .def_readwrite("seed", &SolverConfig::seed)
      .def_readwrite("verbose", &SolverConfig::verbose)
      .def_readwrite("stop_on_stall", &SolverConfig::stop_on_stall)
      .def_readwrite("n_threads", &SolverConfig::n_threads);

  const auto [get_format, set_format] = enum_property(&FloatGradConfig::format, kFloatFormatCount, "float format");
  const auto [get_rounding, set_rounding] = enum_property(&FloatGradConfig::rounding, 3, "float rounding");
  const auto [get_overflow, set_overflow] = enum_property(&FloatGradConfig::overflow, 2, "overflow policy");
  py::class_<FloatGradConfig>(m, "FloatGradConfig", "Simulated float gradients (lpcore/float_grad_sgd.hpp).")
      .def(py::init<>())
      .def_property("format", get_format, set_format)
      .def_property("rounding", get_rounding, set_rounding)
      .def_property("overflow", get_overflow, set_overflow)
      .def_readwrite("scaling", &FloatGradConfig::scaling)
      .def_readwrite("loss_scale", &FloatGradConfig::loss_scale)
      .def_readwrite("compensate", &FloatGradConfig::compensate)
      .def_readwrite("q_floor", &FloatGradConfig::q_floor);

  py::class_<EpochRecord> record(m, "EpochRecord", "What one epoch of a fit did (cpp/include/lpcore/solver.hpp).");
  for (const auto& [name, member] : kEpochFields) record.def_readonly(name, member);
  record.def("__repr__", [](const EpochRecord& r) {
    std::string out = "EpochRecord(", sep;
    for (const auto& [name, member] : kEpochFields) {
      out += sep + name + "=" + py::repr(py::float_(r.*member)).cast<std::string>();
      sep = ", ";
    }
    return out + ")";
  });

  py::class_<FitResult>(m, "FitResult", "The fitted state and per-epoch history of a fit.")
      .def_property_readonly("coef", [](const FitResult& r) { return matrix(r, r.coef); })
      .def_property_readonly("centre", [](const FitResult& r) { return matrix(r, r.centre); })
      .def_property_readonly("offset", [](const FitResult& r) -> py::object {
        if (r.offset.empty()) return py::none();
        return matrix(r, r.offset);
      })
      .def_property_readonly("intercept", [](const FitResult& r) {
        return Array<double>(static_cast<py::ssize_t>(r.intercept.size()), r.intercept.data());
      })
      .def_property_readonly("history", [](const FitResult& r) { return columns(r.history, kEpochFields); })
      .def_readonly("initial_objective", &FitResult::initial_objective)
      .def_readonly("initial_grad_norm", &FitResult::initial_grad_norm)
      .def_readonly("n_iter", &FitResult::n_iter)
      .def_readonly("scale", &FitResult::scale)
      .def_readonly("mu", &FitResult::mu)
      .def_readonly("mu_min", &FitResult::mu_min)
      .def_readonly("converged", &FitResult::converged)
      .def_readonly("diverged", &FitResult::diverged)
      .def_readonly("divergence", &FitResult::divergence)
      .def_readonly("stalled", &FitResult::stalled)
      .def_readonly("stopped", &FitResult::stopped);
  py::class_<FloatGradResult>(m, "FloatGradResult", "A FitResult and its per-epoch shrinkage statistics.")
      .def_readonly("fit", &FloatGradResult::fit)
      .def_property_readonly("shrinkage", [](const FloatGradResult& r) { return columns(r.shrinkage, kShrinkageFields); });

  py::list pairs;
  for (const WidthPair& p : kWidthPairs) pairs.append(py::make_tuple(p.data_bits, p.bits));
  m.attr("WIDTH_PAIRS") = py::tuple(pairs);

  const auto nc = [](const char* name) { return py::arg(name).noconvert(); };
  m.def("fit", &fit_binding, py::arg("X"), py::arg("row_scale"), nc("y"), nc("coef0"), nc("intercept0"),
        py::arg("config"), py::arg("backend") = py::none(), nc("sample_weight") = py::none(),
        py::arg("epoch_hook") = py::none());
  m.def("fit_float_grad", &fit_float_grad_binding, nc("X"), nc("y"), nc("coef0"), nc("intercept0"),
        py::arg("config"), py::arg("grad"), py::arg("backend") = py::none(), nc("sample_weight") = py::none(),
        py::arg("epoch_hook") = py::none());
}

}  // namespace lpcore::python
