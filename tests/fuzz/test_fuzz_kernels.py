"""Fuzz every public kernel of ``lpcore.kernels``, and the compiled bindings under it.

The contract of a public kernel, for every argument a user can pass: a
ValueError or TypeError, the same on every backend, or a result that is bit
for bit the same on every backend and agrees with a NumPy reference. The
private bindings (``lpcore._core``) are fuzzed with arrays of any dtype,
length and shape, mismatched on purpose: they must raise or return, never
crash (and, in the sanitized CI build, never touch memory out of bounds).
Each case runs in a forked child, so a crash fails the case with its input.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import event, given, note
from hypothesis import strategies as st
from fuzz.settings import FUZZ
from isolation import isolated

from lpcore import _bench, _core, kernels, supported_backends

BACKENDS = supported_backends()
LENGTHS = [0, 1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 4097]
ALL_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint64", "float16", "float32", "float64", "bool",
              "complex64", "object"]
GRID = {"int8": 127, "int16": 32767}
REALS = [0.0, 1.0, -0.5, 0.25, 1e-3, 0.4999, 0.5, 0.5001, -1.0, 3.7, 127.0, 1e6, 1e-45, 1e-300, 3.4e38, 1e39,
         1e300, float("nan"), float("inf"), -float("inf")]


@st.composite
def arrays(draw, dtype, n=None):
    """An array meant to be of ``dtype`` (one draw in four: any dtype, values off range, 2-D, strided)."""
    n = draw(st.sampled_from(LENGTHS)) if n is None else n
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    hostile = draw(st.integers(0, 3)) == 0
    if dtype in GRID:
        lim = GRID[dtype]
        x = rng.randint(-lim, lim + 1, n).astype(np.int64)
        if draw(st.booleans()):  # the grid's ends
            x[rng.rand(n) < 0.3] = lim * rng.choice([-1, 1])
        if hostile and n and draw(st.booleans()):
            x[rng.randint(n)] = draw(st.sampled_from([-lim - 1, lim + 1, 2**40]))
    elif dtype == "uint8":
        x = rng.randint(0, 256, n)
    else:
        x = rng.standard_normal(n) * draw(st.sampled_from([1.0, 1e-3, 1e3, 1e-40, 1e30, 1e38]))
        if hostile and n and draw(st.booleans()):
            x[rng.randint(n)] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e39, 1e300]))
    target = draw(st.sampled_from(ALL_DTYPES)) if hostile and draw(st.booleans()) else dtype
    with np.errstate(all="ignore"):
        x = x.astype(target)
    shape = draw(st.sampled_from(["1-D", "1-D", "strided", "2-D", "list"])) if hostile else "1-D"
    if shape == "strided":
        x = np.repeat(x, 2)[::2]
    elif shape == "2-D":
        x = x.reshape(1, -1)
    elif shape == "list":
        x = x.tolist()
    return x


def _outcome(fn, *args, **kwargs):
    """('raised', type) or ('returned', value), for comparing backends."""
    try:
        return "returned", fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        assert str(exc).strip(), f"{type(exc).__name__} with no message"
        return "raised", type(exc).__name__


def _bits(value):
    """Something equal exactly when two results are bit for bit the same."""
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape, value.tobytes()
    if isinstance(value, float):
        return "float", np.float64(value).tobytes()
    if isinstance(value, tuple):
        return tuple(_bits(v) for v in value)
    return type(value).__name__, value


def _on_every_backend(fn, *args, **kwargs):
    """fn's outcome on each backend: the same everywhere, or the case fails."""
    outcomes = {be: _outcome(fn, *args, backend=be, **kwargs) for be in BACKENDS}
    first = outcomes[BACKENDS[0]]
    for be, out in outcomes.items():
        assert out[0] == first[0] and _bits(out[1]) == _bits(first[1]), f"{be} differs: {out} vs {first}"
    return first


def _close_f32(got, ref):
    """got (float32) within one ulp of the float64 reference ref, infinities and NaN alike."""
    ref32 = ref.astype(np.float32)
    same_nonfinite = (~np.isfinite(got) & ~np.isfinite(ref32) & ((got == ref32) | (np.isnan(got) & np.isnan(ref32))))
    ok = same_nonfinite | (np.abs(got.astype(np.float64) - ref) <= np.spacing(np.abs(ref32)).astype(np.float64))
    assert ok.all(), f"off the reference at {np.flatnonzero(~ok)[:5]}: {got[~ok][:5]} vs {ref32[~ok][:5]}"


