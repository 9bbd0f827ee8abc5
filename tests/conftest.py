"""Shared fixtures.

``backend`` runs a test once per array backend (NumPy, then CuPy), as mpi4py's
test suite does for buffer backends. The CuPy case runs on a GPU where CuPy sees
one, and otherwise against the CuPy stand-in ``hpcsketch.testing.fake_cupy`` (a
distinct device array type over host memory that refuses implicit host copies),
so CI runs the device code paths; ``HPCSKETCH_FAKE_CUPY=0`` skips them instead.
"""

from __future__ import annotations

import os

import pytest

from hpcsketch.backend import Backend, cupy_module, select_backend

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _backends():
    yield pytest.param("numpy", id="numpy")
    yield pytest.param("cupy", id="cupy", marks=pytest.mark.gpu)


def _real_cupy() -> bool:
    if os.environ.get("HPCSKETCH_FAKE_CUPY") == "1":
        return False
    return cupy_module() is not None


@pytest.fixture
def device_standin():
    """The CuPy stand-in (hpcsketch.testing.fake_cupy) for one test: a distinct device array
    type that refuses implicit host copies and counts explicit ones (``.transfers``)."""
    from hpcsketch.testing import fake_cupy

    with fake_cupy.active() as cp:
        yield cp


@pytest.fixture(params=list(_backends()))
def backend(request) -> Backend:
    """NumPy, then CuPy: a real GPU where there is one, else the CuPy stand-in
    (``HPCSKETCH_FAKE_CUPY=0`` skips the device case instead)."""
    if request.param == "cupy" and not _real_cupy():
        if os.environ.get("HPCSKETCH_FAKE_CUPY") == "0":
            pytest.skip("CuPy with a GPU is not available (HPCSKETCH_FAKE_CUPY=0: no stand-in)")
        request.getfixturevalue("device_standin")
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


def pytest_ignore_collect(collection_path, config):
    """``tests/mpi`` modules run under mpiexec through ``tests/test_mpi_suites.py`` (one test per
    module and rank count); collected in the serial run they would only show as skips."""
    if collection_path.parent.name == "mpi" and collection_path.parent.parent.name == "tests":
        try:
            with_mpi = config.getoption("--with-mpi")
        except ValueError:
            with_mpi = False
        if not with_mpi:
            return True
    return None
