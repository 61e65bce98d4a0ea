"""Inputs that once crashed, hung or returned a silently wrong result.

Each test names the case as it was found. Calls that once crashed the
interpreter run in a forked child (tests/isolation.py), so that a regression
fails its test instead of ending the run. The divergence, backoff and
failed-refit cases are in test_defaults.py; the property-based search for
the rest is tests/fuzz/.
"""

import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from isolation import isolated
from lpcore import LowPrecisionClassifier, LowPrecisionRegressor, _bench, _core, kernels, quantize, shrinkage
from lpcore.float_formats import DYNAMIC_SCALE_EXPONENTS, dynamic_scale
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError
from test_defaults import standardized


@pytest.mark.parametrize("n_blocks", [2**58, 2**59, 2**64 - 1])
def test_random_bytes_of_an_impossible_size_raises(n_blocks):
    """32 * 2**59 wrapped around to 0 and the fill wrote past the buffer (SIGSEGV)."""
    with pytest.raises((ValueError, OverflowError, TypeError), match="too large|n_blocks|incompatible"):
        isolated(kernels.random_bytes, 0, n_blocks)


@pytest.mark.parametrize("name", ["epoch_length", "max_iter"])
def test_counts_beyond_64_bits_are_refused_by_name(name):
    """2**64 passed validation and then failed inside pybind11 with "incompatible function arguments"."""
    X, y = standardized("diabetes")
    with pytest.raises(InvalidParameterError, match=name):
        LowPrecisionRegressor(**{name: 2**64}).fit(X, y)


def _interrupted(setup: str, call: str, after: str = "") -> str:
    """Run `call` in a fresh interpreter, send SIGINT half a second in; what it printed on KeyboardInterrupt."""
    code = f"""
{setup}
print("running", flush=True)
try:
    {call}
except KeyboardInterrupt:
    print("KeyboardInterrupt", {after or '""'}, flush=True)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd="/")
    assert proc.stdout.readline().strip() == "running"
    time.sleep(0.5)  # inside the C++ loop: the call would run for hours
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{call} ignored SIGINT")
    return out.strip()


def _fit_then_interrupt(params):
    setup = f"""
import numpy as np
from lpcore import LowPrecisionRegressor
X = np.random.default_rng(0).normal(size=(50, 3))
model = LowPrecisionRegressor(**{params!r})
"""
    return _interrupted(setup, "model.fit(X, X[:, 0])", after='hasattr(model, "coef_")')


@pytest.mark.parametrize("params", [
    {"epoch_length": 2**40},
    {"solver": "svrg", "bits": 32, "epoch_length": 2**40},
    {"solver": "sgd", "bits": 32, "grad_format": "fp16", "epoch_length": 2**40},
    {"max_iter": 2**62, "tol": 0, "epoch_length": 1},
])
def test_ctrl_c_stops_a_long_fit(params):
    """epoch_length=2**40 never returned and ignored Ctrl-C."""
    assert _fit_then_interrupt(params) == "KeyboardInterrupt False"


def test_ctrl_c_during_a_refit_keeps_the_previous_model():
    setup = """
import numpy as np
from lpcore import LowPrecisionRegressor
X = np.random.default_rng(0).normal(size=(50, 3))
model = LowPrecisionRegressor(max_iter=5, random_state=0).fit(X, X[:, 0])
before = (model.coef_.copy(), model.n_iter_, model.history_)
model.set_params(epoch_length=2**40, warm_start=True)
"""
    after = ("np.array_equal(model.coef_, before[0]) and model.n_iter_ == before[1] and model.history_ is before[2] "
             "and model.epoch_length == 2**40")
    assert _interrupted(setup, "model.fit(X, X[:, 0])", after=after) == "KeyboardInterrupt True"


def test_a_fit_off_the_main_thread_runs_without_the_signal_check():
    """Only the main thread handles signals: elsewhere the loops poll nothing (no GIL taken)
    and give the same model."""
    from concurrent.futures import ThreadPoolExecutor
    X, y = standardized("diabetes")

    def fit():
        return LowPrecisionRegressor(max_iter=5, tol=0, random_state=0).fit(X, y / y.std())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main = fit()
        with ThreadPoolExecutor(2) as pool:
            others = [f.result() for f in [pool.submit(fit), pool.submit(fit)]]
    assert all(np.array_equal(o.coef_, main.coef_) for o in others)


@pytest.mark.parametrize("call", [
    "_bench.time_kernel('dot_i8', 4096, 2**20, 2**30)",
    "_bench.time_gather(1000, 64, 2**40, 16, 2**20)",
])
def test_ctrl_c_stops_the_bench_harness(call):
    """The timing loops' reps * inner calls (up to 2**50) could not be stopped."""
    assert _interrupted("from lpcore import _bench", call) == "KeyboardInterrupt"


