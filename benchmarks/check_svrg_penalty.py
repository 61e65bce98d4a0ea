"""How the L2 penalty enters SVRG's inner loop, and what it does to convergence
(not part of the suite; docs/algorithms.md, "The L2 penalty in the inner loop").

Standardized make_classification(400, 8), logistic loss, T = 2n steps an
epoch, eta = 1 / (2 L) with L the mean smoothness (lpcore's eta="auto").
Prints the relative gradient norm after 10 / 20 / 40 epochs of four float64
loops (NumPy) and of lpcore's fp32 SVRG and HALP-8:

* textbook:   every step  w -= eta ((phi_i(w) - phi_i(w~)) x_i + g~ + alpha (w - w~))
* toward 0:   the penalty lumped every 16 steps as w <- (1 - k) w, the offset
              holding the loss gradient only (lpcore's fp32 SVRG before 2026-12-04)
* centred:    lumped as w <- w - k (w - w~), alpha w~ in the offset (lpcore now)

    python benchmarks/check_svrg_penalty.py
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from lpcore import LowPrecisionClassifier

P = 16  # steps between two shrinkages (kRefreshPeriod)
EPOCHS = (10, 20, 40)


def problem():
    X, y = make_classification(n_samples=400, n_features=8, n_informative=5, random_state=0)
    X = StandardScaler().fit_transform(X)
    return np.c_[X, np.ones(len(y))], np.where(y == 1, 1.0, -1.0)


def gradient(Xa, t, w, alpha):
    d = Xa.shape[1] - 1
    p = -t / (1 + np.exp(t * (Xa @ w)))
    g = Xa.T @ p / len(t)
    g[:d] += alpha * w[:d]
    return g


def svrg(Xa, t, alpha, eta, variant, seed=0):
    n, d1 = Xa.shape
    d = d1 - 1
    rng = np.random.default_rng(seed)
    w = np.zeros(d1)
    g0 = np.linalg.norm(gradient(Xa, t, w, alpha))
    k = 1 - (1 - eta * alpha) ** P
    out = []
    for epoch in range(1, max(EPOCHS) + 1):
        anchor = w.copy()
        g_anchor = gradient(Xa, t, anchor, alpha)
        if variant != "textbook":
            g_anchor[:d] -= alpha * anchor[:d]  # the loss part; the penalty is lumped
        if variant == "centred":
            g_anchor[:d] += alpha * anchor[:d]  # alpha w~ in the offset
        phi_anchor = -t / (1 + np.exp(t * (Xa @ anchor)))
        for step in range(2 * n):
            i = rng.integers(n)
            v = (-t[i] / (1 + np.exp(t[i] * (Xa[i] @ w))) - phi_anchor[i]) * Xa[i] + g_anchor
            if variant == "textbook":
                v[:d] += alpha * (w[:d] - anchor[:d])
            w -= eta * v
            if variant != "textbook" and (step + 1) % P == 0:
                w[:d] -= k * (w[:d] - (anchor[:d] if variant == "centred" else 0.0))
        if epoch in EPOCHS:
            out.append(np.linalg.norm(gradient(Xa, t, w, alpha)) / g0)
    return out


def lpcore_norms(X, y, alpha, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = LowPrecisionClassifier(alpha=alpha, max_iter=max(EPOCHS), tol=0, random_state=0, **params).fit(X, y)
    g = np.r_[np.nan, est.history_["grad_norm"]]  # epoch k at index k
    g0 = np.linalg.norm(gradient(np.c_[X, np.ones(len(y))], np.where(y == 1, 1.0, -1.0), np.zeros(X.shape[1] + 1),
                                 alpha))
    return [g[e] / g0 for e in EPOCHS]


def main() -> None:
    Xa, t = problem()
    X, y = Xa[:, :-1], (t > 0).astype(int)
    print(f"relative gradient norm after {' / '.join(map(str, EPOCHS))} epochs")
    for alpha in (1e-3, 1e-2):
        L = 0.25 * float(np.mean(np.sum(Xa**2, axis=1))) + alpha
        eta = 1 / (2 * L)
        print(f"alpha = {alpha:g}, eta = {eta:.3g}")
        for variant in ("textbook", "toward 0", "centred"):
            print(f"  float64 {variant:9s} " + "  ".join(f"{v:.2e}" for v in svrg(Xa, t, alpha, eta, variant)))
        for name, params in (("fp32 SVRG", dict(solver="svrg", bits=32)), ("HALP-8", dict(bits=8))):
            print(f"  lpcore {name:10s} " + "  ".join(f"{v:.2e}" for v in lpcore_norms(X, y, alpha, **params)))


if __name__ == "__main__":
    main()
