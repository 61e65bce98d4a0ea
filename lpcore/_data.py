"""The one data path: a user's X -> the rows a solver trains on.

Every conversion of X into solver input goes through :func:`prepare`: the
estimators, :func:`lpcore.quantize` and the benchmarks. It hands X, as the
user holds it (float64 or float32, C- or F-ordered, strided, a ``np.memmap``),
to the C++ data path (``cpp/include/lpcore/data.hpp``), which reads it once
and writes the padded int8 / int16 / float32 rows into large-page memory,
with the per-row scales and squared norms and the data rounding error, on
``n_jobs`` threads and without a temporary the size of X.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import _core
from ._backend import check_backend
from ._constants import ROW_DTYPES
from ._memory import MIN_PER_ROW_LARGE_BYTES, empty_large, padded_width


# DataProblem codes of cpp/include/lpcore/data.hpp.
NOT_FINITE, BEYOND_FLOAT32 = 1, 2


@dataclass(frozen=True)
class Prepared:
    """X at a model's width, as the solvers read it.

    rows : (n, width) int8, int16 or float32, C-contiguous, zero columns after
        the first ``n_features``.
    row_scale : (n,) float32, ``x_i ~ row_scale[i] * rows[i]``; None at 32 bits.
    row_sq_norms : (n,) float64, ``||x^_i||^2`` of each stored row.
    rounding_error : ``||X32 - X^||_F / ||X32||_F`` (0 at 32 bits and for X = 0),
        X32 being X in float32.
    """

    rows: np.ndarray
    row_scale: np.ndarray | None
    row_sq_norms: np.ndarray
    rounding_error: float
    n_features: int


# The most threads the data path starts (cpp/src/python/bind_data.cpp checks it).
MAX_THREADS = 1024


def n_threads(n_jobs) -> int:
    """Threads for ``n_jobs``: None or -1 is every core this process may use,
    and so is any count above it (more threads than cores only contend), up
    to MAX_THREADS, the most the data path starts."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores = min(cores, MAX_THREADS)
    if n_jobs is None or n_jobs == -1:
        return cores
    if n_jobs == 0:
        raise ValueError("n_jobs=0 would use no thread; pass a positive count, or None or -1 for every core")
    if n_jobs < -1:
        return max(1, cores + 1 + n_jobs)  # joblib's convention: -2 is all cores but one
    return min(int(n_jobs), cores)


def raise_problem(status, name: str = "X") -> None:
    """The ValueError for a data-path status (problem, row, col, ...), if any."""
    problem, row, col = status[0], status[1], status[2]
    if problem == NOT_FINITE:
        raise ValueError(
            f"Input {name} contains NaN or infinity (first at row {row}, column {col}); remove or impute "
            f"those values first"
        )
    if problem == BEYOND_FLOAT32:
        raise ValueError(
            f"{name} has values beyond the float32 range (|x| > 3.4e38; first at row {row}, column {col}), "
            f"which lpcore trains in; rescale {name} first"
        )


def as_float_matrix(X) -> np.ndarray:
    """X as a 2-D float32 or float64 array, without a copy where it already is one."""
    arr = np.asarray(X)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    elif not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def prepare(X, bits: int, *, pad: bool = True, n_jobs=None, backend=None) -> Prepared:
    """Convert a 2-D float array to solver rows at ``bits`` (8, 16 or 32).

    At 8 and 16 bits each row is rounded to nearest on the symmetric grid with
    the scale ``max_j |x_ij| / (2**(bits-1) - 1)``, so nothing saturates.
    With ``pad``, zero columns fill each row up to whole vector blocks of the
    solvers (``padded_width``): a zero column's coefficient stays exactly zero
    in every solver. Raises ValueError for NaN, inf or values beyond float32.
    """
    X = as_float_matrix(X)
    n, d = X.shape
    width = padded_width(d, bits) if pad else d
    rows = empty_large((n, width), ROW_DTYPES[bits])

    def per_row(dtype):
        return empty_large(n, dtype, min_bytes=MIN_PER_ROW_LARGE_BYTES)

    row_scale = per_row(np.float32) if bits != 32 else None
    sq_norm, sq_x = per_row(np.float64), per_row(np.float64)
    sq_err = per_row(np.float64) if bits != 32 else None
    status = _core.prepare_rows(
        X, bits, rows, scale=row_scale, sq_norm=sq_norm, sq_x=sq_x, sq_err=sq_err,
        n_threads=n_threads(n_jobs), backend=check_backend(backend),
    )
    raise_problem(status)
    total = float(np.sum(sq_x))
    error = 0.0 if bits == 32 or total == 0 else float(np.sqrt(np.sum(sq_err) / total))
    return Prepared(rows, row_scale, sq_norm, error, d)


def quantize_rows(rows: np.ndarray, bits: int, scales: np.ndarray | None, stochastic: bool, seed: int, backend=None):
    """Rows of a 2-D float32 array on the ``bits``-bit grid: (q, scales, clipped).

    ``scales`` None computes one per row (``max |x| / qmax``); given scales
    (float32, one per row) may clip values to the grid, counted in ``clipped``.
    Stochastic rounding draws one stream through the rows in order.
    """
    n, d = rows.shape
    q = np.empty((n, d), ROW_DTYPES[bits])
    given = scales is not None
    out_scales = np.ascontiguousarray(scales, dtype=np.float32).copy() if given else np.empty(n, np.float32)
    status = _core.prepare_rows(
        rows, bits, q, scale=out_scales, given_scales=given, stochastic=stochastic, seed=seed,
        n_threads=1 if stochastic else n_threads(None), backend=check_backend(backend),
    )
    raise_problem(status, "x")
    return q, out_scales, int(status[3])
