"""Datasets: validation, description, splits, the bias/variance helper and the on-disk loaders.

The downloadable loaders are exercised for real on small files written here in the formats torchvision
reads (IDX for MNIST/FashionMNIST, pickled batches for CIFAR-10) and on small generated h5 files for the
course's catvnoncat; nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_datasets import skip_cifar_md5, write_cifar, write_mnist
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.data import datasets
from compare.data.splits import diagnose_bias_variance, train_dev_test_split


def test_dataset_rejects_bad_input():
    X = np.zeros((2, 4))
    with pytest.raises(ValueError, match="must have shape"):
        datasets.Dataset("d", X, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="labels in 0..1"):
        datasets.Dataset("d", X, np.array([[0.0, 1.0, 2.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN/Inf"):
        datasets.Dataset("d", np.full((2, 4), np.nan), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="image_shape"):
        datasets.Dataset("d", X, np.zeros((1, 4)), image_shape=(1, 1, 3))


@pytest.mark.parametrize("make", [datasets.planar_flower, datasets.two_moons])
def test_generated_planar_sets_are_balanced_and_deterministic(make):
    a, b = make(seed=3), make(seed=3)
    assert a.X.shape == (2, 400) and a.class_counts() == [200, 200]
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, make(seed=4).X)
    assert "400 examples x 2 features" in a.describe()


def test_real_sets_shapes_and_balance():
    cancer = datasets.breast_cancer()
    assert (cancer.n_x, cancer.m) == (30, 569) and sum(cancer.class_counts()) == 569
    digits = datasets.digits()
    assert digits.n_classes == 10 and digits.images().shape == (1797, 1, 8, 8)
    one = datasets.digits(one_vs_rest=7)
    assert one.class_counts()[1] == digits.class_counts()[7]
    np.testing.assert_array_equal(one.images()[0, 0], digits.X[:, 0].reshape(8, 8))
    with pytest.raises(ValueError, match="one_vs_rest"):
        datasets.digits(one_vs_rest=10)


@pytest.mark.parametrize("ratios", [(0.6, 0.2, 0.2), (0.98, 0.01, 0.01)])
@pytest.mark.parametrize("stratified", [False, True])
def test_split_partitions_deterministically(ratios, stratified):
    data = datasets.digits(one_vs_rest=0)
    split = train_dev_test_split(data, ratios, seed=5, stratified=stratified)
    sizes = [p.m for p in (split.train, split.dev, split.test)]
    assert sum(sizes) == data.m and min(sizes) >= 1
    np.testing.assert_allclose(np.array(sizes) / data.m, ratios, atol=0.01)
    columns = np.hstack([p.X for p in (split.train, split.dev, split.test)])
    assert sorted(map(tuple, columns.T)) == sorted(map(tuple, data.X.T))  # a partition: nothing lost or doubled
    again = train_dev_test_split(data, ratios, seed=5, stratified=stratified)
    np.testing.assert_array_equal(split.dev.X, again.dev.X)
    if stratified:
        for part in (split.train, split.dev, split.test):
            assert part.class_counts()[1] >= 1


def test_stratified_split_keeps_class_balance():
    data = datasets.breast_cancer()
    split = train_dev_test_split(data, seed=1, stratified=True)
    overall = data.class_counts()[1] / data.m
    for part in (split.train, split.dev, split.test):
        assert abs(part.class_counts()[1] / part.m - overall) < 0.01


@pytest.mark.parametrize("ratios", [(0.5, 0.5), (0.6, 0.3, 0.3), (1.0, 0.0, 0.0), (0.6, -0.2, 0.6)])
def test_split_rejects_bad_ratios(ratios):
    with pytest.raises(ValueError, match="ratios"):
        train_dev_test_split(datasets.make_blobs(m=20), ratios)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(3, 60), seed=st.integers(0, 10))
def test_split_property_every_part_nonempty(m, seed):
    split = train_dev_test_split(datasets.make_blobs(m=m, n_x=2, seed=seed), (0.98, 0.01, 0.01), seed=seed)
    assert split.dev.m >= 1 and split.test.m >= 1 and split.train.m + split.dev.m + split.test.m == m


# The lectures' table (cat classifier, base error ~0%; then base error 15%) — external reference values.
@pytest.mark.parametrize("train, dev, base, verdict", [
    (0.01, 0.11, 0.0, "high variance"),
    (0.15, 0.16, 0.0, "high bias"),
    (0.15, 0.30, 0.0, "high bias and high variance"),
    (0.005, 0.01, 0.0, "neither (low bias, low variance)"),
    (0.15, 0.16, 0.15, "neither (low bias, low variance)"),
])
def test_bias_variance_lecture_table(train, dev, base, verdict):
    diagnosis = diagnose_bias_variance(train, dev, base_error=base)
    assert diagnosis.verdict == verdict
    assert f"train error {train:.1%}" in diagnosis.describe()
    assert diagnosis.variance == pytest.approx(dev - train)


@pytest.mark.parametrize("kwargs", [dict(train_error=-0.1, dev_error=0.1), dict(train_error=0.1, dev_error=1.5),
                                    dict(train_error=0.1, dev_error=0.1, threshold=1.0)])
def test_bias_variance_rejects_bad_rates(kwargs):
    with pytest.raises(ValueError, match="must be"):
        diagnose_bias_variance(**kwargs)


# --- on-disk formats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fashion", [False, True])
def test_mnist_loader_reads_idx_files(tmp_path, fashion):
    arrays = write_mnist(tmp_path, "FashionMNIST" if fashion else "MNIST", np.random.default_rng(0))
    data = datasets.mnist(tmp_path, fashion=fashion, train=True)
    images, labels = arrays["train"]
    assert data.image_shape == (1, 28, 28) and data.m == 12 and data.n_classes == 10
    np.testing.assert_array_equal(data.images()[:, 0], images / 255.0)
    np.testing.assert_array_equal(data.Y.ravel(), labels)
    test = datasets.mnist(tmp_path, fashion=fashion, train=False, dtype="float32", limit=3)
    assert test.m == 3 and test.X.dtype == np.float32


def test_mnist_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(datasets.DatasetUnavailable, match="--download"):
        datasets.mnist(tmp_path / "nowhere")
    assert datasets.main(["mnist", "--data-dir", str(tmp_path)]) == 2


def test_cifar10_cat_vs_noncat_reads_pickled_batches(tmp_path, monkeypatch):
    batches = write_cifar(tmp_path, np.random.default_rng(1))
    skip_cifar_md5(monkeypatch)
    data = datasets.cifar10_cat_vs_noncat(tmp_path, train=False)
    raw, labels = batches["test_batch"]
    assert data.image_shape == (3, 32, 32) and data.m == 4
    np.testing.assert_array_equal(data.images(), raw.reshape(4, 3, 32, 32) / 255.0)
    np.testing.assert_array_equal(data.Y.ravel(), [int(label == 3) for label in labels])
    assert datasets.cifar10_cat_vs_noncat(tmp_path, train=True).m == 20


def test_cifar10_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(datasets.DatasetUnavailable, match="compare.data.datasets cifar10"):
        datasets.cifar10_cat_vs_noncat(tmp_path)


def _write_catvnoncat(folder, split: str, m: int, rng) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    images = rng.integers(0, 256, (m, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, m)
    with h5py.File(folder / f"{split}_catvnoncat.h5", "w") as f:
        f.create_dataset(f"{split}_set_x", data=images)
        f.create_dataset(f"{split}_set_y", data=labels)
        f.create_dataset("list_classes", data=np.array([b"non-cat", b"cat"]))
    return images, labels


@pytest.mark.parametrize("train", [True, False])
def test_catvnoncat_reads_course_h5(tmp_path, train):
    pytest.importorskip("h5py")
    split = "train" if train else "test"
    images, labels = _write_catvnoncat(tmp_path, split, 6, np.random.default_rng(2))
    data = datasets.catvnoncat(tmp_path, train=train)
    assert data.image_shape == (3, 64, 64) and data.m == 6
    np.testing.assert_array_equal(data.images(), images.transpose(0, 3, 1, 2) / 255.0)
    np.testing.assert_array_equal(data.Y.ravel(), labels)
    assert "6 examples x 12288 features" in data.describe()


def test_catvnoncat_bad_files(tmp_path):
    h5py = pytest.importorskip("h5py")
    with pytest.raises(datasets.DatasetUnavailable, match="train_catvnoncat.h5"):
        datasets.catvnoncat(tmp_path)
    with h5py.File(tmp_path / "test_catvnoncat.h5", "w") as f:
        f.create_dataset("wrong", data=np.zeros(3))
    with pytest.raises(ValueError, match="test_set_x"):
        datasets.catvnoncat(tmp_path, train=False)
    with h5py.File(tmp_path / "train_catvnoncat.h5", "w") as f:
        f.create_dataset("train_set_x", data=np.zeros((2, 64, 64, 3), dtype=np.uint8))
        f.create_dataset("train_set_y", data=np.array([0, 2]))
    with pytest.raises(ValueError, match="labels in 0..1"):
        datasets.catvnoncat(tmp_path)