# ---- the public kernels: what each must give ----------------------------------------------------------------------

def case_dot(draw):
    name = draw(st.sampled_from(["dot_i8", "dot_i16", "dot_f32"]))
    dtype = {"dot_i8": "int8", "dot_i16": "int16", "dot_f32": "float32"}[name]
    n = draw(st.sampled_from(LENGTHS))
    a = draw(arrays(dtype, n))
    b = draw(arrays(dtype, n if draw(st.integers(0, 7)) else draw(st.sampled_from(LENGTHS))))

    def run():
        kind, r = _on_every_backend(getattr(kernels, name), a, b)
        if kind == "returned":
            a64, b64 = np.asarray(a), np.asarray(b)
            if name != "dot_f32":
                assert r == int(np.dot(a64.astype(np.int64).ravel(), b64.astype(np.int64).ravel()))
            else:
                prods = a64.astype(np.float32).astype(np.float64) * b64.astype(np.float32).astype(np.float64)
                exact, mag = math.fsum(prods.ravel()), float(np.abs(prods).sum())
                if mag < 1e37:  # no overflow of a partial sum: the 32-lane sum's error bound
                    assert abs(r - exact) <= 2 * (prods.size + 1) * 2.0**-24 * mag + 1e-44, (r, exact)
        return f"{name} {kind}"
    return run


def case_axpy_update(draw):
    name = draw(st.sampled_from(["axpy_f32", "update_f32"]))
    n = draw(st.sampled_from(LENGTHS))
    x, y = draw(arrays("float32", n)), draw(arrays("float32", n))
    c = draw(arrays("float32", n))
    a = draw(st.sampled_from(REALS + [True, "1", np.float32(2.5), 2]))

    def run():
        if name == "axpy_f32":
            kind, r = _on_every_backend(kernels.axpy_f32, a, x, y)
        else:
            kind, r = _on_every_backend(kernels.update_f32, y, x, a, c)
        if kind == "returned":
            a32 = np.float64(np.float32(a))
            x64 = np.asarray(x, dtype=np.float32).astype(np.float64)
            base = np.asarray(y, dtype=np.float32)
            if name == "update_f32":
                base = base + np.asarray(c, dtype=np.float32)
            with np.errstate(all="ignore"):
                _close_f32(r, a32 * x64 + base.astype(np.float64))
        return f"{name} {kind}"
    return run


def case_update_int(draw):
    bits, data_bits = draw(st.sampled_from([(8, 8), (16, 16), (16, 8)]))  # the model's, the row's
    dtype, lim = ("int8", 127) if bits == 8 else ("int16", 32767)
    n = draw(st.sampled_from(LENGTHS))
    z, x = draw(arrays(dtype, n)), draw(arrays("int8" if data_bits == 8 else "int16", n))
    off = kernels.MAX_OFFSET[bits]
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    c_kind = draw(st.sampled_from(["zero", "random", "ends", "beyond", "float", "short", "int64 min", "uint64"]))
    c = {
        "zero": lambda: np.zeros(n, np.int64),
        "random": lambda: rng.randint(-off, off + 1, n),
        "ends": lambda: rng.choice([-off, off], n),
        "beyond": lambda: np.full(n, off + 1),
        "float": lambda: np.zeros(n),
        "short": lambda: np.zeros(max(n - 1, 0), np.int64),
        "int64 min": lambda: np.full(n, -(2**63), np.int64),
        "uint64": lambda: np.full(n, 2**64 - 1, np.uint64),
    }[c_kind]()
    a = draw(st.sampled_from(REALS + [2.0**-9, -(2.0**-9), 1.0 - 2.0**-16]))
    seed = draw(st.integers(0, 2**64 - 1))
    fn = {8: kernels.update_i8, 16: kernels.update_i16}[bits] if bits == data_bits else kernels.update_i8_i16

    def run():
        kind, r = _on_every_backend(fn, z, x, a, c, random_state=seed % 2**32)
        if kind == "returned":
            out, n_sat = r
            assert out.dtype == np.dtype(dtype) and out.shape == (n,)
            assert np.abs(out.astype(np.int64)).max(initial=0) <= lim and 0 <= n_sat <= n
            if a == 0 and not np.asarray(c).any():  # nothing to add: the grid point stays
                assert np.array_equal(out, np.asarray(z)) and n_sat == 0
            # Within rounding of clip(z + a x + c / 2**f): one step of dither, and a's own rounding to a
            # multiple of 2**-m (a in float32, |a| clamped to 2**(40-m)) times |x|, under half a step
            # (m = f, and 8 for the 8-bit row under a 16-bit model, whose |x| <= 127).
            frac = 8 if bits == 8 else 16
            mul = 8 if data_bits == 8 else 16
            with np.errstate(over="ignore"):
                a_used = np.clip(np.float64(np.float32(a)), -(2.0 ** (40 - mul)), 2.0 ** (40 - mul))
            ref = (np.asarray(z, np.float64) + a_used * np.asarray(x, np.float64)
                   + np.asarray(c, np.float64) / 2.0**frac)
            err = np.abs(out - np.clip(ref, -lim, lim))
            assert (err <= 1.5 + 1e-9).all(), f"off clip(z + a x + c / 2**{frac}) by {err.max()}"
        return f"update {data_bits}-bit row, {bits}-bit model: {kind}"
    return run


