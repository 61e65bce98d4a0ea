"""The widths' constants, as the core defines them (cpp/include/lpcore/width.hpp, solver.hpp).

Read from ``_core``, never restated: a change of a grid or a block in C++
reaches every Python user of it.
"""

from __future__ import annotations

import numpy as np

from . import _core

#: The symmetric grids' ends: {8: 127, 16: 32767}.
GRID_MAX: dict[int, int] = dict(_core.GRID_MAX)
#: The solvers' vector blocks, in columns: {8: 32, 16: 16, 32: 8}.
BLOCK_COLUMNS: dict[int, int] = dict(_core.BLOCK_COLUMNS)
#: The element type of the rows and the model at each width: {8: int8, 16: int16, 32: float32}.
ROW_DTYPES: dict[int, type] = {bits: np.dtype(dt).type for bits, dt in _core.ROW_DTYPES.items()}
#: The integer widths' element types: {8: int8, 16: int16}.
INT_DTYPES: dict[int, type] = {bits: dt for bits, dt in ROW_DTYPES.items() if bits in GRID_MAX}
#: The (data_bits, bits) pairs the solver trains: {(8, 8), (16, 16), (32, 32), (8, 16)}.
WIDTH_PAIRS: frozenset[tuple[int, int]] = frozenset(tuple(pair) for pair in _core.WIDTH_PAIRS)
