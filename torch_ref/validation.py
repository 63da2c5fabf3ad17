"""Argument checks shared by the ``torch_ref`` constructors.

``torch.nn`` builds a module from whatever it is given: ``nn.Linear(0, 3)`` is an empty layer,
``nn.BatchNorm1d(3, momentum=2.0)`` trains with a running average that overshoots, and a wrong type
surfaces later as a message that names no argument (``"not all arguments converted during string
formatting"``). These checks run first, so a bad constructor call fails with a ``ValueError`` (or a
``TypeError`` for a wrong kind of object) that names the argument and says what was expected, as
``scratch``'s constructors do.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_positive_int(name: str, value: object) -> int:
    """An integer (Python or NumPy, not a bool) > 0, e.g. a layer size; returned as an ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_sizes(name: str, values: object, *, at_least: int) -> list[int]:
    """A sequence of at least ``at_least`` positive integers (``layer_dims``, ``channels``)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of positive integers, got {type(values).__name__}")
    sizes = list(values)
    if len(sizes) < at_least or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0
                                    for v in sizes):
        raise ValueError(f"{name} must list at least {at_least} positive integer sizes, got {sizes}")
    return [int(v) for v in sizes]


def check_float_dtype(name: str, dtype: object) -> torch.dtype:
    """``torch.float32`` or ``torch.float64``: the dtypes the parity runs compare."""
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be torch.float32 or torch.float64, got {dtype!r}")
    return dtype  # type: ignore[return-value]


def check_number(name: str, value: object, *, low: float, high: float = math.inf, low_open: bool = False,
                 high_open: bool = False) -> float:
    """A finite real number in the interval ``low..high`` (ends open or closed; ``high`` may be unbounded)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below and math.isfinite(value)):
        if high == math.inf:
            raise ValueError(f"{name} must be a finite number {'>' if low_open else '>='} {low}, got {value!r}")
        interval = ("(" if low_open else "[") + f"{low}, {high}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return float(value)


def check_momentum(name: str, value: object) -> float | None:
    """A batch-norm momentum: ``None`` (cumulative average) or a number in ``(0, 1]``."""
    return None if value is None else check_number(name, value, low=0.0, high=1.0, low_open=True)
