"""Train/dev/test splits and the lectures' bias/variance diagnosis.

The lectures: with 100..10,000 examples a 60/20/20 split is customary; with a million, 98/1/1 leaves
10,000 dev and test examples, plenty to compare models. Splits here are deterministic given ``seed``
and optionally stratified (each class split in the same proportions, so a rare class is not missing
from a small dev set).

Diagnosis (the lectures' table, base error = Bayes/human error, 0 by default)::

    avoidable bias = train error - base error     variance = dev error - train error

each compared with ``threshold``: high bias, high variance, both, or neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compare.data.datasets import Dataset


@dataclass(frozen=True)
class Split:
    train: Dataset
    dev: Dataset
    test: Dataset

    def describe(self) -> str:
        return "\n".join(part.describe() for part in (self.train, self.dev, self.test))


def _check_ratios(ratios: tuple[float, float, float]) -> np.ndarray:
    r = np.asarray(ratios, dtype=np.float64)
    if r.shape != (3,) or not np.isfinite(r).all() or (r <= 0).any() or abs(r.sum() - 1) > 1e-9:
        raise ValueError(f"ratios must be three positive fractions (train, dev, test) summing to 1, "
                         f"got {ratios!r}")
    return r


def _part_sizes(m: int, ratios: np.ndarray) -> np.ndarray:
    """Sizes that sum to ``m``: dev and test rounded (at least 1 each), train takes the rest."""
    dev, test = (max(1, round(ratio * m)) for ratio in ratios[1:])
    return np.array([m - dev - test, dev, test])


def train_dev_test_split(data: Dataset, ratios: tuple[float, float, float] = (0.6, 0.2, 0.2), *,
                         seed: int = 0, stratified: bool = False) -> Split:
    """Shuffle with ``np.random.default_rng(seed)`` and cut into train/dev/test by ``ratios``.

    ``stratified=True`` cuts each class separately by the same ratios, so every part keeps the class
    balance of ``data`` (up to rounding per class). Every part is non-empty or a ``ValueError`` says why.
    """
    r = _check_ratios(ratios)
    rng = np.random.default_rng(seed)
    labels = data.Y.ravel()
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratified else [np.arange(data.m)]
    parts: list[list[np.ndarray]] = [[], [], []]
    for members in groups:
        members = rng.permutation(members)
        sizes = _part_sizes(len(members), r)
        if sizes[0] < 1:
            raise ValueError(f"{data.name}: {len(members)} examples are too few to split by {ratios!r}")
        for part, chunk in zip(parts, np.split(members, np.cumsum(sizes)[:2]), strict=True):
            part.append(chunk)
    columns = [np.sort(np.concatenate(p)) for p in parts]
    names = ("train", "dev", "test")
    return Split(*(data.subset(c, f"{data.name}[{n}]") for c, n in zip(columns, names, strict=True)))


@dataclass(frozen=True)
class Diagnosis:
    """The verdict and the numbers behind it (errors as fractions)."""

    train_error: float
    dev_error: float
    base_error: float
    threshold: float

    @property
    def avoidable_bias(self) -> float:
        return self.train_error - self.base_error

    @property
    def variance(self) -> float:
        return self.dev_error - self.train_error

    @property
    def high_bias(self) -> bool:
        return self.avoidable_bias > self.threshold

    @property
    def high_variance(self) -> bool:
        return self.variance > self.threshold

    @property
    def verdict(self) -> str:
        return {(True, True): "high bias and high variance", (True, False): "high bias",
                (False, True): "high variance", (False, False): "neither (low bias, low variance)"}[
            (self.high_bias, self.high_variance)]

    def describe(self) -> str:
        return (f"{self.verdict}: train error {self.train_error:.1%}, dev error {self.dev_error:.1%}, "
                f"base error {self.base_error:.1%} -> avoidable bias {self.avoidable_bias:+.1%}, "
                f"variance {self.variance:+.1%} (threshold {self.threshold:.1%})")


def diagnose_bias_variance(train_error: float, dev_error: float, *, base_error: float = 0.0,
                           threshold: float = 0.02) -> Diagnosis:
    """High bias if ``train - base > threshold``; high variance if ``dev - train > threshold``.

    Errors are fractions in [0, 1]. The lectures' examples (base 0): 1% / 11% is high variance,
    15% / 16% high bias, 15% / 30% both, 0.5% / 1% neither; with base error 15%, 15% / 16% is neither.
    """
    for name, value in (("train_error", train_error), ("dev_error", dev_error), ("base_error", base_error)):
        if not (isinstance(value, (int, float, np.floating)) and 0 <= value <= 1):
            raise ValueError(f"{name} must be an error rate in [0, 1], got {value!r}")
    if not (isinstance(threshold, (int, float, np.floating)) and 0 <= threshold < 1):
        raise ValueError(f"threshold must be in [0, 1), got {threshold!r}")
    return Diagnosis(float(train_error), float(dev_error), float(base_error), float(threshold))
