"""Input checks shared by every scratch module.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) with a message that names
the argument and says what was expected, so a bad call fails at the door instead of as a NumPy
broadcasting surprise or a silent NaN several steps later.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

F = TypeVar("F", bound=Callable)


def as_float_array(name: str, value: object) -> np.ndarray:
    """The input dtype policy of every public scratch function (README, "Input dtypes").

    - float32 and float64 arrays are returned as they are (the same object: no copy);
    - booleans, integers, Python numbers and lists become float64, as NumPy's own ufuncs promote them
      (``np.exp(1)`` is a float): the result of ``sigmoid(np.array([1, 2, 3]))`` is never truncated;
    - float16 is refused (``ValueError``): its 11-bit significand makes a course result differ from
      float64 in the third digit, and torch's CPU parity runs do not use it; convert with ``.astype``;
    - anything else (object, complex, strings, dates) is refused with ``TypeError``.
    Every message names the argument.
    """
    if isinstance(value, np.ndarray) and value.dtype in FLOAT_DTYPES:
        return value
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged lists
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__} ({error})") from None
    if array.dtype in FLOAT_DTYPES:
        return array
    if array.dtype.kind in "biu":
        return array.astype(np.float64)
    if array.dtype == np.float16:
        raise ValueError(f"{name} has dtype float16, which scratch does not compute in; "
                         f"pass {name}.astype(np.float32) or float64")
    raise TypeError(f"{name} must hold real numbers (bool, int, float32 or float64), got dtype {array.dtype}")


def _promoted(name: str, value: object) -> object:
    """``value`` under the dtype policy; a mapping of arrays (parameters, gradients) entry by entry."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: _promoted(f"{name}[{key!r}]", entry) for key, entry in value.items()}
    return as_float_array(name, value)


def check_updatable(name: str, value: object) -> None:
    """An array (or mapping of arrays) updated in place: float32/float64, since an in-place update cannot
    change its dtype (an integer parameter would be truncated at every step), and writeable."""
    if isinstance(value, Mapping):
        for key, entry in value.items():
            check_updatable(f"{name}[{key!r}]", entry)
        return
    check_array(name, value)
    check_float_dtype(name, value)
    if not value.flags.writeable:
        raise ValueError(f"{name} is read-only; it is updated in place, so pass a writeable array ({name}.copy())")


def _arguments(function: Callable, names: Sequence[str]) -> dict[str, int]:
    """The positional index of each of ``names`` in ``function``'s signature (else it is passed by keyword)."""
    parameters = list(inspect.signature(function).parameters)
    return {name: parameters.index(name) for name in names}


def updates_in_place(*names: str) -> Callable[[F], F]:
    """Decorate a function that updates its arguments ``names`` in place: :func:`check_updatable` on each.

    The other half of the dtype policy: an array the function writes into is never promoted (the caller
    would not see the update) but refused, naming it, unless it is a writeable float32/float64 array.
    """
    def decorate(function: F) -> F:
        positions = _arguments(function, names)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for name, position in positions.items():
                if position < len(args):
                    check_updatable(name, args[position])
                elif name in kwargs:
                    check_updatable(name, kwargs[name])
            return function(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def float_inputs(*names: str) -> Callable[[F], F]:
    """Decorate a function so that its arguments ``names`` follow :func:`as_float_array` before the call.

    The one place where the dtype policy is applied: the decorated function then sees float32 or float64
    arrays only. A mapping argument (``params``, ``grads``) is promoted entry by entry into a new dict, so
    the caller's dict and arrays are never modified. Arrays already float32/float64 pass through untouched
    (no copy), which keeps the hot training loops free of conversions.
    """
    def decorate(function: F) -> F:
        positions = _arguments(function, names)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            args = list(args)
            for name, position in positions.items():
                if position < len(args):
                    args[position] = _promoted(name, args[position])
                elif name in kwargs:
                    kwargs[name] = _promoted(name, kwargs[name])
            return function(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


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
