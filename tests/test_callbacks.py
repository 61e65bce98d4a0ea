"""scikit-learn's callbacks (set_callbacks, ProgressBar, ScoringMonitor): one
subtask per solver epoch, with the model at the end of that epoch; and the
verbose progress line."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from lpcore import LowPrecisionClassifier, LowPrecisionRegressor

callback = pytest.importorskip("sklearn.callback", reason="scikit-learn before 1.9 has no callbacks")

# eta fixed for the float-gradient case: an eta="auto" restart's epochs are
# reported too (as history_ holds them), and the test compares epoch by epoch.
CONFIGS = [dict(solver="halp", bits=8), dict(solver="svrg", bits=32),
           dict(solver="sgd", bits=32, grad_format="fp8_e4m3", grad_scaling="dynamic", eta=0.01)]


class Recorder:
    """Keeps each epoch's fitted estimator; stops the fit once `stop_at` epochs ran."""

    def __init__(self, stop_at=None, fail_at=None):
        self.epochs, self.stop_at, self.fail_at = [], stop_at, fail_at
        self.torn_down = 0

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name != "epoch":
            return False
        self.epochs.append(fitted_estimator)
        if self.fail_at is not None and len(self.epochs) == self.fail_at:
            raise RuntimeError("callback failed")
        return self.stop_at is not None and len(self.epochs) >= self.stop_at

    def teardown(self, estimator, context):
        self.torn_down += 1


def data(n=400):
    return make_classification(n_samples=n, n_features=10, n_informative=6, n_classes=3, random_state=0)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_scoring_monitor_scores_every_epochs_model(cfg):
    X, y = data()
    monitor = callback.ScoringMonitor(scoring="accuracy")
    clf = LowPrecisionClassifier(random_state=0, max_iter=4, tol=0, **cfg).set_callbacks(monitor).fit(X, y)
    rows = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert len(rows) == clf.n_iter_ == 4
    for k, row in enumerate(rows, start=1):
        # The epoch's model is the model of a fit stopped there: same seed, same epochs.
        alone = LowPrecisionClassifier(random_state=0, max_iter=k, tol=0, **cfg).fit(X, y)
        assert row["accuracy"] == alone.score(X, y)
    assert rows[-1]["accuracy"] == clf.score(X, y)


def test_epoch_models_are_whole_estimators():
    X, y = make_regression(n_samples=300, n_features=6, noise=1.0, random_state=0)
    y = y / y.std()
    rec = Recorder()
    reg = LowPrecisionRegressor(random_state=0, max_iter=3, tol=0).set_callbacks(rec).fit(X, y)
    assert [e.n_iter_ for e in rec.epochs] == [1, 2, 3]
    assert all(e.coef_.shape == (6,) and np.ndim(e.intercept_) == 0 for e in rec.epochs)
    np.testing.assert_array_equal(rec.epochs[-1].predict(X), reg.predict(X))
    assert rec.torn_down == 1


def test_a_callback_can_stop_the_fit():
    X, y = data()
    rec = Recorder(stop_at=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopped on request: no warning
        clf = LowPrecisionClassifier(random_state=0, max_iter=100, tol=0).set_callbacks(rec).fit(X, y)
    assert clf.n_iter_ == 3 and len(rec.epochs) == 3
    alone = LowPrecisionClassifier(random_state=0, max_iter=3, tol=0).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, alone.coef_)


def test_a_failing_callback_leaves_the_estimator_and_is_torn_down():
    X, y = data()
    clf = LowPrecisionClassifier(random_state=0, max_iter=3, tol=0).fit(X, y)
    before = clf.coef_.copy()
    rec = Recorder(fail_at=2)
    with pytest.raises(RuntimeError, match="callback failed"):
        clf.set_callbacks(rec).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, before)
    assert rec.torn_down == 1
    assert not hasattr(clf, "_callback_fit_ctx")


def test_partial_fit_reports_one_epoch_per_call():
    X, y = data()
    rec = Recorder()
    clf = LowPrecisionClassifier(random_state=0).set_callbacks(rec)
    for c in np.array_split(np.arange(len(y)), 3):
        clf.partial_fit(X[c], y[c], classes=[0, 1, 2])
    assert [e.n_iter_ for e in rec.epochs] == [1, 2, 3] and rec.torn_down == 3


@pytest.mark.parametrize("Est", [LowPrecisionClassifier, LowPrecisionRegressor])
def test_progress_bar_follows_fit_and_partial_fit(Est, capsys):
    pytest.importorskip("rich")
    X, y = data()
    est = Est(random_state=0, max_iter=5, tol=0).set_callbacks(callback.ProgressBar())
    est.fit(X, y)
    est.partial_fit(X, y, **({"classes": [0, 1, 2]} if Est is LowPrecisionClassifier else {}))
    assert est.n_iter_ == 6
    assert Est.__name__ in capsys.readouterr().out


@pytest.mark.parametrize("answer,stops", [("yes", True), ("", False), (np.array([1.0]), True), (None, False)])
def test_any_true_answer_stops_the_fit(answer, stops):
    class Answer(Recorder):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            super().on_fit_task_end(estimator, context, fitted_estimator=fitted_estimator)
            return answer if context.task_name == "epoch" else False

    X, y = data()
    clf = LowPrecisionClassifier(random_state=0, max_iter=5, tol=0).set_callbacks(Answer()).fit(X, y)
    assert clf.n_iter_ == (1 if stops else 5)


def test_warnings_name_the_users_line():
    X, y = data()
    clf = LowPrecisionClassifier(random_state=0, max_iter=2).set_callbacks(Recorder())
    with pytest.warns(ConvergenceWarning) as caught:
        clf.fit(X, y)  # the line the warning must name
    assert caught[0].filename == __file__


def test_verbose_prints_a_line_per_epoch(capfd):
    X, y = data()
    LowPrecisionClassifier(random_state=0, max_iter=3, tol=0, verbose=1).fit(X, y)
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("lpcore epoch")]
    assert len(lines) == 3
    assert all("objective" in ln and "|grad|" in ln and " s " in ln for ln in lines)
