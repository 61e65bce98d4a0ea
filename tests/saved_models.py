"""Fits whose results are saved, to prove that a change of structure changes no model.

``tests/data/saved_models.npz`` holds, for every case below, the ``coef_``,
``intercept_`` and ``n_iter_`` that the code produced when the file was
written, together with the data it was fitted on. ``test_saved_models.py``
refits every case and asserts bit-identical results on whichever backend is
active (CI runs the suite once per backend). Rewrite the file only for a
change that is meant to change models, and say so in the commit:

    python tests/saved_models.py --write
"""

import sys
import warnings
from pathlib import Path

import numpy as np

PATH = Path(__file__).resolve().parent / "data" / "saved_models.npz"


def problems() -> dict:
    """Small dense problems: X float64 (300, 20), and y for each loss."""
    rng = np.random.default_rng(20261205)
    X = rng.standard_normal((300, 20)) * rng.uniform(0.2, 3.0, 20)
    w = rng.standard_normal(20)
    margin = X @ w / np.sqrt(20)
    return {
        "X": X,
        "y_reg": margin + 0.3 * rng.standard_normal(300),
        "y_bin": (margin + 0.5 * rng.standard_normal(300) > 0).astype(np.int64),
        "y_multi": np.digitize(margin + 0.3 * rng.standard_normal(300), [-0.5, 0.5]),
        "sample_weight": rng.uniform(0.1, 3.0, 300),
    }


# (name, estimator, target, parameters, how): how is "fit", "weighted" or "partial".
CASES = [
    ("reg_default", "regressor", "y_reg", {}, "fit"),
    ("reg_halp8", "regressor", "y_reg", {"bits": 8}, "fit"),
    ("reg_halp16_d16", "regressor", "y_reg", {"bits": 16, "data_bits": 16}, "fit"),
    ("reg_halp32", "regressor", "y_reg", {"bits": 32}, "fit"),
    ("reg_halp8_fixed", "regressor", "y_reg", {"bits": 8, "mu": 10.0, "delta": 0.01, "eta": 0.01}, "fit"),
    ("reg_svrg8", "regressor", "y_reg", {"solver": "svrg", "bits": 8}, "fit"),
    ("reg_svrg16_d8", "regressor", "y_reg", {"solver": "svrg", "bits": 16, "data_bits": 8}, "fit"),
    ("reg_svrg32", "regressor", "y_reg", {"solver": "svrg", "bits": 32}, "fit"),
    ("reg_sgd8", "regressor", "y_reg", {"solver": "sgd", "bits": 8}, "fit"),
    ("reg_sgd16", "regressor", "y_reg", {"solver": "sgd", "bits": 16}, "fit"),
    ("reg_sgd32", "regressor", "y_reg", {"solver": "sgd", "bits": 32}, "fit"),
    ("reg_no_intercept", "regressor", "y_reg", {"fit_intercept": False, "alpha": 1e-2}, "fit"),
    ("reg_weighted", "regressor", "y_reg", {"bits": 8}, "weighted"),
    ("reg_partial", "regressor", "y_reg", {}, "partial"),
    ("reg_fp8_stochastic", "regressor", "y_reg",
     {"solver": "sgd", "bits": 32, "grad_format": "fp8_e4m3", "grad_rounding": "stochastic",
      "step_compensation": "shrinkage"}, "fit"),
    ("reg_bf16_dynamic", "regressor", "y_reg",
     {"solver": "sgd", "bits": 32, "grad_format": "bf16", "grad_scaling": "dynamic"}, "fit"),
    ("reg_fp4_fixed", "regressor", "y_reg",
     {"solver": "sgd", "bits": 32, "grad_format": "fp4_e2m1", "grad_scaling": 64.0}, "fit"),
    ("bin_default", "classifier", "y_bin", {}, "fit"),
    ("bin_halp8", "classifier", "y_bin", {"bits": 8}, "fit"),
    ("bin_svrg32", "classifier", "y_bin", {"solver": "svrg", "bits": 32}, "fit"),
    ("bin_sgd8", "classifier", "y_bin", {"solver": "sgd", "bits": 8}, "fit"),
    ("bin_balanced", "classifier", "y_bin", {"class_weight": "balanced"}, "fit"),
    ("bin_weighted", "classifier", "y_bin", {"solver": "svrg", "bits": 16}, "weighted"),
    ("multi_default", "classifier", "y_multi", {}, "fit"),
    ("multi_halp8", "classifier", "y_multi", {"bits": 8}, "fit"),
    ("multi_svrg32", "classifier", "y_multi", {"solver": "svrg", "bits": 32}, "fit"),
    ("multi_sgd16", "classifier", "y_multi", {"solver": "sgd", "bits": 16}, "fit"),
    ("multi_partial", "classifier", "y_multi", {"bits": 8}, "partial"),
]


def fit_case(case, data: dict):
    """Fit one case with 6 epochs and random_state=0; returns the estimator."""
    from lpcore import LowPrecisionClassifier, LowPrecisionRegressor

    _, kind, target, params, how = case
    Est = LowPrecisionRegressor if kind == "regressor" else LowPrecisionClassifier
    est = Est(**{"max_iter": 6, "tol": 0.0, "random_state": 0, **params})
    X, y = data["X"], data[target]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 6 epochs do not converge, and say so
        if how == "weighted":
            est.fit(X, y, sample_weight=data["sample_weight"])
        elif how == "partial":
            extra = {"classes": np.unique(y)} if kind == "classifier" else {}
            est.partial_fit(X[:150], y[:150], **extra)
            est.partial_fit(X[150:], y[150:])
        else:
            est.fit(X, y)
    return est


def results(est) -> dict:
    return {"coef": np.asarray(est.coef_), "intercept": np.atleast_1d(est.intercept_),
            "n_iter": np.asarray(est.n_iter_)}


def write(path: Path = PATH) -> None:
    data = problems()
    out = dict(data)
    for case in CASES:
        for key, value in results(fit_case(case, data)).items():
            out[f"{case[0]}/{key}"] = value
    path.parent.mkdir(exist_ok=True)
    np.savez_compressed(path, **out)
    print(f"wrote {len(CASES)} cases to {path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    write()
