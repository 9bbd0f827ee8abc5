"""Offline data sets: the CIFAR-10 binary loader and its errors, MNIST-1D's cache, sklearn sets."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from hpcsketch.data import datasets
from hpcsketch.errors import BadInput


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(seed)
    return gen.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8), gen.integers(0, 10, size=n)


def write_cifar_dir(root: Path, train_per_file: int = 6, test: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A cifar-10-batches-bin folder of small files in the real format; returns the train set."""
    x, y = _images(5 * train_per_file, 1)
    datasets.write_cifar_dir(root, x, y, *_images(test, 99))
    return x, y


def test_cifar_reads_the_binary_layout(tmp_path):
    root = tmp_path / "cifar-10-batches-bin"
    x, y = write_cifar_dir(root)
    # the format by hand: label byte, then R plane, G plane, B plane, each row-major 32x32
    raw = (root / "data_batch_1.bin").read_bytes()
    assert len(raw) == 6 * 3073
    assert raw[0] == y[0]
    assert raw[1 + 1024 + 32 * 5 + 7] == x[0, 1, 5, 7]  # green, row 5, column 7

    ds = datasets.cifar10(root)
    assert ds.x_train.shape == (30, 3, 32, 32) and ds.x_train.dtype == np.uint8
    assert np.array_equal(ds.x_train, x) and np.array_equal(ds.y_train, y)
    assert ds.x_test.shape == (5, 3, 32, 32) and ds.num_classes == 10
    # per-channel statistics come from the training set
    assert np.allclose(ds.mean.ravel(), x.reshape(30, 3, -1).transpose(1, 0, 2).reshape(3, -1).mean(1), rtol=1e-5)
    assert np.allclose(ds.std.ravel(), x.reshape(30, 3, -1).transpose(1, 0, 2).reshape(3, -1).std(1), rtol=1e-5)
    # the parent folder of the extracted archive is accepted too
    assert np.array_equal(datasets.cifar10(tmp_path).y_train, y)


def _bad(tmp_path: Path, mutate) -> BadInput:
    root = tmp_path / "c"
    write_cifar_dir(root)
    target = mutate(root)
    with pytest.raises(BadInput) as err:
        datasets.cifar10(root)
    msg = str(err.value)
    assert "\n" not in msg
    if target is not None:
        assert str(target) in msg
    return err.value


def test_cifar_missing_directory(tmp_path):
    with pytest.raises(BadInput) as err:
        datasets.cifar10(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(err.value) and "data_batch_1.bin" in str(err.value)


def test_cifar_missing_file(tmp_path):
    def drop(root):
        (root / "data_batch_3.bin").unlink()
        return root / "data_batch_3.bin"

    assert "missing" in _bad(tmp_path, drop).detail


def test_cifar_truncated_file(tmp_path):
    def cut(root):
        p = root / "test_batch.bin"
        p.write_bytes(p.read_bytes()[:-100])
        return p

    assert "3073" in _bad(tmp_path, cut).detail


def test_cifar_empty_file(tmp_path):
    def empty(root):
        p = root / "data_batch_5.bin"
        p.write_bytes(b"")
        return p

    assert "positive multiple of 3073" in _bad(tmp_path, empty).detail


def test_cifar_label_out_of_range(tmp_path):
    def relabel(root):
        p = root / "data_batch_2.bin"
        raw = bytearray(p.read_bytes())
        raw[3073 * 2] = 10  # third record's label
        p.write_bytes(bytes(raw))
        return p

    detail = _bad(tmp_path, relabel).detail
    assert "record 2" in detail and "0..9" in detail


def test_mnist1d_generates_caches_and_leaves_global_rng_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("HPCSKETCH_CACHE", str(tmp_path))
    np.random.seed(5)
    random.seed(5)
    expect_np, expect_py = np.random.random(), random.random()
    np.random.seed(5)
    random.seed(5)
    ds = datasets.mnist1d(200)
    assert (np.random.random(), random.random()) == (expect_np, expect_py)
    assert ds.x_train.shape == (160, 40) and ds.x_test.shape == (40, 40)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert abs(float(ds.x_train.mean())) < 1e-5 and abs(float(ds.x_train.std()) - 1) < 1e-4
    assert set(np.unique(ds.y_train)) <= set(range(10))
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].endswith(".npz")  # no temp files left behind

    def boom(samples):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(datasets, "_generate_mnist1d", boom)
    again = datasets.mnist1d(200)
    assert np.array_equal(again.x_train, ds.x_train) and np.array_equal(again.y_test, ds.y_test)


def test_mnist1d_regenerates_a_corrupt_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HPCSKETCH_CACHE", str(tmp_path))
    ref = datasets.mnist1d(100)
    (cached,) = tmp_path.iterdir()
    cached.write_bytes(b"not an npz")
    assert np.array_equal(datasets.mnist1d(100).x_train, ref.x_train)
    with np.load(cached, allow_pickle=False) as f:  # rewritten whole
        assert f["x"].shape == (80, 40)


def test_atomic_savez_replaces_whole_files(tmp_path):
    target = tmp_path / "sub" / "a.npz"
    datasets._atomic_savez(target, v=np.arange(3))
    datasets._atomic_savez(target, v=np.arange(5))
    with np.load(target) as f:
        assert np.array_equal(f["v"], np.arange(5))
    assert os.listdir(target.parent) == ["a.npz"]


@pytest.mark.parametrize("loader, n, d, k", [(datasets.digits, 1797, 64, 10), (datasets.breast_cancer, 569, 30, 2)])
def test_sklearn_sets_split_and_standardise(loader, n, d, k):
    ds = loader()
    assert len(ds.y_train) + len(ds.y_test) == n
    assert ds.x_train.shape[1] == d and ds.num_classes == k
    assert abs(len(ds.y_test) / n - 0.2) < 0.01
    # stratified: every class keeps (about) its share in the held-out set
    share_all = np.bincount(np.concatenate([ds.y_train, ds.y_test]), minlength=k) / n
    share_test = np.bincount(ds.y_test, minlength=k) / len(ds.y_test)
    assert np.abs(share_all - share_test).max() < 0.02
    assert np.abs(ds.x_train.mean(0)).max() < 1e-4
    std = ds.x_train.std(0)
    assert np.all((np.abs(std - 1) < 1e-3) | (std == 0))
    again = loader()
    assert np.array_equal(again.x_test, ds.x_test)  # the split is fixed
