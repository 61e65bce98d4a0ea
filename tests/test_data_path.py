"""The data path (lpcore/_data.py, cpp/src/data/prepare_rows.cpp) against its NumPy twin.

Every dtype, memory order and width, on every backend and thread count: the
rows, scales and norms must match reference.prepare_reference exactly.
"""

import tracemalloc

import numpy as np
import pytest
import lpcore
import reference
from lpcore import _core, _data
from lpcore._memory import padded_width


def raw(X, bits, width, backend, n_threads=1):
    """Every output of _core.prepare_rows for X."""
    n = X.shape[0]
    rows = np.full((n, width), 7, dtype=_data.ROW_DTYPES[bits])  # 7: the padding must be overwritten
    scale = np.empty(n, np.float32) if bits != 32 else None
    sq_norm, sq_x, sq_err = np.empty(n), np.empty(n), np.empty(n)
    status = _core.prepare_rows(X, bits, rows, scale=scale, sq_norm=sq_norm, sq_x=sq_x,
                                sq_err=sq_err if bits != 32 else None, n_threads=n_threads, backend=backend)
    assert status[0] == 0
    return rows, scale, sq_norm, sq_x, sq_err if bits != 32 else None


def layouts(X):
    """X as a user may hold it: C, F, a strided view, reversed rows."""
    big = np.zeros((2 * X.shape[0], 3 * X.shape[1]), X.dtype)
    big[::2, ::3] = X
    return {"C": np.ascontiguousarray(X), "F": np.asfortranarray(X), "strided": big[::2, ::3],
            "reversed": np.ascontiguousarray(X[::-1])[::-1]}


def sample(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.exp(rng.uniform(-3, 3, size=(n, 1)))
    if n > 3:
        X[1] = 0.0  # an all-zero row
        X[2, : d // 2] = 1e-42  # subnormal float32 values
        X[3] *= 1e30
    return X


def check_equal(got, want):
    for g, w, name in zip(got, want, ("rows", "scale", "sq_norm", "sq_x", "sq_err")):
        if w is None:
            assert g is None, name
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("bits", [8, 16, 32])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 7, 8, 33, 70])
def test_matches_the_numpy_twin_for_every_layout(backend, bits, dtype, d):
    X = sample(41, d, seed=d).astype(dtype)
    width = padded_width(d, bits)
    want = reference.prepare_reference(X, bits, width)
    for name, view in layouts(X).items():
        got = raw(view, bits, width, backend)
        check_equal(got, want)


@pytest.mark.parametrize("bits", [8, 16, 32])
@pytest.mark.parametrize("order", ["C", "F"])  # rows read in place, and in blocks (several per thread)
def test_thread_count_does_not_change_the_result(bits, order):
    X = np.asarray(sample(30000, 70, seed=3), order=order)  # 16 MB: several chunks of rows per thread
    width = padded_width(70, bits)
    one = raw(X, bits, width, None, n_threads=1)
    for threads in (2, 3, 7):
        check_equal(raw(X, bits, width, None, n_threads=threads), one)


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_prepare_summarizes_the_rows(backend, bits):
    X = sample(200, 45, seed=5)
    p = _data.prepare(X, bits, backend=backend, n_jobs=2)
    rows, scale, sq_norm, sq_x, sq_err = reference.prepare_reference(X, bits, padded_width(45, bits))
    np.testing.assert_array_equal(p.rows, rows)
    np.testing.assert_array_equal(p.row_sq_norms, sq_norm)
    if bits == 32:
        assert p.row_scale is None and p.rounding_error == 0.0
    else:
        np.testing.assert_array_equal(p.row_scale, scale)
        assert p.rounding_error == float(np.sqrt(np.sum(sq_err) / np.sum(sq_x)))
        # and it is the rounding error it claims to be
        X32 = X.astype(np.float32).astype(np.float64)
        deq = p.rows[:, :45] * p.row_scale[:, None].astype(np.float64)
        assert p.rounding_error == pytest.approx(np.linalg.norm(X32 - deq) / np.linalg.norm(X32), rel=1e-9)
    assert p.rows.flags.c_contiguous and p.n_features == 45


def test_empty_and_unpadded():
    p = _data.prepare(np.zeros((0, 5)), 8)
    assert p.rows.shape == (0, 32) and p.rounding_error == 0.0
    p = _data.prepare(np.ones((3, 5)), 16, pad=False)
    assert p.rows.shape == (3, 5) and (p.rows == 32767).all()
    for bits in (8, 32):  # rows of no columns (an empty float32 row is never copied)
        p = _data.prepare(np.zeros((3, 0), np.float32), bits)
        assert p.rows.shape == (3, 0) and p.rounding_error == 0.0 and (p.row_sq_norms == 0).all()


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN or infinity"), (np.inf, "NaN or infinity"),
                                          (-1e39, "beyond the float32 range")])
