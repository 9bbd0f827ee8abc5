"""Orthonormal DCT (type II, and its inverse type III) along the last axis.

Through ``scipy.fft`` on NumPy arrays and ``cupyx.scipy.fft`` on CuPy arrays.
With ``norm="ortho"`` the DCT matrix is orthogonal, so ``idct(dct(x)) == x`` and
the adjoint of ``dct`` is ``idct``.
"""

from __future__ import annotations

from hpcsketch.kernels._dispatch import Array, is_cupy


def _fft_module(x: Array):
    if is_cupy(x):
        import cupyx.scipy.fft as fft

        return fft
    import scipy.fft as fft

    return fft


def dct(x: Array, *, inverse: bool = False) -> Array:
    """Orthonormal DCT-II of ``x`` along its last axis (``inverse=True``: DCT-III, its inverse)."""
    fft = _fft_module(x)
    f = fft.idct if inverse else fft.dct
    return f(x, type=2, norm="ortho", axis=-1)


def idct(x: Array) -> Array:
    """Inverse (= adjoint) of :func:`dct`."""
    return dct(x, inverse=True)
