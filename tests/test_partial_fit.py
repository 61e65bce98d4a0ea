"""partial_fit: one solver epoch per chunk, with the model and the choices of
the first chunk carried over; and the same through dask-ml on a real
dask.distributed cluster."""

from pathlib import Path

import numpy as np
import pytest
from conftest import output_per_backend
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from lpcore import LowPrecisionClassifier, LowPrecisionRegressor

CONFIGS = [dict(solver="halp", bits=8), dict(solver="svrg", bits=8), dict(solver="sgd", bits=16),
           dict(solver="svrg", bits=32), dict(solver="sgd", bits=32, grad_format="bf16")]


def classification(n=2000, classes=3, seed=0):
    X, y = make_classification(n_samples=n, n_features=10, n_informative=6, n_classes=classes, random_state=seed)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("cfg", CONFIGS)
def test_first_call_is_one_epoch_of_fit(cfg):
    X, y = classification()
    part = LowPrecisionClassifier(random_state=0, **cfg).partial_fit(X, y, classes=[0, 1, 2])
    full = LowPrecisionClassifier(random_state=0, max_iter=1, tol=0, **cfg).fit(X, y)
    np.testing.assert_array_equal(part.coef_, full.coef_)
    np.testing.assert_array_equal(part.intercept_, full.intercept_)
    assert part.n_iter_ == 1 and len(part.history_["objective"]) == 1


@pytest.mark.parametrize("cfg", CONFIGS)
def test_chunks_carry_the_model_step_and_grid(cfg):
    X, y = classification()
    chunks = np.array_split(np.arange(len(y)), 4)
    clf = LowPrecisionClassifier(random_state=0, **cfg)
    clf.partial_fit(X[chunks[0]], y[chunks[0]], classes=[0, 1, 2])
    eta, scale, bits = clf.eta_, clf.scale_, clf.bits_
    before = clf.coef_.copy()
    # A chunk of smaller rows would change eta="auto" and delta="auto": both stay.
    clf.partial_fit(0.5 * X[chunks[1]], y[chunks[1]])
    assert clf.eta_ == eta and clf.bits_ == bits
    if cfg["solver"] != "halp" and cfg["bits"] != 32:
        assert clf.scale_ == scale  # LP-SGD / LP-SVRG keep their grid: the model stays on it
        steps = clf.coef_ / scale
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    assert not np.array_equal(clf.coef_, before)
    for c in chunks[2:]:
        clf.partial_fit(X[c], y[c], classes=[2, 0, 1])  # repeating classes (in any order) is allowed
    assert clf.n_iter_ == 4 and len(clf.history_["objective"]) >= 4
    assert clf.score(X, y) > 0.5  # three classes: chance is 1/3


def test_the_stream_reaches_the_full_fit():
    X, y = make_regression(n_samples=5000, n_features=10, noise=30, random_state=0)
    X, y = StandardScaler().fit_transform(X), (y - y.mean()) / y.std()
    order = np.argsort(X[:, 0])  # chunks sorted by a feature: each one alone is a biased sample
    X, y = X[order], y[order]
    full = LowPrecisionRegressor(random_state=0).fit(X, y).score(X, y)
    for cfg in CONFIGS[:4]:
        reg = LowPrecisionRegressor(random_state=0, **cfg)
        for c in np.array_split(np.arange(len(y)), 10):
            reg.partial_fit(X[c], y[c])
        assert reg.score(X, y) > full - 0.01, cfg


