"""Random-k sparsification: k distinct coordinates drawn from an integer seed.

Indices are drawn on the host (``numpy.random.Generator.choice`` without
replacement: O(k) memory for k << d) and moved to the array's device, so NumPy and
CuPy see the same mask for the same seed.
"""

from __future__ import annotations

import numpy as np

from hpcsketch.kernels._dispatch import Array, array_module


def randk_indices(d: int, k: int, seed: int, xp=np) -> Array:
    """Sorted int64 array of k distinct indices in [0, d) drawn from ``seed``."""
    if not 1 <= k <= d:
        raise ValueError(f"k must be in 1..{d}, got {k}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0x0A11D])))
    idx = np.sort(rng.choice(d, size=k, replace=False).astype(np.int64))
    return idx if xp is np else xp.asarray(idx)


def randk(x: Array, k: int, seed: int, *, scaled: bool = True) -> tuple[Array, Array]:
    """(indices, values) of a rand-k draw of the 1-D ``x``; values times d/k when ``scaled``
    (the unbiased version: E[decode] = x, variance factor omega = d/k - 1)."""
    xp = array_module(x)
    d = x.shape[0]
    idx = randk_indices(d, k, seed, xp)
    vals = x[idx]
    if scaled:
        vals = vals * x.dtype.type(d / k)
    return idx, vals


def scatter(idx: Array, values: Array, d: int, dtype=None) -> Array:
    """Dense length-d vector with ``values`` at ``idx`` (repeated indices add up)."""
    xp = array_module(values)
    out = xp.zeros(d, dtype=dtype or values.dtype)
    if xp is np:
        np.add.at(out, idx, values)
    else:
        import cupyx

        cupyx.scatter_add(out, idx, values)
    return out
