"""The C++ solvers against their step-by-step twins in tests/reference.py."""

import numpy as np
import pytest
import reference
from conftest import BACKENDS
from lpcore import _core, _data, _solver

LOSSES = [("squared", 1), ("logistic", 1), ("multinomial", 3)]
METHODS = ["sgd", "svrg", "halp"]
# (model bits, data bits) of the integer solvers: D8M8, D16M16 and D8M16.
WIDTHS = [(8, 8), (16, 16), (16, 8)]


def problem(bits, loss, K, n=30, d=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    if loss == "squared":
        y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    elif loss == "logistic":
        y = np.where(X[:, 0] + 0.5 * rng.normal(size=n) > 0, 1.0, -1.0)
    else:
        y = rng.integers(0, K, n).astype(np.float64)
    if bits == 32:
        return X, None, y
    data = _data.prepare(X, bits, pad=False)
    return data.rows, data.row_scale, y


def run(Xq, rs, y, K, backend=None, method="halp", loss="squared", **kw):
    d = Xq.shape[1]
    cfg = _solver.config(method, loss, **dict(dict(tol=0.0, verbose=0), **kw))
    return _core.fit(Xq, rs, y, np.zeros((K, d), np.float32), np.zeros(K), cfg, backend)


ARGS = dict(eta=0.05, alpha=0.01, mu=0.5, delta=0.01, epoch_length=40, max_iter=2, fit_intercept=True, seed=7)


@pytest.mark.parametrize("bits,data_bits", WIDTHS)
@pytest.mark.parametrize("loss,K", LOSSES)
@pytest.mark.parametrize("method", ["sgd", "svrg"])
def test_lp_integer_state_matches_reference_exactly(bits, data_bits, loss, K, method, backend):
    # LP-SGD / LP-SVRG use integer dot products only: every epoch is exact.
    Xq, rs, y = problem(data_bits, loss, K)
    r = run(Xq, rs, y, K, backend=backend, method=method, loss=loss, bits=bits, **ARGS)
    ref = reference.fit_reference(Xq, rs, y, K, method=method, loss=loss, bits=bits, data_bits=data_bits, **ARGS)
    assert np.any(ref["offset"] != 0)  # the comparison is not between two zero models
    np.testing.assert_array_equal(r.offset, ref["offset"])
    np.testing.assert_array_equal(r.coef, ref["coef"])
    np.testing.assert_allclose(r.intercept, ref["intercept"], rtol=1e-12)
    np.testing.assert_allclose(r.history["objective"], ref["objective"], rtol=1e-12)


# alpha where a refresh's shrinkage multiplier (Q8 / Q16) is 0 about half the
# time: the solver skips those passes and keeps the dots its fused update took.
SMALL_ALPHA = {8: 2.5e-3, 16: 1e-5}


@pytest.mark.parametrize("bits,data_bits", WIDTHS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("loss,K", [("logistic", 1), ("multinomial", 3)])
def test_skipped_shrinkage_changes_nothing(bits, data_bits, method, loss, K, backend):
    # (The epochs of 200 steps also run the in-loop re-rounding of the int8 offsets.)
    Xq, rs, y = problem(data_bits, loss, K)
    kw = dict(ARGS, alpha=SMALL_ALPHA[bits], epoch_length=200, max_iter=2)
    r = run(Xq, rs, y, K, backend=backend, method=method, loss=loss, bits=bits, **kw)
    ref = reference.fit_reference(Xq, rs, y, K, method=method, loss=loss, bits=bits, data_bits=data_bits, **kw)
    A = ref["shrink_multipliers"]
    assert np.any(A == 0) and np.any(A != 0), A  # both the skipped and the applied path ran
    # (HALP ends re-centred: its state is the centre, with a zero offset.)
    assert np.any(ref["centre" if method == "halp" else "offset"] != 0)
    np.testing.assert_array_equal(r.offset, ref["offset"])
    np.testing.assert_array_equal(r.coef, ref["coef"])
    if method == "halp":
        np.testing.assert_array_equal(r.centre, ref["centre"])


@pytest.mark.parametrize("bits,data_bits", WIDTHS)
@pytest.mark.parametrize("loss,K", LOSSES)
def test_halp_matches_reference(bits, data_bits, loss, K, backend):
    # The twin takes the centre's float dots x_i . w~ as dot_f32 specifies
    # them, so every epoch is exact: the integer offset, the float32 centre,
    # the scale, and the statistics up to the order of float64 operations in
    # the softmax.
    Xq, rs, y = problem(data_bits, loss, K)
    three = dict(ARGS, max_iter=3)
    r = run(Xq, rs, y, K, backend=backend, method="halp", loss=loss, bits=bits, **three)
    ref = reference.fit_reference(Xq, rs, y, K, method="halp", loss=loss, bits=bits, data_bits=data_bits, **three)
    assert np.any(ref["centre"] != 0)
    np.testing.assert_array_equal(r.centre, ref["centre"])
    np.testing.assert_array_equal(r.coef, ref["coef"])
    assert r.scale == ref["scale"]
    np.testing.assert_allclose(r.intercept, ref["intercept"], rtol=1e-12)
    np.testing.assert_allclose(r.history["objective"], ref["objective"], rtol=1e-12)
    np.testing.assert_allclose(r.history["grad_norm"], ref["grad_norm"], rtol=1e-12)


def test_reference_dot_f32_is_the_kernel():
    """The twin's dot_f32 (used for HALP's centre dots) is the kernel's, bit for bit."""
    rng = np.random.default_rng(3)
    for n in list(range(0, 70)) + [255, 1000]:
        for bits, dtype in ((8, np.int8), (16, np.int16)):
            lim = 127 if bits == 8 else 32767
            x = rng.integers(-lim, lim + 1, n).astype(dtype)
            w = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 3, n)).astype(np.float32)
            want = reference.dot_f32(x, w)
            for be in BACKENDS:
                got = getattr(_core, f"dot_i{bits}_f32")(x, w, be)
                assert np.float32(got).tobytes() == want.tobytes(), (n, bits, be)