def test_chunk_with_one_class_and_multi_output_chunks():
    X, y = classification(classes=2)
    clf = LowPrecisionClassifier(random_state=0)
    clf.partial_fit(X[y == 0][:100], y[y == 0][:100], classes=[0, 1])
    clf.partial_fit(X[y == 1][:100], y[y == 1][:100])
    assert clf.coef_.shape == (1, 10) and list(clf.classes_) == [0, 1]
    Xr, Y = make_regression(n_samples=400, n_features=5, n_targets=2, noise=1.0, random_state=0)
    reg = LowPrecisionRegressor(random_state=0)
    for c in np.array_split(np.arange(400), 4):
        reg.partial_fit(Xr[c], Y[c] / Y.std())
    assert reg.coef_.shape == (2, 5)
    with pytest.raises(ValueError, match="same shape"):
        reg.partial_fit(Xr, Y[:, 0])


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda c, X, y: c.partial_fit(X, y, classes=[0, 1, 2]), None),  # fine, as a control
        (lambda c, X, y: c.partial_fit(X, y, classes=[0, 1, 2, 3]), "differs from the classes"),
        (lambda c, X, y: c.partial_fit(X, np.where(y == 2, 7, y)), "not in classes_"),
        (lambda c, X, y: c.partial_fit(X[:, :5], y), "features"),
        (lambda c, X, y: c.set_params(class_weight="balanced").partial_fit(X, y), "balanced"),
        (lambda c, X, y: c.partial_fit(X, y, sample_weight=-np.ones(len(y))), "Negative"),
    ],
)
def test_bad_chunks_are_refused_and_the_model_kept(call, match):
    X, y = classification()
    clf = LowPrecisionClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    state = (clf.coef_.copy(), clf.n_iter_)
    if match is None:
        call(clf, X, y)
        assert clf.n_iter_ == 2
        return
    with pytest.raises(ValueError, match=match):
        call(clf, X, y)
    np.testing.assert_array_equal(clf.coef_, state[0])
    assert clf.n_iter_ == state[1]


def test_halp_goes_on_adapting_mu_from_chunk_to_chunk():
    # One epoch per call: mu="auto" halves mu after a chunk whose epoch saturated,
    # as it would between the epochs of a fit.
    X, y = classification(n=6000, classes=2)
    clf = LowPrecisionClassifier(random_state=0)
    for c in np.array_split(np.arange(len(y)), 6):
        clf.partial_fit(X[c], y[c], classes=[0, 1])
    mu, saturated = clf.history_["mu"], clf.history_["saturated"]
    assert saturated[0] > 0.001
    for k in range(1, len(mu)):
        assert mu[k] == (mu[k - 1] / 2 if saturated[k - 1] > 0.001 else mu[k - 1])


def test_partial_fit_after_a_fit_that_started_at_its_optimum():
    # Zero targets without an intercept: the zero start is optimal, no epoch
    # runs and history_ is empty; the next chunk goes on from there.
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    reg = LowPrecisionRegressor(fit_intercept=False, random_state=0).fit(X, np.zeros(200))
    assert reg.n_iter_ == 0 and reg.history_["objective"].size == 0
    reg.partial_fit(X, y / y.std())
    assert reg.n_iter_ == 1