@pytest.mark.parametrize("bits", [8, 32])
@pytest.mark.parametrize("order", ["C", "F"])  # rows read in place, and in blocks
def test_bad_values_are_reported_where_they_are(bad, message, bits, order):
    X = np.ones((300, 20))
    X[217, 13] = bad
    X[250, 2] = bad
    with pytest.raises(ValueError, match=f"{message}.*row 217, column 13"):
        _data.prepare(np.asarray(X, order=order), bits, n_jobs=3)


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_first_bad_value_is_reported_whichever_thread_finds_it(order):
    X = np.ones((30000, 70))  # several chunks of rows
    X[29000, 5] = X[21000, 69] = X[8000, 1] = np.nan
    for threads in (1, 2, 5):
        status = _core.prepare_rows(np.asarray(X, order=order), 8, np.empty((30000, 96), np.int8),
                                    scale=np.empty(30000, np.float32), n_threads=threads)
        assert tuple(status[:3]) == (_data.NOT_FINITE, 8000, 1)


def quantize_sqerr_reference(x, scale, bits):
    """NumPy twin of the fused kernel quantize_sqerr_*: (q, sq_err, sum_q2, clipped)."""
    qmax = np.float32(127 if bits == 8 else 32767)
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.clip(x / np.float32(scale), -(qmax + 1), qmax + 1)
        clipped = int(np.sum(np.abs(np.rint(y)) > qmax))
        q = reference.quantize_reference(x[None, :], [scale], bits, False, 0)[0]
        q64 = q.astype(np.float64)
        e = x.astype(np.float64) - q64 * np.float64(np.float32(scale))
        return q, float(reference.lane_sum((e * e)[None, :])[0]), float(np.sum(q64 * q64)), clipped


def fused_cases(bits, rng):
    """Rows that take every path of the fused kernel: the common groups, and
    groups with a value at or past the grid's end (ties of y = qmax + 1/2
    included), clipped values, infinities, ties, subnormal and huge scales."""
    qmax = 127 if bits == 8 else 32767
    for n in (1, 7, 8, 15, 31, 32, 33, 100, 257):
        x = (rng.standard_normal(n) * np.exp(rng.uniform(-20, 20))).astype(np.float32)
        amax = np.float32(np.abs(x).max())
        s = np.float32(amax / np.float32(qmax)) if amax > 0 else np.float32(1)
        for factor in (1.0, 1 - 2**-23, 1 + 2**-23, 0.5, 0.999, 3.0):  # 0.5, 0.999: some clip
            yield x, np.float32(s * np.float32(factor))
    ties = (rng.integers(-qmax, qmax, size=64) + 0.5).astype(np.float32) / np.float32(8)
    ties[5], ties[40] = (qmax + 0.5) / 8, -(qmax + 0.5) / 8  # round to qmax + 1: clipped
    yield ties, np.float32(1 / 8)
    up, down = ties, ties
    for _ in range(3):  # one, two and three ulps from the ties, either way
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        yield up, np.float32(1 / 8)
        yield down, np.float32(1 / 8)
    yield (rng.standard_normal(40) * 1e-39).astype(np.float32), np.float32(1e-41)  # subnormal scale
    yield (rng.standard_normal(40) * 1e38).astype(np.float32), np.float32(3e36)
    x = rng.standard_normal(48).astype(np.float32)
    x[[3, 17, 30]] = [np.inf, -np.inf, np.inf]
    yield x, np.float32(0.01)
    # A row long enough that the int8 kernel's int32 sums of q^2 are flushed
    # into int64 (every 2^14 blocks of 32) and end at a partial count.
    x = rng.standard_normal((1 << 19) + 32 * 5 + 9).astype(np.float32)
    yield x, np.float32(np.abs(x).max() / np.float32(qmax))


@pytest.mark.parametrize("bits", [8, 16])
def test_fused_quantize_matches_its_twin_on_every_path(backend, bits):
    fn = _core.quantize_sqerr_i8 if bits == 8 else _core.quantize_sqerr_i16
    rng = np.random.default_rng(bits)
    for x, scale in fused_cases(bits, rng):
        q, err, q2, clipped = fn(x, float(scale), backend=backend)
        want_q, want_err, want_q2, want_clipped = quantize_sqerr_reference(x, scale, bits)
        np.testing.assert_array_equal(q, want_q)
        assert (err, q2, clipped) == (want_err, want_q2, want_clipped), (len(x), scale)


@pytest.mark.parametrize("bits", [8, 16])
def test_fused_quantize_takes_nan_to_zero_on_every_backend(bits):
    fn = _core.quantize_sqerr_i8 if bits == 8 else _core.quantize_sqerr_i16
    x = np.random.default_rng(1).standard_normal(41).astype(np.float32)
    x[[0, 9, 40]] = np.nan
    got = [fn(x, 0.05, backend=be) for be in lpcore.supported_backends()]
    for q, err, q2, clipped in got:
        assert q[0] == q[9] == q[40] == 0 and np.isnan(err) and clipped == 0
        np.testing.assert_array_equal(q, got[0][0])
        assert q2 == got[0][2]