@pytest.mark.parametrize("name,value", [
    ("eta", True), ("alpha", False), ("mu", True), ("delta", True), ("tol", True), ("max_iter", True),
    ("epoch_length", True), ("grad_scaling", True), ("n_jobs", True), ("bits", np.bool_(True)),
    ("eta", np.inf), ("alpha", np.inf), ("mu", np.inf), ("delta", np.inf), ("tol", np.inf), ("grad_scaling", np.inf),
    ("eta", 10**400), ("alpha", 10**400), ("tol", 10**400), ("n_jobs", 10**400),
])
def test_bools_and_infinities_are_not_numbers(name, value):
    """eta=True was accepted as 1.0, and eta=10**400 escaped as OverflowError."""
    X, y = standardized("diabetes")
    with pytest.raises(InvalidParameterError, match=name):
        LowPrecisionRegressor(**{name: value}).fit(X, y)


@pytest.mark.parametrize("bits,c", [
    (8, np.array([-2**63], dtype=np.int64)), (8, np.array([2**64 - 1], dtype=np.uint64)),
    (16, np.array([-2**63], dtype=np.int64)), (16, np.array([2**63], dtype=np.uint64)),
    (8, np.array([-16384], dtype=np.int16)), (16, np.array([-(2**29) - 1], dtype=np.int32)),
])
def test_offsets_outside_the_domain_are_refused(bits, c):
    """c = -2**63 got past the check (np.abs overflows) and was then used as 0."""
    update = kernels.update_i8 if bits == 8 else kernels.update_i16
    with pytest.raises(ValueError, match=r"\|c\| <="):
        update([0], [0], 0.0, c, random_state=0)


def test_offsets_at_the_domain_edge_are_accepted():
    for bits, update in ((8, kernels.update_i8), (16, kernels.update_i16)):
        lim = kernels.MAX_OFFSET[bits]
        z, _ = update([0, 0], [0, 0], 0.0, np.array([-lim, lim], dtype=np.int64), random_state=0)
        step = 2 ** (8 if bits == 8 else 16)
        assert abs(int(z[0]) + lim / step) <= 1 and abs(int(z[1]) - lim / step) <= 1


def test_shrinkage_beyond_float32_raises_and_tiny_gradients_are_measured():
    """[1e200, 1e200] gave norm_ratio 0, projection 0 and relative_error NaN."""
    with pytest.raises(ValueError, match="float32 range"):
        shrinkage([1e200, 1e200], "fp16")
    # Values that flush to zero are a result, not an "all zeros" error (||g||^2 underflowed).
    s = shrinkage([1e-200, 2e-200], "fp16")
    assert s["norm_ratio"] == 0 and s["projection"] == 0 and s["zero_fraction"] == 1 and s["relative_error"] == 1
    # A power-of-two scale that brings them into range measures them as if they were that large.
    a = shrinkage([1e-30, 3e-30], "fp16", scale=2.0**100)
    b = shrinkage([1e-30 * 2.0**100, 3e-30 * 2.0**100], "fp16")
    assert a.pop("scale") == 2.0**100 and b.pop("scale") == 1.0
    assert a == b and 0.99 < a["norm_ratio"] < 1.01