def case_bytes(draw):
    name = draw(st.sampled_from(["stream_sum", "random_bytes"]))
    if name == "stream_sum":
        buf = draw(arrays("uint8"))

        def run():
            kind, r = _on_every_backend(kernels.stream_sum, buf)
            if kind == "returned":
                assert r == int(np.asarray(buf).astype(np.int64).sum())
            return f"stream_sum {kind}"
        return run
    n_blocks = draw(st.sampled_from([0, 1, 2, 5, 100, -1, 2**58, 2**59, 2**63, 2**64, 1.5, True, "3", None]))
    seed = draw(st.sampled_from([0, 1, 2**32 - 1, -1, 2**32, 2**64, 1.5, "0"]))

    def run():
        kind, r = _on_every_backend(kernels.random_bytes, seed, n_blocks)
        if kind == "returned":
            assert r.dtype == np.uint8 and r.shape == (32 * n_blocks,)
            assert np.array_equal(r, kernels.random_bytes(seed, n_blocks))
            assert kernels.random_bytes(None, n_blocks).shape == r.shape  # None: a fresh seed
        return f"random_bytes {kind}"
    return run


def case_rows(draw):
    rows = draw(st.sampled_from([0, 1, 2, 5]))
    cols = draw(st.sampled_from(LENGTHS))
    name = draw(st.sampled_from(["quantize_rows", "dequantize_rows"]))
    scales = np.abs(draw(arrays("float32", rows if draw(st.integers(0, 7)) else rows + 1)))
    if draw(st.integers(0, 7)) == 0 and np.asarray(scales).dtype.kind == "f":
        scales = -np.asarray(scales)
    if name == "quantize_rows":
        x = np.asarray(draw(arrays("float32", rows * cols)))
        x = x.reshape(rows, cols) if x.size == rows * cols else x
        bits = draw(st.sampled_from([8, 16] * 4 + [32, 4, "8", True]))
        stochastic = draw(st.booleans())

        def run():
            kind, r = _on_every_backend(kernels.quantize_rows, x, scales, bits, stochastic=stochastic, random_state=5)
            if kind == "returned":
                q, clipped = r
                lim = 127 if bits == 8 else 32767
                assert q.shape == x.shape and 0 <= clipped <= q.size
                assert np.abs(q.astype(np.int64)).max(initial=0) <= lim
                with np.errstate(all="ignore"):
                    t = x.astype(np.float32) / np.asarray(scales, np.float32)[:, None]
                inside = np.abs(t) <= lim
                assert np.all(np.abs(q[inside] - t[inside].astype(np.float64)) <= 1.0 + 1e-6)
            return f"quantize_rows {kind}"
        return run
    dtype = draw(st.sampled_from(["int8", "int16"]))
    q = np.asarray(draw(arrays(dtype, rows * cols)))
    q = q.reshape(rows, cols) if q.size == rows * cols else q

    def run():
        kind, r = _on_every_backend(kernels.dequantize_rows, q, scales)
        if kind == "returned":
            ref = q.astype(np.float32) * np.asarray(scales, np.float32)[:, None]
            assert np.array_equal(r, ref, equal_nan=True)
        return f"dequantize_rows {kind}"
    return run


