"""Shared fixtures.

``xp_backend`` runs a test once per array backend (NumPy, and CuPy where a GPU
is present; the CuPy case skips cleanly without one), as mpi4py's test suite
does for buffer backends.
"""

from __future__ import annotations

import os

import pytest

from hpcsketch.backend import Backend, cupy_module, select_backend

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _backends():
    yield pytest.param("numpy", id="numpy")
    yield pytest.param("cupy", id="cupy", marks=pytest.mark.gpu)


@pytest.fixture(params=list(_backends()))
def backend(request) -> Backend:
    if request.param == "cupy" and cupy_module() is None:
        pytest.skip("CuPy with a GPU is not available")
    return select_backend(request.param)


@pytest.fixture
def np_backend() -> Backend:
    return select_backend("numpy")


@pytest.fixture(autouse=True, scope="session")
def _private_data_cache(tmp_path_factory):
    """Generated data sets (MNIST-1D) go to a per-session cache, not the user's."""
    old = os.environ.get("HPCSKETCH_CACHE")
    os.environ["HPCSKETCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("HPCSKETCH_CACHE", None)
    else:
        os.environ["HPCSKETCH_CACHE"] = old