def test_subnormal_rows_quantize_without_a_zero_scale():
    for bits in (8, 16):
        q, scale = quantize(np.float32([1e-45, -1e-45]), bits, rounding="nearest")
        assert scale > 0 and np.array_equal(q, [1, -1])
    q, scale = quantize(np.float32([1e-40]), 16, rounding="nearest")
    assert abs(int(q[0])) < 32767 and abs(float(q[0]) * scale - np.float32(1e-40)) <= scale / 2


@pytest.mark.parametrize("params,advice", [
    ({"mu": 1e-6, "bits": 8}, "larger mu"),
    ({"solver": "svrg", "bits": 8, "delta": 1e30}, "smaller delta"),
    ({"solver": "sgd", "bits": 16, "delta": 1e30}, "smaller delta"),
    ({"solver": "svrg", "bits": 32, "grad_format": "fp16", "grad_scaling": 1e-300}, "grad_scaling='dynamic'"),
    ({"eta": 1e-300, "bits": 32}, "larger eta"),
    ({"alpha": 1e300}, "smaller alpha"),
])
def test_a_model_that_never_moved_gets_advice_that_names_the_cause(params, advice):
    """mu=1e-6, delta=1e30 and grad_scaling=1e-300 returned an all-zero model
    whose only warning advised "increase max_iter or eta"."""
    X, y = standardized("diabetes")
    with pytest.warns(ConvergenceWarning, match="never left their start") as caught:
        model = LowPrecisionRegressor(max_iter=20, random_state=0, **params).fit(X, y / y.std())
    assert np.all(model.coef_ == 0)
    message = " ".join(str(w.message) for w in caught)
    assert advice in message and "increase max_iter" not in message


def test_a_model_that_moved_still_gets_the_epochs_advice():
    X, y = standardized("diabetes")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LowPrecisionRegressor(bits=16, max_iter=3, random_state=0).fit(X, y / y.std())
    assert not any("never left" in str(w.message) for w in caught)
    assert any("increase max_iter" in str(w.message) for w in caught)
    # Its saturation warning once advised bits=16 to a 16-bit fit.
    assert not any("bits=16" in str(w.message) for w in caught)


def test_more_jobs_than_cores_is_every_core():
    X, y = standardized("iris")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = LowPrecisionClassifier(max_iter=3, n_jobs=10**6, random_state=0).fit(X, y)
        b = LowPrecisionClassifier(max_iter=3, n_jobs=1, random_state=0).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_)


# ---- found by the fuzz suite (tests/fuzz/) ----------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis", [((0,), 0), ((0, 3), 0), ((3, 0), 1), ((2, 0, 3), 1)])
def test_quantize_along_an_empty_axis(shape, axis):
    """A zero-length axis gave numpy's "cannot reshape array of size 0 into shape (0)"."""
    x = np.zeros(shape)
    q, scale = quantize(x, 8, axis=axis)
    expected_scale_shape = tuple(1 if i == axis else n for i, n in enumerate(shape))
    assert q.shape == shape and scale.shape == expected_scale_shape
    assert np.all(scale == 1.0)


@pytest.mark.parametrize("g", [[np.inf], [1.0, np.nan], [-np.inf, 2.0]])
def test_dynamic_scale_refuses_non_finite_gradients(g):
    """dynamic_scale returned 1.0 for a gradient with NaN or infinity in it."""
    with pytest.raises(ValueError, match="NaN or infinity"):
        dynamic_scale(g, "fp8_e4m3")


@pytest.mark.parametrize("y", [
    ["4", "2", "0", np.int64(3), np.int64(1), "0", "2", "4"],
    [3, "a", 3, "a", 1, "b", 1, "b"],
    [1.5, b"x", 1.5, b"x", 2.5, b"y", 2.5, b"y"],
])
def test_labels_of_mixed_types_are_refused_by_name(y):
    """Labels mixing str and int failed in numpy's sort with "ufunc 'less' did not contain a loop",
    or in scikit-learn with "Unknown label type: unknown ... a regression target"."""
    X = np.random.RandomState(0).standard_normal((8, 2))
    with pytest.raises(TypeError, match="all strings or all numbers; y holds"):
        LowPrecisionClassifier(max_iter=2).fit(X, np.array(y, dtype=object))