# Cases where the adaptive mu moves both ways within four epochs: it halves
# after each of the first two epochs (more than 0.1% of the updates
# saturated), then quadruples after the third, which saturated none while the
# gradient norm and the objective grew.
ADAPTIVE = [
    (8, "squared", 1, dict(eta=0.05, mu=3.0), [3, 1.5, 0.75, 3]),
    (16, "squared", 1, dict(eta=0.05, mu=3.0), [3, 1.5, 0.75, 3]),
    (8, "multinomial", 3, dict(eta=0.2, mu=1.0), [1, 0.5, 0.25, 1]),
]


@pytest.mark.parametrize("bits,loss,K,args,expected", ADAPTIVE)
def test_halp_adaptive_mu_matches_reference(bits, loss, K, args, expected, backend):
    Xq, rs, y = problem(bits, loss, K, n=60, d=20)
    kw = dict(ARGS, max_iter=4, epoch_length=120, **args)
    r = run(Xq, rs, y, K, backend=backend, method="halp", loss=loss, adapt_mu=True, **kw)
    ref = reference.fit_reference(Xq, rs, y, K, method="halp", loss=loss, bits=bits, adapt=True, **kw)
    sat, grad = ref["saturated"], ref["grad_norm"]
    assert min(sat[:2]) > reference.MU_SATURATION_LIMIT and sat[2] == 0 and grad[2] > grad[1]
    # The same decisions, from the same saturation counts and growth: mu
    # moves by powers of two, so the sequences are equal exactly.
    np.testing.assert_array_equal(r.history["mu"], expected)
    np.testing.assert_array_equal(ref["mu"], expected)
    assert r.mu == expected[-1]
    np.testing.assert_array_equal(r.history["saturated"], ref["saturated"])
    np.testing.assert_allclose(r.history["grad_norm"], ref["grad_norm"], rtol=1e-12)
    np.testing.assert_array_equal(r.coef, ref["coef"])
    np.testing.assert_allclose(r.intercept, ref["intercept"], rtol=1e-12)
    assert r.scale == ref["scale"]
    np.testing.assert_allclose(r.history["objective"], ref["objective"], rtol=1e-12)
    # Each epoch's scale is ||g~_coef|| / (mu * qmax) with that epoch's mu: a
    # fixed mu equal to the first one takes the same first epoch exactly.
    fixed = run(Xq, rs, y, K, backend=backend, method="halp", loss=loss, **dict(kw, max_iter=1))
    first = run(Xq, rs, y, K, backend=backend, method="halp", loss=loss, adapt_mu=True, **dict(kw, max_iter=1))
    np.testing.assert_array_equal(first.coef, fixed.coef)


