"""Batch, mini-batch and stochastic gradient descent: how one epoch is cut into batches.

The course's ``random_mini_batches``: shuffle the ``m`` examples (columns) with one permutation, cut
them into ``floor(m / size)`` complete batches and keep the remainder as a last, smaller batch.
Batch gradient descent is ``mini_batch_size = m`` (one batch per epoch); stochastic gradient descent is
``mini_batch_size = 1``. The permutation comes from a passed-in ``np.random.Generator``, never from the
global NumPy state, so the harness can hand the same permutation to torch's ``DataLoader``.
"""

from __future__ import annotations

import numpy as np

from scratch.validation import check_array, check_positive_int, check_shape, float_inputs

#: The mini-batch sizes the course recommends (powers of two that fit in memory).
COURSE_MINI_BATCH_SIZES = (64, 128, 256, 512)


def batch_sizes(m: int, mini_batch_size: int) -> list[int]:
    """Sizes of the batches of one epoch: ``floor(m / size)`` times ``size``, then ``m mod size`` if > 0."""
    check_positive_int("m", m)
    check_positive_int("mini_batch_size", mini_batch_size)
    complete, rest = divmod(m, mini_batch_size)
    return [mini_batch_size] * complete + ([rest] if rest else [])


@float_inputs(X=2, Y=2)
def partition_mini_batches(X: np.ndarray, Y: np.ndarray, mini_batch_size: int, permutation: np.ndarray
                           ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffle the columns of ``X (n_x, m)`` and ``Y (1, m)`` by ``permutation`` and cut them into batches.

    Returns ``[(X_1, Y_1), ...]`` with ``X_k`` of shape ``(n_x, size_k)``, sizes as :func:`batch_sizes`.
    """
    check_array("X", X, ndim=2)
    check_array("Y", Y, ndim=2)
    m = X.shape[1]
    check_shape("Y", Y, (None, m))
    check_array("permutation", permutation, ndim=1)
    if permutation.shape != (m,) or not np.array_equal(np.sort(permutation), np.arange(m)):
        raise ValueError(f"permutation must be a permutation of range({m}), got shape {permutation.shape}")
    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]
    bounds = np.cumsum([0, *batch_sizes(m, mini_batch_size)])
    return [(X_shuffled[:, start:stop], Y_shuffled[:, start:stop])
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


@float_inputs(X=2, Y=2)
def random_mini_batches(X: np.ndarray, Y: np.ndarray, mini_batch_size: int = 64, *, rng: np.random.Generator
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The course's ``random_mini_batches``: one ``rng.permutation(m)``, then :func:`partition_mini_batches`."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    check_array("X", X, ndim=2)
    return partition_mini_batches(X, Y, mini_batch_size, rng.permutation(X.shape[1]))