@pytest.mark.parametrize("g", [5e-324, [1e-310, -2e-320]])
def test_dynamic_scale_of_a_subnormal_gradient(g):
    """max / 5e-324 overflowed to inf and dynamic_scale raised OverflowError."""
    S = dynamic_scale(g, "bf16")
    assert S == 2.0 ** DYNAMIC_SCALE_EXPONENTS[1]
    assert shrinkage(g, "bf16", scale="dynamic")["scale"] == S


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_near_the_float32_limit_are_finite(dtype, n_classes):
    """float32 X near 3.4e38 gave infinite scores in float32 and NaN multinomial probabilities."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(int) + ((X[:, 1] > 0) if n_classes == 3 else 0)
    model = LowPrecisionClassifier(max_iter=20, random_state=0).fit(X, y)
    far = (3e38 * np.sign(X)).astype(dtype)
    proba = model.predict_proba(far)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)
    assert np.isfinite(model.decision_function(far)).all()
    assert set(model.predict(far)) <= set(model.classes_)


def test_an_overflowing_prediction_beyond_the_float32_range_is_refused():
    """Scores that overflow float64 come only from X beyond float32, which fit refuses too."""
    X = np.random.RandomState(0).standard_normal((40, 2))
    model = LowPrecisionRegressor(max_iter=20, random_state=0).fit(X, 10 * X[:, 0])
    with pytest.raises(ValueError, match="beyond the float32 range.*row 1, column 0"):
        model.predict(np.array([[1.0, 1.0], [1e308, 1.0]]))
    assert np.isfinite(model.predict(np.array([[3e38, -3e38]]))).all()


@pytest.mark.parametrize("call", [
    lambda: _bench.time_kernel("dot_i8", 2**40, 1, 1),
    lambda: _bench.time_kernel("dot_i8", 16, 2**21, 1),
    lambda: _bench.time_kernel("dot_i8", 16, 1, 2**31),
    lambda: _bench.kernel_bytes("update_f32", 2**62),
    lambda: _bench.time_gather(10, 10, 2**41, 1, 1),
    lambda: _bench.time_gather(10, 10, 10, 2**21, 1),
], ids=["n", "reps", "inner", "kernel_bytes", "gather rows", "gather lookahead"])
def test_the_bench_harness_refuses_sizes_that_wrap_or_never_end(call):
    """The bench bindings took any size: 16 * n wrapped, and reps * inner could run for years."""
    with pytest.raises(ValueError, match="at most"):
        isolated(call)


def _bench_kernel_names() -> list[str]:
    """benchmarks/bench_kernels.py's KERNELS: every kernel name the suite asks the harness for."""
    import importlib.util
    from pathlib import Path

    benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
    sys.path.insert(0, str(benchmarks))  # bench_kernels imports its sibling _common
    try:
        spec = importlib.util.spec_from_file_location("bench_kernels", benchmarks / "bench_kernels.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(benchmarks))
    return module.KERNELS


HARNESS_KERNELS = _bench_kernel_names()


@pytest.mark.parametrize("kernel", HARNESS_KERNELS)
@pytest.mark.parametrize("n", [1, 37, 224])
def test_the_bench_harness_runs_every_kernel_it_names(kernel, n):
    """Each name times its kernel on buffers of n elements (odd lengths included), and nothing else is accepted."""
    seconds = _bench.time_kernel(kernel, n, 2, 3)
    assert len(seconds) == 2 and all(0 < s < 1 for s in seconds)
    assert _bench.kernel_bytes(kernel, n) >= n
    with pytest.raises(ValueError, match="unknown kernel"):
        _bench.time_kernel(kernel + "_x", n, 1, 1)