CASES = [case_dot, case_axpy_update, case_update_int, case_bytes, case_rows]


@FUZZ
@given(data=st.data())
def test_public_kernels(data):
    make = data.draw(st.sampled_from(CASES))
    run = make(data.draw)
    note(f"{make.__name__}")
    event(isolated(run, timeout=60))


# ---- the compiled bindings: any arrays at all --------------------------------------------------------------------

BINDINGS = {  # name: its arguments: an array of that dtype, F a float, D a Dither, I an int, S a string, B a backend
    "dot_i8": "i8 i8 B", "dot_i16": "i16 i16 B", "dot_f32": "f32 f32 B", "axpy_f32": "F f32 f32 B",
    "dot_i8_f32": "i8 f32 B", "dot_i16_f32": "i16 f32 B", "axpy_i8_f32": "F i8 f32 B", "axpy_i16_f32": "F i16 f32 B",
    "dot_rows_f32": "f32 f32 B", "dot_rows_i8_f32": "i8 f32 B", "dot_rows_i16_f32": "i16 f32 B",
    "axpy_rows_f32": "f32 f32 f32 B", "axpy_rows_i8_f32": "f32 i8 f32 B", "axpy_rows_i16_f32": "f32 i16 f32 B",
    "update_f32": "f32 f32 F f32 B", "update_i8": "i8 i8 F i16 D B", "update_i16": "i16 i16 F i32 D B",
    "update_dot_i8": "i8 i8 F i16 D i8 B", "update_dot_i16": "i16 i16 F i32 D i16 B",
    "dot_i8_i16": "i8 i16 B", "update_i8_i16": "i16 i8 F i32 D B", "update_dot_i8_i16": "i16 i8 F i32 D i8 B",
    "update_dot_f32": "f32 f32 F f32 f32 B", "round_offsets_i8": "f32 D B", "pack_offsets_i8": "i16",
    "pack_offsets_i16": "i32", "dequantize_i8": "i8 f32 B", "dequantize_i16": "i16 f32 B", "stream_sum": "u8 B",
    "fill_random": "I I B", "quantize_float": "f32 I I I I B",
}
BENCH_BINDINGS = {"kernel_bytes": "S I"}  # the same, in lpcore._bench
DTYPES = {"i8": "int8", "i16": "int16", "i32": "int32", "f32": "float32", "u8": "uint8"}


@st.composite
def binding_arrays(draw, dtype):
    """An array of the binding's dtype (one in eight: another), any length or shape, C, F or strided."""
    if draw(st.integers(0, 7)) == 0:
        dtype = draw(st.sampled_from(["int8", "int16", "int32", "int64", "float32", "float64", "uint8"]))
    shape = draw(st.sampled_from([(0,), (1,), (7,), (16,), (31,), (32,), (33,), (64,), (65,), (4096,), (4097,),
                                  (1, 16), (3, 5), (2, 64), (5, 33), (0, 4), (4, 0)]))
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape) * draw(st.sampled_from([1.0, 100.0, 1e5, 1e10]))
    with np.errstate(all="ignore"):
        x = x.astype(dtype)
    layout = draw(st.sampled_from(["C", "C", "C", "F", "strided"]))
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    return x


