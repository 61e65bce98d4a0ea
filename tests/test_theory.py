"""lpcore.theory: the bounds of the shrinkage analysis, checked against SGD."""

import math

import numpy as np
import pytest
from lpcore import quantize_float
from lpcore.theory import ShrinkageBounds
from scipy.stats import norm

BASE = dict(L=2.0, c=0.5, mu=1.0, mu_G=1.2, q_min=0.4, q_max=0.9, M=0.3, M_G=1.1)


def test_fixed_step_bound_satisfies_the_one_step_recursion():
    """B_{k+1} = (1 - a c mu_q) B_k + a^2 L M / 2, B_1 = F(w_1) - F*: the proof of Theorem 3."""
    b = ShrinkageBounds(**BASE)
    a = 0.8 * b.max_step
    k = np.arange(1, 200)
    B = b.fixed_step(a, k, initial_gap=5.0)
    assert B[0] == pytest.approx(5.0)
    mu_q = BASE["q_min"] * BASE["mu"]
    np.testing.assert_allclose(B[1:], (1 - a * BASE["c"] * mu_q) * B[:-1] + a * a * BASE["L"] * BASE["M"] / 2,
                               rtol=1e-12)
    limit = b.fixed_step_limit(a)
    assert limit == pytest.approx(a * BASE["L"] * BASE["M"] / (2 * BASE["c"] * BASE["q_min"] * BASE["mu"]))
    assert b.fixed_step(a, 10**6, initial_gap=5.0) == pytest.approx(limit, rel=1e-9)
    # shrinkage slows the rate: the same step without shrinkage contracts faster
    unshrunk = ShrinkageBounds(**{**BASE, "q_min": 0.9})
    assert (unshrunk.fixed_step(a, k, 5.0)[1:] < B[1:]).all()


def test_diminishing_step_bound_satisfies_the_induction_step():
    """nu/(gamma+k) is preserved by one step of size beta/(gamma+k): the proof of Theorem 4."""
    b = ShrinkageBounds(**BASE)
    mu_q = b.mu_q
    beta = 2.0 / (BASE["c"] * mu_q)
    gamma = beta / b.max_step  # the first step beta/(gamma+1) is then within max_step
    k = np.arange(1, 5000, dtype=float)
    bound = b.diminishing_step(beta, gamma, k, initial_gap=5.0)
    nu = b.nu(beta, gamma, 5.0)
    np.testing.assert_allclose(bound, nu / (gamma + k))
    assert nu >= (gamma + 1) * 5.0 and nu >= beta**2 * BASE["L"] * BASE["M"] / (2 * (beta * BASE["c"] * mu_q - 1))
    step = beta / (gamma + k)
    after = (1 - step * BASE["c"] * mu_q) * bound + step**2 * BASE["L"] * BASE["M"] / 2
    assert (after <= nu / (gamma + k + 1) * (1 + 1e-12)).all()


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(c=3.0), "cannot exceed L"),
        (dict(mu=2.0), "mu cannot exceed mu_G"),
        (dict(q_min=0.95), "q_min cannot exceed q_max"),
        (dict(M_G=0.01), "below mu_q"),
        (dict(L=0.0), "L must be positive"),
        (dict(M=-1.0), "M must be non-negative"),
        (dict(q_min=float("nan")), "finite"),
        (dict(mu_G="1"), "finite number"),
    ],
)
def test_invalid_constants_are_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        ShrinkageBounds(**{**BASE, **change})


def test_invalid_steps_are_rejected():
    b = ShrinkageBounds(**BASE)
    with pytest.raises(ValueError, match="above mu_q / \\(L M_G\\)"):
        b.fixed_step(1.01 * b.max_step, [1, 2], 1.0)
    with pytest.raises(ValueError, match="step must be positive"):
        b.fixed_step(0.0, [1], 1.0)
    with pytest.raises(ValueError, match="k counts iterations from 1"):
        b.fixed_step(0.1 * b.max_step, [0, 1], 1.0)
    with pytest.raises(ValueError, match="initial_gap must be non-negative"):
        b.fixed_step(0.1 * b.max_step, [1], -1.0)
    with pytest.raises(ValueError, match="beta=.* must exceed 1 / \\(c mu_q\\)"):
        b.diminishing_step(0.5 / (BASE["c"] * b.mu_q), 100.0, [1], 1.0)
    with pytest.raises(ValueError, match="first step"):
        b.diminishing_step(2.0 / (BASE["c"] * b.mu_q), 0.5, [1], 1.0)


