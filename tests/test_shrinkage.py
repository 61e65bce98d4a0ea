"""lpcore.shrinkage: the two measures of q, against a NumPy computation."""

import math

import ml_dtypes
import numpy as np
import pytest
from lpcore import formats, quantize_float, shrinkage
from lpcore.float_formats import dynamic_scale


def numpy_shrinkage(g, q):
    g, q = np.asarray(g, float), np.asarray(q, float)
    return {
        "norm_ratio": np.linalg.norm(q) / np.linalg.norm(g),
        "projection": (q @ g) / (g @ g),
        "zero_fraction": np.mean(q[g != 0] == 0),
        "relative_error": np.linalg.norm(q - g) / np.linalg.norm(g),
    }


@pytest.mark.parametrize("fmt, dtype", [("fp16", np.float16), ("bf16", ml_dtypes.bfloat16),
                                        ("fp8_e4m3", ml_dtypes.float8_e4m3fn), ("fp8_e5m2", ml_dtypes.float8_e5m2),
                                        ("fp4_e2m1", ml_dtypes.float4_e2m1fn)])
def test_matches_numpy_with_ml_dtypes_rounding(fmt, dtype, backend):
    rng = np.random.default_rng(0)
    g = (rng.standard_normal(500) * np.exp(rng.uniform(-12, 3, 500))).astype(np.float32)
    g[::50] = 0.0
    top = formats()[fmt].max
    want = numpy_shrinkage(g, np.clip(g, -top, top).astype(dtype).astype(np.float32))
    got = shrinkage(g, fmt, backend=backend)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
    assert got["scale"] == 1.0
    # a fixed loss scale S: Q(S g) / S
    S = 1024.0
    want = numpy_shrinkage(g, np.clip(g * S, -top, top).astype(dtype).astype(np.float64) / S)
    got = shrinkage(g, fmt, scale=S, backend=backend)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_dynamic_scale_is_the_largest_fitting_power_of_two():
    rng = np.random.default_rng(1)
    for fmt, info in formats().items():
        for _ in range(50):
            g = rng.standard_normal(20) * math.exp(rng.uniform(-20, 20))
            S = dynamic_scale(g, fmt)
            amax = np.abs(g).max()
            assert math.log2(S).is_integer()
            assert S * amax <= info.max
            assert info.max < 2 * S * amax or S == 2.0**100  # the exponent is capped at 100
            assert shrinkage(g, fmt, scale="dynamic")["scale"] == S
    assert dynamic_scale([0.0, 0.0], "fp16") == 1.0


def test_norm_ratio_can_exceed_one_while_most_entries_are_flushed():
    """The paper's g = exp(-0.2 x) under FP4 round-to-nearest (Figure 1 of the paper; docs/float-formats.md)."""
    g = np.exp(-0.2 * np.arange(100))
    s = shrinkage(g, "fp4_e2m1", "nearest")
    q = quantize_float(g, "fp4_e2m1").astype(float)
    assert s["zero_fraction"] == np.mean(q == 0) > 0.5
    assert s["norm_ratio"] > 1 > s["projection"]
    # the identity behind the disagreement: ||Q g||^2 = q^2 ||g||^2 + ||eps||^2, eps orthogonal to g
    eps = q - s["projection"] * g
    assert abs(eps @ g) < 1e-12 * (g @ g)
    assert s["norm_ratio"] ** 2 == pytest.approx(s["projection"] ** 2 + (eps @ eps) / (g @ g), rel=1e-12)


def test_stochastic_rounding_keeps_projection_near_one_on_average():
    g = np.exp(-0.2 * np.arange(100))
    proj = [shrinkage(g, "fp4_e2m1", "stochastic", random_state=s)["projection"] for s in range(400)]
    truncated = shrinkage(g, "fp4_e2m1", "toward_zero")["projection"]
    se = np.std(proj, ddof=1) / math.sqrt(len(proj))
    assert abs(np.mean(proj) - 1.0) < 4 * se  # E[Q(g)] = g, so E[projection] = 1
    assert truncated < 1 - 4 * se  # the same test detects truncation's shrinkage


def test_bad_input_is_rejected_clearly():
    with pytest.raises(ValueError, match="all zeros"):
        shrinkage([0.0, 0.0], "fp16")
    with pytest.raises(ValueError, match="NaN or infinity"):
        shrinkage([1.0, np.inf], "fp16")
    with pytest.raises(ValueError, match="numeric"):
        shrinkage(["a"], "fp16")
    with pytest.raises(ValueError, match="scale must be"):
        shrinkage([1.0], "fp16", scale=-2.0)
    with pytest.raises(ValueError, match="scale must be"):
        shrinkage([1.0], "fp16", scale="auto")
    with pytest.raises(ValueError, match="format must be one of"):
        shrinkage([1.0], "int8")
