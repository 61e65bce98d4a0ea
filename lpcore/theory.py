"""Convergence bounds of SGD with shrunken (low-precision) gradients.

Yun (2025), "Why does SGD slow down in low-precision training?", extends the
strongly convex analysis of Bottou, Curtis and Nocedal (SIAM Review 2018,
Theorems 4.6 and 4.7) to gradients that quantization shrinks:
``g~_k = q_k g_k + eps_k`` with ``q_k`` in ``[q_min, q_max]``. This module
evaluates those bounds. The definitions, for SGD ``w_{k+1} = w_k - a_k g~_k``
on ``F`` (starting at ``w_1``, ``F* = min F``):

* ``F`` is ``L``-smooth and ``c``-strongly convex (``0 < c <= L``);
* the unquantized stochastic gradient ``g`` satisfies Bottou et al.'s first
  moment conditions with ``0 < mu <= mu_G``: ``grad F^T E[g] >= mu ||grad F||^2``
  and ``||E[g]|| <= mu_G ||grad F||``;
* shrinkage by at least ``q_min`` turns the first condition into
  ``grad F^T E[g~] >= mu_q ||grad F||^2`` with ``mu_q = q_min * mu``, and
  bounds ``||E[g~]|| <= q_max * mu_G ||grad F||``;
* the quantized gradient's second moment is bounded:
  ``E||g~||^2 <= M~ + M~_G ||grad F||^2`` (``M~ >= 0``, ``M~_G >= mu_q^2``;
  the latter holds for any valid bound, because
  ``E||g~||^2 >= ||E g~||^2 >= mu_q^2 ||grad F||^2``).

Theorem 3 (fixed step ``0 < a <= mu_q / (L M~_G)``)::

    E[F(w_k) - F*] <= a L M~ / (2 c mu_q)
                      + (1 - a c mu_q)^(k-1) (F(w_1) - F* - a L M~ / (2 c mu_q))

which tends to ``a L M~ / (2 c q_min mu)``: shrinkage slows the linear rate
from ``1 - a c mu`` to ``1 - a c q_min mu`` and inflates the error floor by
``1 / q_min``. Raising the step to ``a / q_min`` restores the rate, but only
while the raised step still satisfies ``a / q_min <= mu_q / (L M~_G)``.

Theorem 4 (diminishing step ``a_k = beta / (gamma + k)`` with
``beta > 1 / (c mu_q)``, ``gamma > 0`` and ``a_1 <= mu_q / (L M~_G)``)::

    E[F(w_k) - F*] <= nu_q / (gamma + k),
    nu_q = max(beta^2 L M~ / (2 (beta c mu_q - 1)), (gamma + 1) (F(w_1) - F*))

Both follow from the one-step inequality
``E[F(w_{k+1})] - F(w_k) <= -(mu_q - a L M~_G / 2) a ||grad F||^2 + a^2 L M~ / 2``
(Bottou et al., Lemma 4.4, with ``mu`` replaced by ``mu_q``) and
``2 c (F(w) - F*) <= ||grad F(w)||^2``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["ShrinkageBounds"]


def _positive(name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {v!r}")
    return v


def _steps(k) -> np.ndarray:
    ks = np.asarray(k)
    if ks.dtype.kind not in "iu" and not (ks.dtype.kind == "f" and np.all(ks == np.floor(ks))):
        raise ValueError(f"k must hold iteration numbers (integers >= 1), got {k!r}")
    if ks.size and ks.min() < 1:
        raise ValueError(f"k counts iterations from 1 (w_1 is the start), got a minimum of {ks.min()}")
    return ks.astype(np.float64)


class ShrinkageBounds:
    """The constants of Yun (2025)'s analysis, and the bounds they give.

    Parameters
    ----------
    L : float
        Smoothness constant of ``F`` (Lipschitz constant of its gradient).
    c : float
        Strong-convexity constant, ``0 < c <= L``.
    mu, mu_G : float
        First-moment constants of the unquantized stochastic gradient,
        ``0 < mu <= mu_G`` (both 1 for an unbiased gradient).
    q_min, q_max : float
        Range of the shrinkage factor, ``0 < q_min <= q_max``.
    M, M_G : float
        Second-moment constants of the *quantized* gradient,
        ``E||g~||^2 <= M + M_G ||grad F||^2``; ``M >= 0`` and
        ``M_G >= mu_q**2``.

    Raises
    ------
    ValueError
        For non-finite or out-of-range constants, with the condition that
        failed.

    Examples
    --------
    >>> from lpcore.theory import ShrinkageBounds
    >>> b = ShrinkageBounds(L=2.0, c=0.5, mu=1.0, mu_G=1.0, q_min=0.5, q_max=1.0, M=0.1, M_G=1.0)
    >>> b.mu_q, b.max_step
    (0.5, 0.25)
    >>> round(b.fixed_step_limit(0.1), 6)  # a L M / (2 c q_min mu)
    0.04
    >>> b.fixed_step(0.1, [1, 2, 100], initial_gap=3.0).round(4)
    array([3.    , 2.926 , 0.2814])
    >>> b.diminishing_step(beta=8.0, gamma=31.0, k=[1, 10], initial_gap=3.0).round(4)
    array([3.    , 2.3415])
    """

    def __init__(self, *, L, c, mu, mu_G, q_min, q_max, M, M_G):
        self.L = _positive("L", L)
        self.c = _positive("c", c)
        self.mu = _positive("mu", mu)
        self.mu_G = _positive("mu_G", mu_G)
        self.q_min = _positive("q_min", q_min)
        self.q_max = _positive("q_max", q_max)
        self.M = _positive("M", M, allow_zero=True)
        self.M_G = _positive("M_G", M_G)
        if self.c > self.L:
            raise ValueError(f"c (strong convexity) cannot exceed L (smoothness); got c={self.c:g} > L={self.L:g}")
        if self.mu > self.mu_G:
            raise ValueError(f"mu cannot exceed mu_G (||E g|| >= grad F^T E g / ||grad F||); got {self.mu:g} > {self.mu_G:g}")
        if self.q_min > self.q_max:
            raise ValueError(f"q_min cannot exceed q_max; got {self.q_min:g} > {self.q_max:g}")
        if self.M_G < self.mu_q**2:
            raise ValueError(
                f"M_G={self.M_G:g} is below mu_q**2={self.mu_q**2:g}: no second-moment bound can be, since "
                f"E||g~||^2 >= ||E g~||^2 >= mu_q^2 ||grad F||^2; re-measure M_G"
            )

    @property
    def mu_q(self) -> float:
        """``q_min * mu``: the first-moment constant of the quantized gradient."""
        return self.q_min * self.mu

    @property
    def mu_G_q(self) -> float:
        """``q_max * mu_G``: the bound on ``||E g~|| / ||grad F||``."""
        return self.q_max * self.mu_G

    @property
    def max_step(self) -> float:
        """``mu_q / (L M_G)``: the largest step the theorems cover."""
        return self.mu_q / (self.L * self.M_G)

    def _check_step(self, step, what: str) -> float:
        a = _positive(what, step)
        if a > self.max_step * (1 + 1e-12):
            raise ValueError(
                f"{what}={a:g} is above mu_q / (L M_G) = {self.max_step:g}, the largest step the bound covers "
                f"(with q_min={self.q_min:g}); use a step of at most {self.max_step:g}"
            )
        return a

    def fixed_step_limit(self, step) -> float:
        """Theorem 3's error floor ``a L M / (2 c q_min mu)`` for a fixed step ``a``."""
        a = self._check_step(step, "step")
        return a * self.L * self.M / (2 * self.c * self.mu_q)

    def fixed_step(self, step, k, initial_gap) -> np.ndarray:
        """Theorem 3: the bound on ``E[F(w_k) - F*]`` at iterations ``k`` (``k = 1`` is the start).

        Parameters
        ----------
        step : float
            The fixed step ``a``, ``0 < a <= max_step``.
        k : int or array-like of int
            Iteration numbers, at least 1.
        initial_gap : float
            ``F(w_1) - F*``.

        Returns
        -------
        ndarray of float
            The bound at each ``k``.
        """
        a = self._check_step(step, "step")
        gap = _positive("initial_gap", initial_gap, allow_zero=True)
        ks = _steps(k)
        floor = a * self.L * self.M / (2 * self.c * self.mu_q)
        rate = 1.0 - a * self.c * self.mu_q
        return floor + rate ** (ks - 1) * (gap - floor)

    def nu(self, beta, gamma, initial_gap) -> float:
        """Theorem 4's constant ``nu_q`` for the steps ``beta / (gamma + k)``."""
        b = _positive("beta", beta)
        g = _positive("gamma", gamma)
        gap = _positive("initial_gap", initial_gap, allow_zero=True)
        if b * self.c * self.mu_q <= 1:
            raise ValueError(
                f"beta={b:g} must exceed 1 / (c mu_q) = {1 / (self.c * self.mu_q):g} for the diminishing-step "
                f"bound; increase beta"
            )
        self._check_step(b / (g + 1), "the first step beta / (gamma + 1)")
        return max(b * b * self.L * self.M / (2 * (b * self.c * self.mu_q - 1)), (g + 1) * gap)

    def diminishing_step(self, beta, gamma, k, initial_gap) -> np.ndarray:
        """Theorem 4: the bound ``nu_q / (gamma + k)`` on ``E[F(w_k) - F*]``.

        Parameters
        ----------
        beta, gamma : float
            The steps are ``beta / (gamma + k)``; ``beta > 1 / (c mu_q)``,
            ``gamma > 0`` and ``beta / (gamma + 1) <= max_step``.
        k : int or array-like of int
            Iteration numbers, at least 1.
        initial_gap : float
            ``F(w_1) - F*``.

        Returns
        -------
        ndarray of float
        """
        nu = self.nu(beta, gamma, initial_gap)
        return nu / (float(gamma) + _steps(k))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n):g}" for n in ("L", "c", "mu", "mu_G", "q_min", "q_max", "M", "M_G"))
        return f"ShrinkageBounds({fields})"
