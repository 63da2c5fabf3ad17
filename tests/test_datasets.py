"""The shared datasets: layout, determinism, splits, and bad data rejected with a named reason."""

from __future__ import annotations

import numpy as np
import pytest

from compare.data import datasets
from compare.data.datasets import Dataset


def test_blobs_layout_balance_and_determinism() -> None:
    data = datasets.make_blobs(m=50, n_x=3, seed=4)
    assert data.X.shape == (3, 50) and data.Y.shape == (1, 50)
    assert data.class_counts() == [25, 25]
    again = datasets.make_blobs(m=50, n_x=3, seed=4)
    np.testing.assert_array_equal(data.X, again.X)
    assert not np.array_equal(data.X, datasets.make_blobs(m=50, n_x=3, seed=5).X)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_generated_sets_honour_the_dtype(dtype: str) -> None:
    for data in (datasets.make_blobs(m=8, n_x=2, dtype=dtype), datasets.planar_flower(m=20, dtype=dtype)):
        assert data.X.dtype == np.dtype(dtype) and data.Y.dtype == np.dtype(dtype)


def test_planar_flower_is_two_balanced_classes_in_the_plane() -> None:
    data = datasets.planar_flower(m=40)
    assert data.X.shape == (2, 40) and data.class_counts() == [20, 20]
    assert np.all(np.hypot(*data.X) < 5)  # radius 4 sin(.) plus small noise


def test_breast_cancer_is_the_real_unscaled_set() -> None:
    data = datasets.breast_cancer()
    assert data.X.shape == (30, 569)
    assert sum(data.class_counts()) == 569 and min(data.class_counts()) > 200
    spread = data.X.max(axis=1) / np.maximum(data.X.min(axis=1), 1e-12)
    assert data.X.max() > 1000 and data.X[data.X > 0].min() < 0.01  # wildly different feature scales
    assert np.isfinite(spread).any()


def test_digits_multiclass_and_one_vs_rest() -> None:
    data = datasets.digits()
    assert data.X.shape == (64, 1797) and data.n_classes == 10
    ones = datasets.digits(one_vs_rest=1)
    assert ones.n_classes == 2 and ones.class_counts()[1] == data.class_counts()[1]


def test_standardize_uses_training_statistics_only() -> None:
    train, test = datasets.train_test_split(datasets.breast_cancer(), test_fraction=0.25, seed=1)
    std_train, std_test = datasets.standardize(train, test)
    np.testing.assert_allclose(std_train.X.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(std_train.X.std(axis=1), 1, rtol=1e-12)
    expected = (test.X - train.X.mean(axis=1, keepdims=True)) / train.X.std(axis=1, keepdims=True)
    np.testing.assert_allclose(std_test.X, expected, rtol=1e-12)


def test_standardize_only_centres_constant_features() -> None:
    X = np.vstack([np.full(6, 3.0), np.arange(6.0)])
    (out,) = datasets.standardize(Dataset("const", X, (np.arange(6) % 2).reshape(1, -1).astype(float)))
    assert np.all(out.X[0] == 0) and np.isfinite(out.X).all()


def test_split_is_a_seeded_partition() -> None:
    data = datasets.make_blobs(m=30, n_x=2)
    train, test = datasets.train_test_split(data, test_fraction=0.2, seed=3)
    assert (train.m, test.m) == (24, 6)
    stacked = np.sort(np.hstack([train.X, test.X]), axis=1)
    np.testing.assert_array_equal(stacked, np.sort(data.X, axis=1))
    again, _ = datasets.train_test_split(data, test_fraction=0.2, seed=3)
    np.testing.assert_array_equal(train.X, again.X)


def _labels(values: list[float]) -> np.ndarray:
    return np.array([values], dtype=np.float64)


@pytest.mark.parametrize("X, Y, match", [
    (np.ones((2, 3)), _labels([0, 1]), r"toy\.Y must have shape \(1, 3\)"),
    (np.ones((2, 3)), _labels([0, 1, 2]), r"toy\.Y must hold integer labels in 0\.\.1, found \[0\.0, 1\.0, 2\.0\]"),
    (np.ones((2, 3)), _labels([0, 0.5, 1]), r"toy\.Y must hold integer labels"),
    (np.array([[1.0, np.nan, 0.0]]), _labels([0, 1, 0]), r"toy\.X contains 1 NaN/Inf"),
    (np.array([[1.0, np.inf, 0.0]]), _labels([0, 1, 0]), r"toy\.X contains 1 NaN/Inf"),
    (np.ones((2, 0)), np.ones((1, 0)), r"toy\.X is empty"),
    (np.ones(3), _labels([0, 1, 0]), r"toy\.X must have 2 dimensions"),
    (np.ones((2, 3), dtype=np.int64), _labels([0, 1, 0]), r"toy\.X must be float32 or float64"),
], ids=["Y-shape", "label-2", "label-half", "nan", "inf", "empty", "1d", "int-dtype"])
def test_bad_data_raises_value_error_naming_the_problem(X: np.ndarray, Y: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Dataset("toy", X, Y)


def test_adding_problem_has_two_markers_one_per_half_and_the_sum_as_target() -> None:
    data = datasets.adding_problem(50, 21, seed=3, dtype="float32")
    values, markers = data.inputs
    assert data.inputs.shape == (2, 50, 21) and data.targets.shape == (1, 50) and data.m == 50
    assert data.inputs.dtype == np.float32
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :10].sum(axis=1) == 1).all() and (markers[:, 10:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(data.targets[0], (values * markers).sum(axis=1), rtol=1e-6)
    again = datasets.adding_problem(50, 21, seed=3, dtype="float32")
    assert np.array_equal(again.inputs, data.inputs)
    with pytest.raises(ValueError, match="T"):
        datasets.adding_problem(5, 1)


def test_char_sequences_of_the_zen_are_next_character_targets() -> None:
    text = datasets.zen_of_python()
    assert text.startswith("The Zen of Python, by Tim Peters") and "Beautiful is better than ugly." in text
    data = datasets.char_sequences(text, 25, name="zen")
    assert data.inputs.shape == data.targets.shape == ((len(text) - 1) // 25, 25)
    decoded = "".join(data.vocabulary[i] for i in data.inputs.ravel())
    assert decoded == text[: data.inputs.size]
    assert np.array_equal(data.inputs.ravel()[1:], data.targets.ravel()[:-1])
    with pytest.raises(ValueError, match="too short"):
        datasets.char_sequences("abc", 5)