@FUZZ
@given(data=st.data())
def test_bindings_never_crash(data):
    name = data.draw(st.sampled_from(sorted(BINDINGS) + sorted(BENCH_BINDINGS)))
    module = _bench if name in BENCH_BINDINGS else _core
    args = []
    for kind in {**BINDINGS, **BENCH_BINDINGS}[name].split():
        if kind in DTYPES:
            args.append(data.draw(binding_arrays(DTYPES[kind])))
        elif kind == "F":
            args.append(data.draw(st.sampled_from(REALS)))
        elif kind == "D":
            args.append(_core.Dither(data.draw(st.integers(0, 2**32 - 1))))
        elif kind == "I":
            args.append(data.draw(st.sampled_from([0, 1, 2, 3, 4, 5, 17, -1, 2**62])))
        elif kind == "S":
            args.append(data.draw(st.sampled_from(["dot_i8", "update_i16", "nope", ""])))
        else:
            # A fixed list, not supported_backends(): the same draws on every machine.
            args.append(data.draw(st.sampled_from(["scalar", "avx2"] * 2 + ["avx512", ""])))
    shown = [f"{a.dtype}{a.shape}" if isinstance(a, np.ndarray) else repr(a) for a in args]
    note(f"{module.__name__}.{name}({', '.join(shown)})")

    def run():
        try:
            getattr(module, name)(*args)
            return f"{name} returned"
        except Exception as exc:  # noqa: BLE001 - any exception is fine here; a crash is not
            return f"{name} raised {type(exc).__name__}"

    event(isolated(run, timeout=60))


