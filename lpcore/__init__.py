"""lpcore: low-precision linear-model training on the CPU.

The compute core is C++ with 8- and 16-bit integer AVX2 kernels, chosen at
import time (see :func:`backend`). Low-level kernels are in
:mod:`lpcore.kernels`; the scikit-learn estimators in :mod:`lpcore.linear_model`;
simulated low-precision float formats and gradient shrinkage in
:mod:`lpcore.float_formats`; the convergence bounds of low-precision SGD in
:mod:`lpcore.theory`.
"""

from ._backend import backend, supported_backends
from .float_formats import formats, quantize_float, shrinkage
from .linear_model import DivergenceError, LowPrecisionClassifier, LowPrecisionRegressor, SaturationWarning
from .quantize import dequantize, quantize
from . import theory  # noqa: E402  (lpcore.theory: the convergence bounds)

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "LowPrecisionClassifier",
    "LowPrecisionRegressor",
    "SaturationWarning",
    "backend",
    "dequantize",
    "formats",
    "quantize",
    "quantize_float",
    "shrinkage",
    "supported_backends",
    "theory",
    "__version__",
]