def test_adaptive_mu_is_bounded_and_only_for_halp():
    Xq, rs, y = problem(8, "squared", 1, n=60, d=20)
    kw = dict(ARGS, eta=0.05, epoch_length=40, max_iter=3)
    # [1 / (eta T), 1 / eta] = [0.5, 20]: a start outside is clamped.
    high = run(Xq, rs, y, 1, method="halp", loss="squared", adapt_mu=True, **dict(kw, mu=1e6))
    assert high.history["mu"][0] == 20.0
    low = run(Xq, rs, y, 1, method="halp", loss="squared", adapt_mu=True, **dict(kw, mu=1e-6))
    assert low.history["mu"][0] == 0.5
    # The floor is reported, so that Python's warnings never restate the rule.
    assert high.mu_min == low.mu_min == 0.5
    assert np.all((high.history["mu"] >= 0.5) & (high.history["mu"] <= 20))
    # A fixed mu is recorded as is; the methods without a mu record NaN.
    fixed = run(Xq, rs, y, 1, method="halp", loss="squared", **dict(kw, mu=1e6))
    np.testing.assert_array_equal(fixed.history["mu"], 1e6)
    for method, bits in (("svrg", 8), ("sgd", 16), ("halp", 32)):
        Xb, rb, yb = problem(bits, "squared", 1, n=60, d=20)
        r = run(Xb, rb, yb, 1, method=method, loss="squared", adapt_mu=True, **dict(kw, mu=3.0))
        assert np.isnan(r.history["mu"]).all() and np.isnan(r.mu) and np.isnan(r.mu_min)


