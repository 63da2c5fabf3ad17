"""What the course wrappers share: the course's input types, and its legacy random streams."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from scratch.validation import as_float_array

Rng = np.random.Generator | np.random.RandomState


def as_float(name: str, value: object) -> np.ndarray:
    """``value`` under the project's dtype policy (:func:`scratch.validation.as_float_array`), then float64:
    the course computes in float64, so its wrappers widen float32 too."""
    array = as_float_array(name, value)
    return array if array.dtype == np.float64 else array.astype(np.float64)


def as_labels(Y: object, m: int) -> np.ndarray:
    """Labels as a float64 ``(1, m)`` row; the course's tests also pass a 1-D ``(m,)`` vector."""
    labels = as_float("Y", Y)
    if labels.ndim == 1 and labels.shape == (m,):
        labels = labels.reshape(1, m)
    return labels


@contextmanager
def legacy_stream(seed: int | None, rng: np.random.Generator | None) -> Iterator[Rng]:
    """The random stream a course function draws from.

    ``rng`` (the project's convention) wins; otherwise ``seed=k`` is a private ``RandomState(k)`` (the
    draws of ``np.random.seed(k)``), and ``seed=None`` continues NumPy's global legacy stream and leaves
    it advanced, as the course's own code does.
    """
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        yield rng
    elif seed is not None:
        yield np.random.RandomState(seed)
    else:
        # The course's own compatibility path: continue (and advance) the global legacy stream.
        stream = np.random.RandomState()
        stream.set_state(np.random.get_state())  # noqa: NPY002
        yield stream
        np.random.set_state(stream.get_state())  # noqa: NPY002


def copy_params(parameters: dict[str, object]) -> dict[str, np.ndarray]:
    """A float64 copy: the 2021 course's update functions leave the caller's dict untouched."""
    return {name: as_float(name, value).copy() for name, value in parameters.items()}


def check_iterations(num_iterations: int) -> None:
    """A count of iterations >= 0: 0 returns the starting point, as the course's loops do."""
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, (int, np.integer)) or num_iterations < 0:
        raise ValueError(f"num_iterations must be an integer >= 0, got {num_iterations!r}")
