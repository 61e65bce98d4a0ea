"""Type stub of lpcore's compiled core (private: use lpcore and lpcore.kernels)."""

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import numpy.typing as npt

GRID_MAX: dict[int, int]
BLOCK_COLUMNS: dict[int, int]
ROW_DTYPES: dict[int, np.dtype]
WIDTH_PAIRS: tuple[tuple[int, int], ...]

def backend() -> str: ...
def supported_backends() -> list[str]: ...
def call_counts() -> dict[str, int]: ...
def dot_i8(a: npt.NDArray[np.int8], b: npt.NDArray[np.int8], backend: str | None = None) -> int: ...
def dot_i16(a: npt.NDArray[np.int16], b: npt.NDArray[np.int16], backend: str | None = None) -> int: ...
def dot_i8_i16(a: npt.NDArray[np.int8], b: npt.NDArray[np.int16], backend: str | None = None) -> int: ...
def dot_f32(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], backend: str | None = None) -> float: ...
def axpy_f32(a: float, x: npt.NDArray[np.float32], y: npt.NDArray[np.float32], backend: str | None = None) -> None: ...
def dot_i8_f32(x: npt.NDArray[np.int8], w: npt.NDArray[np.float32], backend: str | None = None) -> float: ...
def dot_i16_f32(x: npt.NDArray[np.int16], w: npt.NDArray[np.float32], backend: str | None = None) -> float: ...
def axpy_i8_f32(a: float, x: npt.NDArray[np.int8], y: npt.NDArray[np.float32], backend: str | None = None) -> None: ...
def axpy_i16_f32(
    a: float, x: npt.NDArray[np.int16], y: npt.NDArray[np.float32], backend: str | None = None,
) -> None: ...
def dot_rows_f32(x: npt.NDArray[np.float32], w: npt.NDArray[np.float32], backend: str | None = None) -> npt.NDArray[np.float32]: ...
def dot_rows_i8_f32(x: npt.NDArray[np.int8], w: npt.NDArray[np.float32], backend: str | None = None) -> npt.NDArray[np.float32]: ...
def dot_rows_i16_f32(x: npt.NDArray[np.int16], w: npt.NDArray[np.float32], backend: str | None = None) -> npt.NDArray[np.float32]: ...
def axpy_rows_f32(
    a: npt.NDArray[np.float32], x: npt.NDArray[np.float32], y: npt.NDArray[np.float32], backend: str | None = None,
) -> None: ...
def axpy_rows_i8_f32(
    a: npt.NDArray[np.float32], x: npt.NDArray[np.int8], y: npt.NDArray[np.float32], backend: str | None = None,
) -> None: ...
def axpy_rows_i16_f32(
    a: npt.NDArray[np.float32], x: npt.NDArray[np.int16], y: npt.NDArray[np.float32], backend: str | None = None,
) -> None: ...
def update_f32(
    w: npt.NDArray[np.float32], x: npt.NDArray[np.float32], a: float, c: npt.NDArray[np.float32],
    backend: str | None = None,
) -> None: ...

class Dither:
    chunk: ClassVar[int]
    def __init__(self, seed: int) -> None: ...
    def table(self) -> npt.NDArray[np.uint8]: ...
    def draw_multiplier(self, a: float, frac_bits: int, backend: str | None = None) -> int: ...
    def next_offset(self) -> int: ...

def update_i8(
    z: npt.NDArray[np.int8], x: npt.NDArray[np.int8], a: float, c_packed: npt.NDArray[np.int16],
    dither: Dither, backend: str | None = None,
) -> int: ...
def update_dot_i8(
    z: npt.NDArray[np.int8], x: npt.NDArray[np.int8], a: float, c_packed: npt.NDArray[np.int16],
    dither: Dither, x_next: npt.NDArray[np.int8], backend: str | None = None,
) -> tuple[int, int]: ...
def update_dot_i16(
    z: npt.NDArray[np.int16], x: npt.NDArray[np.int16], a: float, c_packed: npt.NDArray[np.int32],
    dither: Dither, x_next: npt.NDArray[np.int16], backend: str | None = None,
) -> tuple[int, int]: ...
def update_dot_f32(
    w: npt.NDArray[np.float32], x: npt.NDArray[np.float32], a: float, c: npt.NDArray[np.float32] | None,
    x_next: npt.NDArray[np.float32], backend: str | None = None,
) -> float: ...
def update_i16(
    z: npt.NDArray[np.int16], x: npt.NDArray[np.int16], a: float, c_packed: npt.NDArray[np.int32],
    dither: Dither, backend: str | None = None,
) -> int: ...
def update_i8_i16(
    z: npt.NDArray[np.int16], x: npt.NDArray[np.int8], a: float, c_packed: npt.NDArray[np.int32],
    dither: Dither, backend: str | None = None,
) -> int: ...
def update_dot_i8_i16(
    z: npt.NDArray[np.int16], x: npt.NDArray[np.int8], a: float, c_packed: npt.NDArray[np.int32],
    dither: Dither, x_next: npt.NDArray[np.int8], backend: str | None = None,
) -> tuple[int, int]: ...
def round_offsets_i8(c: npt.NDArray[np.float32], dither: Dither, backend: str | None = None) -> npt.NDArray[np.int16]: ...
def pack_offsets_i8(c: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]: ...
def pack_offsets_i16(c: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]: ...
def dequantize_i8(q: npt.NDArray[np.int8], scales: npt.NDArray[np.float32], backend: str | None = None) -> npt.NDArray[np.float32]: ...
def dequantize_i16(q: npt.NDArray[np.int16], scales: npt.NDArray[np.float32], backend: str | None = None) -> npt.NDArray[np.float32]: ...
def quantize_sqerr_i8(x: npt.NDArray[np.float32], scale: float, backend: str | None = None) -> tuple[npt.NDArray[np.int8], float, float, int]: ...
def quantize_sqerr_i16(x: npt.NDArray[np.float32], scale: float, backend: str | None = None) -> tuple[npt.NDArray[np.int16], float, float, int]: ...
def stream_sum(p: npt.NDArray[np.uint8], backend: str | None = None) -> int: ...
def fill_random(seed: int, n_blocks: int, backend: str | None = None) -> npt.NDArray[np.uint8]: ...
def quantize_float(
    x: npt.NDArray[np.float32], format: int, rounding: int, overflow: int, seed: int, backend: str | None = None,
) -> tuple[npt.NDArray[np.float32], int]: ...
def float_formats() -> list[dict[str, object]]: ...
class Method:
    sgd: ClassVar[Method]
    svrg: ClassVar[Method]
    halp: ClassVar[Method]