@pytest.mark.parametrize("loss,K", LOSSES)
@pytest.mark.parametrize("method", ["sgd", "svrg"])
def test_fp32_solvers_match_float64_reference(loss, K, method, backend):
    X, _, y = problem(32, loss, K)
    args = dict(ARGS, eta=0.02)
    r = run(X, None, y, K, backend=backend, method=method, loss=loss, **args)
    ref = reference.fit_reference(X, None, y, K, method=method, loss=loss, bits=32, **args)
    assert r.offset is None
    np.testing.assert_allclose(r.coef, ref["coef"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(r.intercept, ref["intercept"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(r.history["objective"], ref["objective"], rtol=1e-5)


@pytest.mark.parametrize("bits,data_bits", WIDTHS + [(32, 32)])
@pytest.mark.parametrize("loss,K", LOSSES)
@pytest.mark.parametrize("method", METHODS)
def test_backends_train_identical_models(bits, data_bits, loss, K, method):
    # d = 100 exercises the SIMD bodies and their tails; several epochs re-centre HALP.
    Xq, rs, y = problem(data_bits, loss, K, n=60, d=100, seed=3)
    args = dict(ARGS, max_iter=4, epoch_length=120)
    fits = [run(Xq, rs, y, K, backend=be, method=method, loss=loss, bits=bits, **args) for be in BACKENDS]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.coef, fits[0].coef)
        np.testing.assert_array_equal(other.intercept, fits[0].intercept)
        np.testing.assert_array_equal(other.history["objective"], fits[0].history["objective"])


def test_halp_rescales_every_epoch_and_records_history():
    Xq, rs, y = problem(8, "squared", 1, n=200, d=20)
    r = run(Xq, rs, y, 1, method="halp", loss="squared", **dict(ARGS, max_iter=6, epoch_length=400, alpha=0.0, eta=0.01))
    h = r.history
    assert r.n_iter == 6 and all(len(v) == 6 for v in h.values())
    assert np.all(np.diff(h["scale"]) < 0)  # the grid shrinks with the gradient
    assert h["grad_norm"][-1] < 1e-2 * r.initial_grad_norm
    assert np.all(h["seconds"] >= h["inner_seconds"]) and np.all(h["inner_seconds"] > 0)
    assert np.all((h["saturated"] >= 0) & (h["saturated"] <= 1))


def test_the_epoch_hook_sees_each_epoch_record_and_can_stop_the_fit():
    Xq, rs, y = problem(8, "squared", 1, n=200, d=20)
    d = Xq.shape[1]
    cfg = _solver.config("halp", "squared", **dict(ARGS, max_iter=6, epoch_length=400, alpha=0.0, eta=0.01, tol=0.0,
                                                   verbose=0))
    seen = []

    def hook(epoch, record, coef, intercept):
        assert isinstance(record, _core.EpochRecord) and coef.shape == (1, d) and intercept.shape == (1,)
        seen.append((epoch, record, coef.copy()))
        return epoch == 4  # epochs count from 1: stop after the fourth

    r = _core.fit(Xq, rs, y, np.zeros((1, d), np.float32), np.zeros(1), cfg, None, None, hook)
    assert r.stopped and r.n_iter == 4 and [e for e, _, _ in seen] == [1, 2, 3, 4]
    for field, column in r.history.items():
        assert [getattr(rec, field) for _, rec, _ in seen] == column.tolist(), field
    assert np.array_equal(seen[-1][2], r.coef)
    assert "grad_norm=" in repr(seen[0][1])


def test_tol_stops_early():
    Xq, rs, y = problem(16, "squared", 1, n=200, d=20)
    r = run(Xq, rs, y, 1, method="halp", loss="squared", eta=0.02, alpha=0.0, mu=0.5, delta=1.0,
            epoch_length=400, max_iter=100, tol=1e-3, fit_intercept=True, seed=0)
    assert r.converged and r.n_iter < 100
    assert r.history["grad_norm"][-1] <= 1e-3 * r.initial_grad_norm


def test_divergence_is_reported_not_crashed():
    X, _, y = problem(32, "squared", 1)
    r = run(X, None, y, 1, method="svrg", loss="squared", **dict(ARGS, eta=50.0, max_iter=20))
    assert r.diverged


@pytest.mark.parametrize("bad", [-1.0, 3.0, 0.5, np.nan])
def test_out_of_range_labels_are_rejected(bad):
    X, _, y = problem(32, "multinomial", 3)
    y = y.copy()
    y[4] = bad
    with pytest.raises(ValueError, match="class indices"):
        run(X, None, y, 3, method="svrg", loss="multinomial", **ARGS)


def test_shapes_are_checked():
    X, _, y = problem(32, "squared", 1)
    with pytest.raises(ValueError, match="y"):
        run(X, None, y[:-1], 1, method="svrg", loss="squared", **ARGS)
    Xq, rs, y = problem(8, "squared", 1)
    with pytest.raises(ValueError, match="row_scale"):
        run(Xq, rs[:-1], y, 1, method="svrg", loss="squared", **ARGS)
    with pytest.raises(ValueError, match="row_scale"):
        run(Xq, None, y, 1, method="svrg", loss="squared", **ARGS)
    with pytest.raises(ValueError, match="float32, int8 or int16"):
        run(X.astype(np.float64), None, y, 1, method="svrg", loss="squared", **ARGS)


@pytest.mark.parametrize("method", ["sgd", "svrg", "halp"])
@pytest.mark.parametrize("bits", [8, 16, 32])
def test_zero_padding_columns_stay_zero_and_change_nothing_else(method, bits):
    """The estimators pad rows with zero columns to whole vector blocks: those
    coefficients stay exactly zero. fp32 trains the same model; at 8/16 bits the
    padding shifts the random streams (more coordinates to dither), so the
    model differs only as another seed's would."""
    if method == "halp" and bits == 32:
        pytest.skip("HALP at 32 bits is SVRG")
    X, rs, y = problem(bits, "logistic", 1)
    d = X.shape[1]
    padded = np.zeros((X.shape[0], d + 9), X.dtype)
    padded[:, :d] = X
    kw = dict(ARGS, method=method, loss="logistic")
    plain, wide = run(X, rs, y, 1, **kw), run(padded, rs, y, 1, **kw)
    assert not wide.coef[:, d:].any()
    if bits == 32:
        np.testing.assert_allclose(wide.coef[:, :d], plain.coef, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(wide.history["objective"], plain.history["objective"], rtol=1e-5)
    else:
        np.testing.assert_allclose(wide.history["objective"], plain.history["objective"], rtol=0.05)


def test_saturated_fraction_counts_features_not_padding():
    X, rs, y = problem(8, "squared", 1)
    d = X.shape[1]
    padded = np.zeros((X.shape[0], 64), X.dtype)
    padded[:, :d] = X
    kw = dict(ARGS, method="halp", loss="squared", mu=50.0)  # a narrow grid: updates saturate
    every_column, features_only = run(padded, rs, y, 1, **kw), run(padded, rs, y, 1, n_features=d, **kw)
    sat_all, sat_features = every_column.history["saturated"], features_only.history["saturated"]
    assert sat_all.max() > 0
    np.testing.assert_allclose(sat_features, sat_all * 64 / d, rtol=1e-12)
    with pytest.raises(ValueError, match="n_features"):
        run(padded, rs, y, 1, n_features=65, **kw)


@pytest.mark.parametrize("loss,K,method", [(loss, K, "svrg") for loss, K in LOSSES] + [("squared", 1, "sgd")])
def test_fp32_solvers_are_stable_for_a_penalty_as_large_as_the_curvature(loss, K, method):
    # eta alpha near 1/4: the lumped shrinkage k = 1 - (1 - eta alpha)^16 is
    # close to 1, and the fit must still descend like its float64 twin. (SGD
    # on the logistic losses starts next to this penalty's optimum, 0, and its
    # noise alone lifts the objective above the start, which reads as divergence.)
    X, _, y = problem(32, loss, K, n=60, d=8)
    L = _solver.LOSS_CURVATURE[loss] * float(np.mean(np.sum(X.astype(np.float64) ** 2, axis=1)) + 1.0)
    alpha = 10.0
    args = dict(ARGS, eta=1.0 / (2 * (L + alpha)), alpha=alpha, max_iter=4, epoch_length=120)
    r = run(X, None, y, K, method=method, loss=loss, **args)
    ref = reference.fit_reference(X, None, y, K, method=method, loss=loss, bits=32, **args)
    assert not r.diverged and np.all(np.isfinite(r.history["objective"]))
    assert r.history["objective"][-1] < r.initial_objective
    np.testing.assert_allclose(r.history["objective"], ref["objective"], rtol=1e-4)


@pytest.mark.parametrize("bits,data_bits", [(8, 16), (32, 8), (32, 16), (8, 32), (16, 32), (12, 8)])
def test_unsupported_width_pairs_are_refused(bits, data_bits):
    Xq, rs, y = problem(data_bits, "squared", 1)
    with pytest.raises(ValueError, match="not supported"):
        run(Xq, rs, y, 1, method="halp", loss="squared", bits=bits, **ARGS)


def test_the_exported_width_pairs_are_the_ones_that_train():
    """_core.WIDTH_PAIRS names every (data_bits, bits) pair fit() trains, and fit() refuses every other."""
    from lpcore._constants import WIDTH_PAIRS

    assert (8, 16) in WIDTH_PAIRS and all(data_bits <= bits for data_bits, bits in WIDTH_PAIRS)
    for data_bits in (8, 16, 32):
        Xq, rs, y = problem(data_bits, "squared", 1)
        for bits in (8, 16, 32):
            if (data_bits, bits) in WIDTH_PAIRS:
                r = run(Xq, rs, y, 1, method="svrg", loss="squared", **dict(ARGS, bits=bits, eta=0.005))
                assert r.n_iter == 2 and not r.diverged
            else:
                with pytest.raises(ValueError, match="not supported"):
                    run(Xq, rs, y, 1, method="svrg", loss="squared", **dict(ARGS, bits=bits))


def test_d8m16_is_not_d8m8_or_d16m16():
    # The 16-bit model on 8-bit rows is its own trainer: not the 8-bit model
    # on the same rows, and not the 16-bit model on 16-bit rows.
    X8, rs8, y = problem(8, "logistic", 1)
    X16, rs16, _ = problem(16, "logistic", 1)
    kw = dict(ARGS, max_iter=2)
    mixed = run(X8, rs8, y, 1, method="halp", loss="logistic", bits=16, **kw)
    assert not np.array_equal(mixed.coef, run(X8, rs8, y, 1, method="halp", loss="logistic", **kw).coef)
    assert not np.array_equal(mixed.coef, run(X16, rs16, y, 1, method="halp", loss="logistic", **kw).coef)
    # LP-SVRG's model at a grid step of 1e-3 holds coefficients near 0.78:
    # codes past the 8-bit grid's 127.
    lp_svrg = run(X8, rs8, y, 1, method="svrg", loss="logistic", bits=16, **dict(kw, delta=1e-3))
    assert np.abs(lp_svrg.offset).max() > 127


# Enough coordinates for 16 lanes of the full pass and 3 threads on it
# (kPassLanes, kPassLaneWork and kPassThreadWork in lpcore/solver.hpp).
LANES_N, LANES_D = 12_288, 256


@pytest.mark.parametrize("bits,data_bits", WIDTHS + [(32, 32)])
@pytest.mark.parametrize("loss,K", LOSSES)
@pytest.mark.parametrize("method", ["svrg", "halp"])
def test_the_thread_count_does_not_change_the_model(bits, data_bits, loss, K, method):
    Xq, rs, y = problem(data_bits, loss, K, n=LANES_N, d=LANES_D, seed=5)
    args = dict(ARGS, max_iter=3, epoch_length=2000, eta=0.002)
    fits = [run(Xq, rs, y, K, method=method, loss=loss, bits=bits, n_threads=t, **args) for t in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.coef, fits[0].coef)
        np.testing.assert_array_equal(other.intercept, fits[0].intercept)
        np.testing.assert_array_equal(other.history["objective"], fits[0].history["objective"])
        assert other.initial_grad_norm == fits[0].initial_grad_norm


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("data_bits", [8, 32])
def test_the_full_pass_over_many_lanes_sums_every_row_once(data_bits, n_threads):
    # At the zero model the first pass's gradient is X^T (0 - y) / n (squared
    # loss, no penalty): a lane dropped or counted twice would show here.
    Xq, rs, y = problem(data_bits, "squared", 1, n=LANES_N + 7, d=LANES_D, seed=6)
    r = run(Xq, rs, y, 1, method="svrg", max_iter=0, n_threads=n_threads, alpha=0.0, fit_intercept=False)
    X = Xq.astype(np.float64) * (rs[:, None] if rs is not None else 1.0)
    expected = np.linalg.norm(X.T @ (-y) / len(y))
    assert r.initial_grad_norm == pytest.approx(expected, rel=1e-5)
    assert r.initial_objective == pytest.approx(0.5 * np.mean(y**2), rel=1e-12)
