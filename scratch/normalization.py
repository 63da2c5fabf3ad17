"""Normalizing inputs as in the lectures: statistics fitted on the training set only.

Shapes: ``X`` is ``(n_x, m)``. Fit on the training set::

    mu = (1/m) sum_i x^(i)                 (n_x, 1)
    sigma^2 = (1/m) sum_i (x^(i) - mu)^2   (n_x, 1)   (population variance, ddof 0)

then apply the *same* ``mu`` and ``sigma`` to train, dev and test: ``X_norm = (X - mu) / sigma``. Using
dev statistics for dev would make the dev set a different problem from the one the model was trained on.
A constant feature (sigma = 0) is only centred (divided by 1) instead of producing NaN. "Constant" is
decided on the values, not on the computed variance: the floating-point mean of equal values need not
equal them (seven copies of 0.1 average to 0.1 plus one ulp), which leaves a variance of ~1e-34 instead of
0 and would blow the feature's rounding noise up to unit scale. torch's ``std`` (Welford's algorithm)
returns exactly 0 for equal values, so this rule is also what keeps the two sides equal.

For images ``(m, C, H, W)`` the statistics are per channel (over examples and pixels), which is what
``torchvision.transforms.v2.Normalize(mean, std)`` expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scratch.validation import (
    ANY_SHAPE,
    as_float_array,
    check_array,
    check_finite,
    check_float_dtype,
    check_nonempty,
    check_shape,
    float_inputs,
)


@dataclass(frozen=True)
class Normalizer:
    """Fitted ``mean`` and ``std``, broadcastable against the data they were fitted on."""

    mean: np.ndarray
    std: np.ndarray
    #: The shape ``apply`` accepts: the fitted sizes, ``None`` on the axes the statistics were reduced over.
    #: Defaults to the statistics' shape with every size-1 axis free.
    layout: tuple[int | None, ...] | None = None

    def __post_init__(self) -> None:
        # the dtype policy on the statistics (a frozen dataclass: set through object.__setattr__)
        for name in ("mean", "std"):
            object.__setattr__(self, name, as_float_array(name, getattr(self, name)))
            check_finite(name, getattr(self, name))

    @float_inputs(X=ANY_SHAPE)
    def apply(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean) / std`` with the training statistics; ``X`` shaped like the fitting data."""
        layout = self.layout or tuple(d if d != 1 else None for d in self.mean.shape)
        check_array("X", X, ndim=len(layout))
        check_shape("X", X, layout)
        check_finite("X", X)
        return (X - self.mean) / self.std


def _safe_std(variance: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """``sqrt(variance)``, and 1 where the data are ``constant`` (all values equal) or the variance is 0."""
    std = np.sqrt(variance)
    return np.where(constant | (std == 0), np.ones_like(std), std)


def _check_data(name: str, X: np.ndarray, ndim: int) -> None:
    check_array(name, X, ndim=ndim)
    check_nonempty(name, X)
    check_float_dtype(name, X)
    check_finite(name, X)


@float_inputs(X_train=2)
def fit_normalizer(X_train: np.ndarray) -> Normalizer:
    """Per-feature mean and population std of ``X_train`` ``(n_x, m)``; both ``(n_x, 1)``."""
    _check_data("X_train", X_train, 2)
    mean = X_train.mean(axis=1, keepdims=True)
    variance = ((X_train - mean) ** 2).mean(axis=1, keepdims=True)
    constant = (X_train == X_train[:, :1]).all(axis=1, keepdims=True)
    return Normalizer(mean, _safe_std(variance, constant), (X_train.shape[0], None))


@float_inputs(images_train=4)
def fit_image_normalizer(images_train: np.ndarray) -> Normalizer:
    """Per-channel mean and population std of ``images_train`` ``(m, C, H, W)``; both ``(1, C, 1, 1)``."""
    _check_data("images_train", images_train, 4)
    mean = images_train.mean(axis=(0, 2, 3), keepdims=True)
    variance = ((images_train - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    constant = (images_train == images_train[:1, :, :1, :1]).all(axis=(0, 2, 3), keepdims=True)
    return Normalizer(mean, _safe_std(variance, constant), (None, images_train.shape[1], None, None))