class Loss:
    squared: ClassVar[Loss]
    logistic: ClassVar[Loss]
    multinomial: ClassVar[Loss]

class GradScaling:
    none: ClassVar[GradScaling]
    fixed: ClassVar[GradScaling]
    dynamic: ClassVar[GradScaling]

class SolverConfig:
    method: Method
    loss: Loss
    bits: int
    n_outputs: int
    eta: float
    alpha: float
    mu: float
    adapt_mu: bool
    prior_saturated: float
    delta: float
    epoch_length: int
    max_iter: int
    tol: float
    tol_reference: float
    fit_intercept: bool
    n_features: int
    seed: int
    verbose: int
    stop_on_stall: bool
    n_threads: int
    def __init__(self) -> None: ...

class FloatGradConfig:
    format: int
    rounding: int
    overflow: int
    scaling: GradScaling
    loss_scale: float
    compensate: bool
    q_floor: float
    def __init__(self) -> None: ...

class EpochRecord:
    objective: float
    grad_norm: float
    seconds: float
    inner_seconds: float
    saturated: float
    scale: float
    mu: float

class FitResult:
    coef: npt.NDArray[np.float32]
    centre: npt.NDArray[np.float32]
    offset: npt.NDArray[np.int32] | None
    intercept: npt.NDArray[np.float64]
    history: dict[str, npt.NDArray[np.float64]]
    initial_objective: float
    initial_grad_norm: float
    n_iter: int
    scale: float
    mu: float
    mu_min: float
    converged: bool
    diverged: bool
    divergence: int
    stalled: bool
    stopped: bool

class FloatGradResult:
    fit: FitResult
    shrinkage: dict[str, npt.NDArray[np.float64]]

def fit(
    X: npt.NDArray[np.float32] | npt.NDArray[np.int8] | npt.NDArray[np.int16],
    row_scale: npt.NDArray[np.float32] | None, y: npt.NDArray[np.float64], coef0: npt.NDArray[np.float32],
    intercept0: npt.NDArray[np.float64], config: SolverConfig, backend: str | None = None,
    sample_weight: npt.NDArray[np.float64] | None = None,
    epoch_hook: Callable[[int, EpochRecord, npt.NDArray[np.float32], npt.NDArray[np.float64]], bool] | None = None,
) -> FitResult: ...
def fit_float_grad(
    X: npt.NDArray[np.float32], y: npt.NDArray[np.float64], coef0: npt.NDArray[np.float32],
    intercept0: npt.NDArray[np.float64], config: SolverConfig, grad: FloatGradConfig, backend: str | None = None,
    sample_weight: npt.NDArray[np.float64] | None = None,
    epoch_hook: Callable[[int, EpochRecord, npt.NDArray[np.float32], npt.NDArray[np.float64]], bool] | None = None,
) -> FloatGradResult: ...
def prepare_rows(
    X: npt.NDArray[np.floating], bits: int, out: npt.NDArray[np.generic], scale: npt.NDArray[np.float32] | None = None,
    given_scales: bool = False, stochastic: bool = False, seed: int = 0,
    sq_norm: npt.NDArray[np.float64] | None = None, sq_x: npt.NDArray[np.float64] | None = None,
    sq_err: npt.NDArray[np.float64] | None = None, n_threads: int = 1, backend: str | None = None,
) -> tuple[int, int, int, int]: ...
