"""lpcore: low-precision linear-model training on the CPU.

The compute core is C++ with 8- and 16-bit integer AVX2 kernels, chosen at
import time (see :func:`backend`). Low-level kernels are in
:mod:`lpcore.kernels`; the scikit-learn estimators in :mod:`lpcore.linear_model`.
"""

from ._backend import backend, supported_backends
from .linear_model import DivergenceError, LowPrecisionClassifier, LowPrecisionRegressor, SaturationWarning
from .quantize import dequantize, quantize

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "LowPrecisionClassifier",
    "LowPrecisionRegressor",
    "SaturationWarning",
    "backend",
    "dequantize",
    "quantize",
    "supported_backends",
    "__version__",
]
