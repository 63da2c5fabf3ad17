"""Datasets shared by both sides, in the course's layout: ``X`` is ``(n_x, m)``, ``Y`` is ``(1, m)``.

Offline by default: the generated sets come from a seeded ``np.random.Generator``, the real ones ship
inside scikit-learn. Every constructor validates shapes, labels and finiteness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scratch.validation import (
    check_array,
    check_dtype,
    check_finite,
    check_float_dtype,
    check_nonempty,
    check_positive_int,
    check_shape,
)


@dataclass(frozen=True)
class Dataset:
    """Examples as columns. ``Y`` holds labels ``0 .. n_classes - 1`` in ``X``'s dtype."""

    name: str
    X: np.ndarray
    Y: np.ndarray
    n_classes: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, (int, np.integer)) or self.n_classes < 2:
            raise ValueError(f"{self.name}.n_classes must be an integer >= 2, got {self.n_classes!r}")
        check_array(f"{self.name}.X", self.X, ndim=2)
        check_array(f"{self.name}.Y", self.Y, ndim=2)
        check_nonempty(f"{self.name}.X", self.X)
        check_float_dtype(f"{self.name}.X", self.X)
        check_finite(f"{self.name}.X", self.X)
        check_shape(f"{self.name}.Y", self.Y, (1, self.X.shape[1]))
        labels = np.unique(self.Y)
        if not np.isin(labels, np.arange(self.n_classes)).all():
            raise ValueError(f"{self.name}.Y must hold integer labels in 0..{self.n_classes - 1}, "
                             f"found {labels[:10].tolist()}")

    @property
    def m(self) -> int:
        return self.X.shape[1]

    @property
    def n_x(self) -> int:
        return self.X.shape[0]

    def class_counts(self) -> list[int]:
        return np.bincount(self.Y.ravel().astype(np.int64), minlength=self.n_classes).tolist()

    def describe(self) -> str:
        """One line: size and class balance, e.g. ``breast_cancer: 569 examples x 30 features, ...``."""
        counts = self.class_counts()
        balance = ", ".join(f"{c}: {n} ({n / self.m:.0%})" for c, n in enumerate(counts))
        return f"{self.name}: {self.m} examples x {self.n_x} features, classes {balance}"

    def subset(self, columns: np.ndarray, name: str | None = None) -> Dataset:
        return Dataset(name or self.name, self.X[:, columns], self.Y[:, columns], self.n_classes)


def make_blobs(m: int = 256, n_x: int = 8, *, seed: int = 0, dtype: np.dtype | str = "float64",
               separation: float = 1.5) -> Dataset:
    """Two overlapping Gaussian clouds in ``n_x`` dimensions, balanced labels, shuffled."""
    check_positive_int("m", m)
    check_positive_int("n_x", n_x)
    check_dtype("dtype", dtype)
    if not np.isfinite(separation):
        raise ValueError(f"separation must be a finite number, got {separation!r}")
    rng = np.random.default_rng(seed)
    Y = (np.arange(m) % 2).reshape(1, m)
    direction = rng.standard_normal((n_x, 1))
    direction /= np.linalg.norm(direction)
    X = rng.standard_normal((n_x, m)) + separation * direction * (2 * Y - 1)
    order = rng.permutation(m)
    return Dataset("blobs", X[:, order].astype(dtype), Y[:, order].astype(dtype))


def planar_flower(m: int = 400, *, seed: int = 1, dtype: np.dtype | str = "float64", petals: int = 4
                  ) -> Dataset:
    """The course's planar "flower": two classes in interleaved petals ``r = 4 sin(petals * t)``.

    Same construction as the course's ``load_planar_dataset`` (radius, angle jitter 0.2, radial noise
    0.2), drawn from a seeded ``np.random.Generator`` instead of the legacy global RNG.
    """
    check_positive_int("m", m)
    if m % 2:
        raise ValueError(f"m must be even (half the points per class), got {m}")
    check_dtype("dtype", dtype)
    rng = np.random.default_rng(seed)
    half = m // 2
    X = np.zeros((2, m))
    Y = np.zeros((1, m))
    for label in range(2):
        idx = slice(half * label, half * (label + 1))
        t = np.linspace(label * 3.12, (label + 1) * 3.12, half) + rng.standard_normal(half) * 0.2
        r = 4 * np.sin(petals * t) + rng.standard_normal(half) * 0.2
        X[:, idx] = np.vstack([r * np.sin(t), r * np.cos(t)])
        Y[0, idx] = label
    return Dataset("planar_flower", X.astype(dtype), Y.astype(dtype))


def breast_cancer(*, dtype: np.dtype | str = "float64") -> Dataset:
    """scikit-learn's Wisconsin breast-cancer set: 569 x 30 real features, 1 = benign (unscaled)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return Dataset("breast_cancer", bunch.data.T.astype(dtype), bunch.target.reshape(1, -1).astype(dtype))


def digits(*, dtype: np.dtype | str = "float64", one_vs_rest: int | None = None) -> Dataset:
    """scikit-learn's 8x8 digits (1797 x 64, pixels 0..16), 10 classes or ``one_vs_rest`` as label 1."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = bunch.data.T.astype(dtype)
    labels = bunch.target.reshape(1, -1)
    if one_vs_rest is None:
        return Dataset("digits", X, labels.astype(dtype), n_classes=10)
    if one_vs_rest not in range(10):
        raise ValueError(f"one_vs_rest must be a digit 0..9, got {one_vs_rest!r}")
    return Dataset(f"digits_{one_vs_rest}_vs_rest", X, (labels == one_vs_rest).astype(dtype))


def standardize(train: Dataset, *others: Dataset) -> list[Dataset]:
    """Subtract the training mean and divide by the training std (per feature) on every set.

    Constant features (std 0) are only centred, to avoid dividing by zero.
    """
    for other in others:
        if other.n_x != train.n_x:
            raise ValueError(f"{other.name} has {other.n_x} features but the training set {train.name} has "
                             f"{train.n_x}; standardize needs the same features")
    mean = train.X.mean(axis=1, keepdims=True)
    std = train.X.std(axis=1, keepdims=True)
    std[std == 0] = 1
    return [Dataset(d.name, (d.X - mean) / std, d.Y, d.n_classes) for d in (train, *others)]


def train_test_split(data: Dataset, *, test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """A seeded random split into ``(train, test)``; both parts are non-empty."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    if data.m < 2:
        raise ValueError(f"data must have at least 2 examples to split, {data.name} has {data.m}")
    order = np.random.default_rng(seed).permutation(data.m)
    n_test = min(max(1, round(test_fraction * data.m)), data.m - 1)
    return data.subset(order[n_test:], f"{data.name}[train]"), data.subset(order[:n_test], f"{data.name}[test]")