def test_no_temporary_the_size_of_x():
    """A float64 X is read in blocks: the largest NumPy allocation during an
    8-bit prepare is the int8 output (an eighth of X), never a float copy."""
    X = np.random.default_rng(0).standard_normal((4000, 500))
    tracemalloc.start()
    try:
        _data.prepare(X, 8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.2 * X.nbytes, peak


def test_reads_a_memmap(tmp_path):
    X = sample(300, 17, seed=9)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float64, shape=X.shape, fortran_order=True)
    mm[:] = X
    mm.flush()
    ro = np.load(tmp_path / "x.npy", mmap_mode="r")
    got, want = _data.prepare(ro, 8), _data.prepare(X, 8)
    np.testing.assert_array_equal(got.rows, want.rows)
    np.testing.assert_array_equal(got.row_scale, want.row_scale)


def test_binding_checks_shapes_and_types():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="out must be"):
        _core.prepare_rows(X, 8, np.empty((4, 2), np.int8), scale=np.empty(4, np.float32))
    with pytest.raises(ValueError, match="out must be"):
        _core.prepare_rows(X, 8, np.empty((4, 3), np.int16), scale=np.empty(4, np.float32))
    with pytest.raises(ValueError, match="scale must be"):
        _core.prepare_rows(X, 8, np.empty((4, 3), np.int8), scale=np.empty(3, np.float32))
    with pytest.raises(ValueError, match="need a scale"):
        _core.prepare_rows(X, 16, np.empty((4, 3), np.int16))
    with pytest.raises(ValueError, match="float32 or float64"):
        _core.prepare_rows(X.astype(np.int32), 32, np.empty((4, 3), np.float32))
    with pytest.raises(ValueError, match="sq_norm must be"):
        _core.prepare_rows(X, 32, np.empty((4, 3), np.float32), sq_norm=np.empty(5))
    with pytest.raises(ValueError, match="bits must be"):
        _core.prepare_rows(X, 4, np.empty((4, 3), np.int8))
    for sums in ({"sq_norm": np.empty(4)}, {"sq_err": np.empty(4)}):  # no rounding error for random rounding
        with pytest.raises(ValueError, match="stochastic rounding gives neither"):
            _core.prepare_rows(X, 8, np.empty((4, 3), np.int8), scale=np.empty(4, np.float32), stochastic=True,
                               **sums)
    with pytest.raises(ValueError, match="2-D"):
        _core.prepare_rows(np.ones(3), 32, np.empty((1, 3), np.float32))
    read_only = np.empty((4, 3), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        _core.prepare_rows(X, 32, read_only)


def test_tiny_rows_get_a_scale_that_does_not_saturate():
    """Where max|x| / qmax underflows float32's normal range, the scale is
    rounded up, so every value still rounds to within half a step."""
    for bits, x in ((8, [1e-45, -1e-45]), (16, [1e-40, 3e-41]), (8, [1e-38, 2e-39])):
        x32 = np.float32(x)
        p = _data.prepare(np.array([x]), bits, pad=False)
        scale = p.row_scale[0]
        assert scale > 0
        assert np.array_equal(p.row_scale, reference.row_scale_reference(np.abs(x32).max(keepdims=True),
                                                                         2 ** (bits - 1) - 1))
        err = np.abs(p.rows[0].astype(np.float64) * float(scale) - x32.astype(np.float64))
        assert (err <= float(scale) / 2).all(), (x, scale, p.rows)


def test_the_widths_constants_agree_with_each_other():
    """_core's per-width constants describe one width each: an element of `bits` bits whose integer range
    holds the symmetric grid [-GRID_MAX, GRID_MAX] and no more than one value beyond it, and whose block
    fills one 256-bit vector."""
    from lpcore._constants import BLOCK_COLUMNS, GRID_MAX, INT_DTYPES, ROW_DTYPES

    assert set(ROW_DTYPES) == set(BLOCK_COLUMNS) == {8, 16, 32}
    for bits, dtype in ROW_DTYPES.items():
        assert np.dtype(dtype).itemsize * 8 == bits
        assert BLOCK_COLUMNS[bits] * bits == 256
    assert {bits for bits, dtype in ROW_DTYPES.items() if np.issubdtype(dtype, np.integer)} == set(GRID_MAX)
    assert set(INT_DTYPES) == {8, 16}
    for bits, dtype in INT_DTYPES.items():
        info = np.iinfo(dtype)
        assert info.max == GRID_MAX[bits] and info.min == -GRID_MAX[bits] - 1
    assert np.dtype(ROW_DTYPES[32]) == np.float32