# ---- Theorem 3 on a strongly convex quadratic ---------------------------------
# F(w) = 1/2 sum_j h_j (w_j - w*_j)^2, so L = max h and c = min h exactly. The
# stochastic gradient is g = grad F(w) + sigma xi (xi standard normal, so mu =
# mu_G = 1) and SGD steps along Q(g), fp4_e2m1 rounded toward zero, which
# shrinks every entry. The noise constants are measured: at every iterate
# that any run visits, the conditional moments E[Q(g) | w] and E[Q(g)^2 | w]
# are computed exactly from the normal CDF over the FP4 grid, giving
#   q_min = min  grad F^T E[Q(g)] / ||grad F||^2          (so mu_q = q_min)
#   M_G   = max  ||E[Q(g)]||^2 / ||grad F||^2,   M = max  tr Cov(Q(g))
# for which E||Q(g)||^2 <= M + M_G ||grad F||^2 holds at every visited iterate,
# which is all the proof uses.

H = np.array([0.5, 1.0, 1.5, 2.0])
W_STAR = np.array([1.0, -1.0, 0.5, 2.0])
W_1 = W_STAR + np.array([3.0, -3.0, 2.0, 2.5])
SIGMA = 0.5
FP4_GRID = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])


def fp4_toward_zero_moments(m):
    """E[Q(m + sigma xi)] and E[Q(m + sigma xi)^2] for Q = fp4 toward zero (saturating at 6)."""
    upper = np.append(FP4_GRID[1:], np.inf)
    m = m[..., None]
    pos = norm.cdf((upper - m) / SIGMA) - norm.cdf((FP4_GRID - m) / SIGMA)
    neg = norm.cdf((-FP4_GRID - m) / SIGMA) - norm.cdf((-upper - m) / SIGMA)
    return (FP4_GRID * (pos - neg)).sum(-1), (FP4_GRID**2 * (pos + neg)).sum(-1)


def test_fp4_moments_match_sampling():
    """The exact moments agree with Monte Carlo through lpcore.quantize_float."""
    rng = np.random.default_rng(1)
    for m in (0.1, -0.7, 2.2, 5.5):
        q = quantize_float(m + SIGMA * rng.standard_normal(400_000), "fp4_e2m1", "toward_zero").astype(float)
        e1, e2 = fp4_toward_zero_moments(np.array(m))
        se = q.std() / math.sqrt(q.size)
        assert abs(q.mean() - e1) < 4 * se
        assert abs((q**2).mean() - e2) < 4 * (q**2).std() / math.sqrt(q.size)


def test_sgd_gap_stays_under_theorem_3_bound():
    """Mean optimality gap over 2000 seeds <= the bound at every k (3 standard errors of slack)."""
    runs, steps, a = 2000, 120, 0.1
    rng = np.random.default_rng(0)
    W = np.tile(W_1, (runs, 1))
    gaps = [0.5 * ((W - W_STAR) ** 2 * H).sum(1)]
    visited = []
    for _ in range(steps):
        grad = H * (W - W_STAR)
        visited.append(grad)
        g = grad + SIGMA * rng.standard_normal(W.shape)
        W = W - a * quantize_float(g, "fp4_e2m1", "toward_zero").astype(np.float64)
        gaps.append(0.5 * ((W - W_STAR) ** 2 * H).sum(1))
    gaps, grads = np.array(gaps), np.array(visited)

    e1, e2 = fp4_toward_zero_moments(grads)
    sq = (grads**2).sum(-1)
    q = (grads * e1).sum(-1) / sq
    ratio_sq = (e1**2).sum(-1) / sq
    bounds = ShrinkageBounds(L=H.max(), c=H.min(), mu=1.0, mu_G=1.0, q_min=q.min(),
                             q_max=math.sqrt(ratio_sq.max()), M=(e2 - e1**2).sum(-1).max(), M_G=ratio_sq.max())
    assert 0 < bounds.q_min < 1  # toward-zero rounding really shrinks
    assert a <= bounds.max_step  # the theorem applies to this run
    bound = bounds.fixed_step(a, np.arange(1, steps + 2), initial_gap=gaps[0, 0])
    mean = gaps.mean(1)
    se = gaps.std(1, ddof=1) / math.sqrt(runs)
    assert np.all(mean <= bound + 3 * se + 1e-12)
    # the bound is not vacuous: it falls well below the start and its limit
    # is within two orders of magnitude of the gap SGD settles at
    assert bound[-1] < 0.2 * gaps[0, 0]
    assert bounds.fixed_step_limit(a) < 100 * mean[-20:].mean()
