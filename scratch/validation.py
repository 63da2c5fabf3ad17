"""Input checks shared by every scratch module.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) with a message that names
the argument and says what was expected, so a bad call fails at the door instead of as a NumPy
broadcasting surprise or a silent NaN several steps later.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

F = TypeVar("F", bound=Callable)

#: True while a checked call is running: the policy is applied at the outermost public call only, so the
#: model loops' calls of the layer functions (on arrays the outer call validated or computed) cost nothing.
_CHECKED = contextvars.ContextVar("scratch_inputs_checked", default=False)


@contextlib.contextmanager
def checked_inputs() -> Iterator[None]:
    """Run a block whose inputs were validated already (e.g. ``Optimizer.step``): nested calls skip the policy."""
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


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


#: ``float_inputs`` shape rule: any shape and any values, IEEE semantics (elementwise functions: sigmoid(inf) = 1).
ELEMENTWISE = None
#: ``float_inputs`` shape rule: any shape (empty allowed), finite values.
ANY_SHAPE = -1


def _promoted(name: str, value: object, ndim: int | None) -> object:
    """``value`` under the dtype policy and the shape rule ``ndim``; a mapping (parameters, gradients) or a
    cache (tuples of arrays) entry by entry, into a new container."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: _promoted(f"{name}[{key!r}]", entry, ndim) for key, entry in value.items()}
    if isinstance(value, (tuple, list)) and ndim not in (ELEMENTWISE, ANY_SHAPE):  # a cache: arrays, nested
        entries = [_promoted(f"{name}[{i}]", entry, ndim) for i, entry in enumerate(value)]
        return type(value)(*entries) if hasattr(value, "_fields") else type(value)(entries)  # a NamedTuple too
    array = as_float_array(name, value)
    if ndim is ELEMENTWISE:
        return array
    if ndim != ANY_SHAPE:
        if array.ndim != ndim:
            raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
        check_nonempty(name, array)
    check_finite(name, array)
    return array


def check_updatable(name: str, value: object, *, finite: bool = True) -> None:
    """An array (or mapping of arrays) updated in place: float32/float64, since an in-place update cannot
    change its dtype (an integer parameter would be truncated at every step), and writeable; finite unless
    ``finite=False`` (gradient clipping, which propagates NaN/Inf as torch does)."""
    if isinstance(value, Mapping):
        for key, entry in value.items():
            check_updatable(f"{name}[{key!r}]", entry, finite=finite)
        return
    check_array(name, value)
    check_float_dtype(name, value)
    if finite:
        check_finite(name, value)
    if not value.flags.writeable:
        raise ValueError(f"{name} is read-only; it is updated in place, so pass a writeable array ({name}.copy())")


def _arguments(function: Callable, names: Sequence[str]) -> dict[str, int]:
    """The positional index of each of ``names`` in ``function``'s signature (else it is passed by keyword)."""
    parameters = list(inspect.signature(function).parameters)
    return {name: parameters.index(name) for name in names}


def updates_in_place(name: str, *, same_shape: str | None = None, finite: bool = True) -> Callable[[F], F]:
    """Decorate a function that updates its argument ``name`` in place: :func:`check_updatable` on it.

    The other half of the dtype policy: an array the function writes into is never promoted (the caller
    would not see the update) but refused, naming it, unless it is a finite, writeable float32/float64
    array. ``same_shape`` names an input (a gradient) that must be a finite array of the same shape; it is
    promoted under the policy. ``finite=False`` lets NaN/Inf entries through (:func:`check_updatable`).
    """
    def decorate(function: F) -> F:
        positions = _arguments(function, [name] + ([same_shape] if same_shape else []))

        def argument(args: list, kwargs: dict, key: str) -> object:
            return args[positions[key]] if positions[key] < len(args) else kwargs.get(key)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if _CHECKED.get():
                return function(*args, **kwargs)
            target = argument(list(args), kwargs, name)
            check_updatable(name, target, finite=finite)
            if same_shape:
                args = list(args)
                other = _promoted(same_shape, argument(args, kwargs, same_shape), ANY_SHAPE)
                if np.shape(other) != target.shape:
                    raise ValueError(f"{same_shape} must have {name}'s shape {target.shape}, got {np.shape(other)}")
                if positions[same_shape] < len(args):
                    args[positions[same_shape]] = other
                else:
                    kwargs[same_shape] = other
            with checked_inputs():
                return function(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def float_inputs(**rules: int | None) -> Callable[[F], F]:
    """Decorate a function so that each named argument follows :func:`as_float_array` and a shape rule first.

    ``@float_inputs(X=2, params=2, z=ELEMENTWISE)``: ``X`` and every entry of ``params`` must then be finite,
    non-empty 2-D arrays (``ValueError`` naming them otherwise); ``z`` may have any shape and any values.
    ``ANY_SHAPE`` asks for finite values of any shape. This is the one place where the dtype policy is
    applied: the decorated function sees float32 or float64 arrays only. A mapping argument is promoted
    entry by entry into a new dict, so the caller's dict and arrays are never modified; float32/float64
    arrays pass through without a copy. A call with ``check=False`` (a training loop whose inputs were
    validated once) and calls nested inside a checked call skip the rules: the policy is paid once per
    public call, not per layer.
    """
    def decorate(function: F) -> F:
        positions = _arguments(function, rules)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if _CHECKED.get():
                return function(*args, **kwargs)
            if kwargs.get("check") is False:  # the caller validated these inputs once (a training loop)
                with checked_inputs():
                    return function(*args, **kwargs)
            args = list(args)
            for name, position in positions.items():
                if position < len(args):
                    args[position] = _promoted(name, args[position], rules[name])
                elif name in kwargs:
                    kwargs[name] = _promoted(name, kwargs[name], rules[name])
            with checked_inputs():
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
    check_finite(name, probs)
    if ((probs < 0) | (probs > 1)).any():
        raise ValueError(f"{name} must hold probabilities in [0, 1], got values in [{probs.min()}, {probs.max()}]")


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