def test_first_call_needs_classes():
    X, y = classification()
    clf = LowPrecisionClassifier()
    with pytest.raises(ValueError, match="classes= on its first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "n_iter_")
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.partial_fit(X, y, classes=[0])


def test_partial_fit_after_fit_continues_from_it():
    X, y = classification()
    clf = LowPrecisionClassifier(random_state=0).fit(X, y)
    n, coef = clf.n_iter_, clf.coef_.copy()
    clf.partial_fit(X, y)  # fit set classes_: no classes= needed
    assert clf.n_iter_ == n + 1
    np.testing.assert_allclose(clf.coef_, coef, rtol=0.05, atol=0.02)  # a step from the fit, not a restart


def test_partial_fit_keeps_the_model_width_and_names_it_when_data_bits_does_not_pair():
    """partial_fit goes on at bits_; a data_bits that cannot pair with it is refused, naming bits_,
    and the model is kept; the next fit() takes the new widths."""
    X, y = make_regression(n_samples=300, n_features=5, noise=1.0, random_state=0)
    model = LowPrecisionRegressor(bits=8, random_state=0).partial_fit(X, y)
    coef = model.coef_.copy()
    model.set_params(bits=16, data_bits=16)
    with pytest.raises(ValueError, match=r"partial_fit goes on with the model's width bits_=8 \(bits=16 takes "
                                         r"effect at the next fit\(\)\), and data_bits=16 with bits=8"):
        model.partial_fit(X, y)
    assert np.array_equal(model.coef_, coef) and model.bits_ == 8
    model.set_params(data_bits="auto").partial_fit(X, y)  # 8-bit rows pair with the 8-bit model
    assert model.bits_ == 8 and model.data_bits_ == 8
    model.set_params(max_iter=2, tol=0).fit(X, y)
    assert (model.bits_, model.data_bits_) == (16, 8)


def test_weights_and_chunks_train_the_same_model_on_every_backend(tmp_path):
    code = (
        "import numpy as np, lpcore\n"
        "from sklearn.datasets import make_classification\n"
        "X, y = make_classification(n_samples=600, n_features=40, n_classes=3, n_informative=6, random_state=0)\n"
        "v = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)\n"
        "out = []\n"
        "for cfg in (dict(solver='halp', bits=8), dict(solver='svrg', bits=16), dict(solver='sgd', bits=32),\n"
        "            dict(solver='svrg', bits=32, grad_format='fp8_e4m3')):\n"
        "    m = lpcore.LowPrecisionClassifier(max_iter=4, tol=0, random_state=5, **cfg).fit(X, y, sample_weight=v)\n"
        "    p = lpcore.LowPrecisionClassifier(random_state=5, **cfg)\n"
        "    for c in np.array_split(np.arange(600), 3):\n"
        "        p.partial_fit(X[c], y[c], classes=[0, 1, 2], sample_weight=v[c])\n"
        "    out.append((m.coef_.tobytes() + m.intercept_.tobytes() + p.coef_.tobytes()).hex())\n"
        "print(lpcore.backend(), '|'.join(out))\n"
    )
    results = output_per_backend(code, tmp_path)
    assert len(set(results.values())) == 1, results


def recipe_blocks() -> list[str]:
    """The python code blocks of docs/algorithms.md's section on streams."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "algorithms.md").read_text()
    section = text.split("## Streams:", 1)[1].split("\n## ", 1)[0]
    return [part.split("```", 1)[0] for part in section.split("```python\n")[1:]]


def test_the_out_of_core_recipe_runs(tmp_path, monkeypatch):
    blocks = recipe_blocks()
    assert len(blocks) == 2
    X, y = classification(n=3000, classes=2)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(blocks[0].replace("250_000", "500"), scope)  # six chunks
    assert scope["clf"].n_iter_ == 6 and scope["clf"].score(X, y) > 0.8
    pytest.importorskip("dask_ml", reason="the [dask] extra is not installed")
    exec(blocks[1].replace("250_000", "500"), scope)
    assert scope["model"].estimator_.n_iter_ == 6


# ---- dask ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask_ml", reason="the [dask] extra is not installed")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_incremental_on_a_local_cluster(dask_client):
    import dask.array as da
    from dask_ml.wrappers import Incremental, ParallelPostFit

    assert len(dask_client.scheduler_info()["workers"]) == 2
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24000, 20))
    y = (X @ rng.normal(size=20) + rng.normal(size=24000) > 0).astype(int)
    Xd, yd = da.from_array(X, chunks=(2000, 20)), da.from_array(y, chunks=2000)
    assert Xd.numblocks[0] >= 10
    # The blocks go in one shuffled order (random_state), the same for both.
    ours = Incremental(LowPrecisionClassifier(random_state=0), scoring="accuracy", random_state=0)
    ours.fit(Xd, yd, classes=[0, 1])
    sgd = Incremental(SGDClassifier(random_state=0), scoring="accuracy", random_state=0).fit(Xd, yd, classes=[0, 1])
    assert ours.estimator_.n_iter_ == Xd.numblocks[0]  # one epoch per block, one pass
    assert ours.score(Xd, yd) >= sgd.score(Xd, yd)
    post = ParallelPostFit(ours.estimator_)
    np.testing.assert_array_equal(post.predict(Xd).compute(), ours.estimator_.predict(X))
    np.testing.assert_array_equal(post.predict_proba(Xd).compute(), ours.estimator_.predict_proba(X))
