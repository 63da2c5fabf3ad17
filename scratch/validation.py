"""Input checks shared by every scratch module.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) with a message that names
the argument and says what was expected, so a bad call fails at the door instead of as a NumPy
broadcasting surprise or a silent NaN several steps later.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_array(name: str, value: object, *, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as an ndarray, checking that it is one (with ``ndim`` dimensions when given)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    return value


def check_float_dtype(name: str, array: np.ndarray) -> None:
    """Require float32 or float64: integer arrays would silently truncate updates."""
    if array.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got dtype {array.dtype}")


def check_finite(name: str, array: np.ndarray) -> None:
    """Reject NaN and +-Inf, naming how many entries are bad."""
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        raise ValueError(f"{name} contains {bad} NaN/Inf value(s); expected only finite numbers")


def check_nonempty(name: str, array: np.ndarray) -> None:
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); expected at least one example")


def check_shape(name: str, array: np.ndarray, expected: Sequence[int | None]) -> None:
    """Check ``array.shape`` against ``expected``, where ``None`` matches any length."""
    expected = tuple(expected)
    ok = len(array.shape) == len(expected) and all(
        want is None or got == want for got, want in zip(array.shape, expected, strict=True)
    )
    if not ok:
        sizes = ", ".join("*" if d is None else str(d) for d in expected)
        shown = f"({sizes},)" if len(expected) == 1 else f"({sizes})"  # as Python writes a 1-tuple
        raise ValueError(f"{name} must have shape {shown}, got {array.shape}")


def check_binary_labels(name: str, labels: np.ndarray) -> None:
    """Binary cross-entropy is defined for labels in {0, 1} only."""
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        examples = np.unique(labels[bad])[:5].tolist()
        raise ValueError(f"{name} must contain only 0 and 1 labels, found {examples}")


def check_probabilities(name: str, probs: np.ndarray) -> None:
    if ((probs < 0) | (probs > 1)).any() or not np.isfinite(probs).all():
        raise ValueError(f"{name} must hold probabilities in [0, 1], got values in "
                         f"[{np.nanmin(probs)}, {np.nanmax(probs)}]")


def check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_nonnegative(name: str, value: float) -> None:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def check_in_range(name: str, value: float, low: float, high: float, *, low_open: bool = False,
                   high_open: bool = False) -> None:
    """Check ``low <= value <= high`` with optionally open ends, e.g. keep_prob in (0, 1]."""
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (isinstance(value, (int, float, np.floating, np.integer)) and above and below):
        interval = ("(" if low_open else "[") + f"{low}, {high}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {interval}, got {value!r}")


def check_dtype(name: str, dtype: object) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype, requiring float32 or float64 (names, types or dtypes)."""
    try:
        resolved = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would be float64
    except TypeError:
        resolved = None
    if resolved is None or resolved not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {dtype!r}")
    return resolved


def check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_binary_dataset(X: np.ndarray, Y: np.ndarray, *, x_name: str = "X", y_name: str = "Y") -> None:
    """The course's layout: ``X`` is ``(n_x, m)`` and ``Y`` is ``(1, m)`` with labels in {0, 1}."""
    check_array(x_name, X, ndim=2)
    check_array(y_name, Y, ndim=2)
    check_nonempty(x_name, X)
    check_float_dtype(x_name, X)
    check_finite(x_name, X)
    check_shape(y_name, Y, (1, X.shape[1]))
    check_binary_labels(y_name, Y)