@st.composite
def fit_bindings(draw):
    """A call of _core.fit, fit_float_grad or prepare_rows: shapes, dtypes, labels and config at random."""
    name = draw(st.sampled_from(["fit", "fit_float_grad", "prepare_rows"]))
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    off = lambda m: m if draw(st.integers(0, 9)) else draw(st.sampled_from([0, max(m - 1, 0), m + 1, 2 * m + 3]))  # noqa: E731

    def pick(valid, invalid):  # a setting inside its domain, one draw in ten outside
        return draw(st.sampled_from(invalid if draw(st.integers(0, 9)) == 0 else valid))

    n = pick([1, 3, 8, 40], [0])
    d = pick([1, 5, 16, 32, 33, 64], [0])
    if name == "prepare_rows":
        X = rng.standard_normal((n, d)) * draw(st.sampled_from([1.0, 1e-40, 1e39]))
        with np.errstate(all="ignore"):
            X = X.astype(pick(["float64", "float32"], ["float16", "int8"]))
        if draw(st.booleans()):
            X = np.asfortranarray(X)
        bits = pick([8, 16, 32], [4])
        out_dtype = {8: np.int8, 16: np.int16, 32: np.float32}.get(bits, np.int8)
        if draw(st.integers(0, 5)) == 0:
            out_dtype = draw(st.sampled_from([np.int8, np.int16, np.float32, np.float64]))
        out = np.zeros((off(n), off(d)), out_dtype)
        if draw(st.integers(0, 7)) == 0:
            out = np.asfortranarray(out)
        per_row = lambda dtype: None if draw(st.integers(0, 9)) == 0 else np.zeros(off(n), dtype)  # noqa: E731
        scale = per_row(np.float32)
        if scale is not None and draw(st.booleans()):
            scale[:] = draw(st.sampled_from([1.0, 0.0, -1.0, 1e-45, np.nan]))
        kwargs = dict(scale=scale, given_scales=draw(st.booleans()), stochastic=draw(st.booleans()),
                      seed=draw(st.integers(0, 2**64 - 1)), sq_norm=per_row(np.float64), sq_x=per_row(np.float64),
                      sq_err=per_row(np.float64), n_threads=pick([1, 2, 3], [0, 5000]))
        return name, (X, bits, out), kwargs
    loss = draw(st.sampled_from(["squared", "logistic", "multinomial"]))
    k = pick({"multinomial": [2, 3, 5], "squared": [1, 2, 3]}.get(loss, [1]), [0, 1, 2])
    dtype = "float32" if name == "fit_float_grad" else draw(st.sampled_from(["float32", "int8", "int16"]))
    if dtype == "float32":
        X = (rng.standard_normal((n, d)) * draw(st.sampled_from([1.0, 1e-30, 1e30]))).astype(np.float32)
    else:
        lim = 127 if dtype == "int8" else 32767
        X = rng.randint(-lim, lim + 1, (n, d)).astype(dtype)
    if draw(st.integers(0, 7)) == 0:
        X = np.asfortranarray(X)
    per_row = k if loss == "squared" else 1  # the squared loss has a target per output
    labels = {"squared": rng.standard_normal(n * per_row), "logistic": rng.choice([-1.0, 1.0], n),
              "multinomial": rng.randint(0, max(k, 1), n).astype(np.float64)}[loss]
    if n and draw(st.integers(0, 9)) == 0:  # a label the loss cannot take
        labels[rng.randint(n)] = draw(st.sampled_from([-1.0, 0.5, float(k), 1e9, np.nan, np.inf]))
    y = np.resize(labels, off(n) * per_row)
    if draw(st.integers(0, 3)) == 0:
        y = y.reshape(len(y) // per_row, per_row) if per_row and len(y) else y  # as the estimators pass K targets
    weights = None
    if draw(st.integers(0, 2)) == 0:  # sample weights, one draw in ten a bad one
        good = [0.0, 1.0, 2.5, 1e-300, 1e300]
        weights = np.resize(rng.choice(pick([good], [good + [-1.0, np.nan, np.inf], [0.0], [1e308]])), off(n))
        if draw(st.integers(0, 9)) == 0:
            weights = weights.astype(np.float32)
    hooks = [None, lambda *a: False, lambda *a: True, lambda *a: 1 / 0, lambda *a: "stop", 3]
    extra = dict(sample_weight=weights, epoch_hook=draw(st.sampled_from(hooks)))
    row_scale = None if draw(st.integers(0, 9)) == 0 else np.abs(rng.standard_normal(off(n))).astype(np.float32) + 0.01
    coef0 = np.zeros((k, off(d)), np.float32)
    intercept0 = np.zeros(off(k))
    cfg = _core.SolverConfig()
    methods = ["sgd", "svrg"] if name == "fit_float_grad" else ["sgd", "svrg", "halp"]
    cfg.method = getattr(_core.Method, pick(methods, ["sgd", "svrg", "halp"]))
    cfg.loss = getattr(_core.Loss, loss)
    cfg.eta = pick([0.1, 1e-3, 10.0], [0.0, -1.0, float("nan"), float("inf")])
    cfg.alpha = pick([1e-4, 0.0, 1.0], [-1.0, float("nan")])
    cfg.mu = pick([3.0, 0.1], [0.0, -1.0, float("inf")])
    cfg.adapt_mu = draw(st.booleans())
    cfg.delta = pick([1e-2, 1e-6], [0.0, -1.0, float("nan")])
    cfg.epoch_length = pick([1, 5, 50], [0])
    cfg.max_iter = pick([1, 3], [0])
    cfg.tol = pick([1e-4, 0.0], [-1.0])
    cfg.fit_intercept = draw(st.booleans())
    cfg.n_features = pick([d, max(d - 1, 0), 0], [d + 1, 2**40])
    cfg.seed = draw(st.integers(0, 2**64 - 1))
    cfg.stop_on_stall = draw(st.booleans())
    cfg.prior_saturated = pick([-1.0, 0.0, 0.5], [float("nan"), 2.0])
    if name == "fit":
        return name, (X, row_scale, y, coef0, intercept0, cfg), extra
    grad = _core.FloatGradConfig()
    for field, values in (("format", [0, 1, 2, 3, 4, 5, -1]), ("rounding", [0, 1, 2, 3]), ("overflow", [0, 1, 2])):
        try:
            setattr(grad, field, draw(st.sampled_from(values)))
        except (ValueError, TypeError):
            pass
    grad.scaling = getattr(_core.GradScaling, draw(st.sampled_from(["none", "fixed", "dynamic"])))
    grad.loss_scale = pick([1.0, 1e3], [0.0, -1.0, float("inf")])
    grad.compensate = draw(st.booleans())
    grad.q_floor = pick([0.0, 0.1, 1.0], [-1.0])
    return name, (X, y, coef0, intercept0, cfg, grad), extra


@FUZZ
@given(call=fit_bindings())
def test_fit_and_data_bindings_never_crash(call):
    """The bindings with the most arguments: every shape, label and setting is checked before C++ indexes."""
    name, args, kwargs = call
    shown = [f"{a.dtype}{a.shape}" if isinstance(a, np.ndarray) else type(a).__name__ for a in args]
    note(f"_core.{name}({', '.join(shown)}, {sorted(kwargs)})")

    def run():
        try:
            getattr(_core, name)(*args, **kwargs)
            return f"{name} returned"
        except Exception as exc:  # noqa: BLE001 - any exception is fine here; a crash is not
            return f"{name} raised {type(exc).__name__}"

    event(isolated(run, timeout=60))
