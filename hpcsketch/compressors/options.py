"""[compressor] keys declared by the compressors (light: the registry entries refer to them).

A key that two compressors read is declared once here, so it has one type and
one meaning everywhere.
"""

from __future__ import annotations

from hpcsketch.config.options import Option
from hpcsketch.kernels.hashing import MAX_ROWS  # numpy only: no numba

RATIO = Option("ratio", "float", 10.0, "compression ratio d / payload length (sketches and sensing operators)", min=1.0)
K = Option("k", "number_or_fraction", 0.01, "kept coordinates: a fraction of d if <= 1, else a count")
SIGNS = Option("signs", "bool", False, "random +-1 pre-multiplication before the transform (SRHT); off, Phi is exactly sqrt(d'/Q) B[rows] as CS-SGD defines it")
ROWS = Option("rows", "int", 5, "count sketch rows (independent hash pairs)", min=1, max=MAX_ROWS)
# a table of rows x 2^27 float32 cells is already 16 GiB at 32 rows
COLS = Option("cols", "int", 0, "count sketch columns; 0 = from ratio (d / (ratio * rows))", min=0, max=1 << 27)
LEVELS = Option("levels", "int", 16, "QSGD: number of quantisation levels s", min=1, max=2**16)
SHARED_MASK = Option("shared_mask", "bool", False, "rand-k: one mask for all clients (linear, Allreduce-able)")
BLOCKS = Option("blocks", "int", 1, "Perm-q: number of disjoint blocks n (the number of clients)", min=1)
