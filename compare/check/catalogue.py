"""The registry of course functions the checker knows: inputs, how to read the return value, torch's answer.

A :class:`Spec` is one course function of one week: the course's parameter names, the inputs it is
called on (:class:`Case`: the published ones and random ones at other shapes and edge cases), how the
course's return value is read into named outputs, the expected outputs (torch, :mod:`compare.check.expected`)
and the bug hypotheses the diagnosis tries. Week modules (``course1``, ``course2``) register their specs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

WEEKS = ("c1w2", "c1w3", "c1w4", "c2w1", "c2w2")


class WrongReturn(Exception):
    """The learner's return value does not have the course's structure."""


@dataclass(frozen=True)
class Case:
    """One call: ``args``/``kwargs`` as the course passes them; ``m`` for the factor-of-m diagnosis;
    ``zeros`` marks, per output name, the entries where a ReLU's ``Z`` is exactly 0."""

    label: str
    args: tuple
    kwargs: Mapping[str, object] = field(default_factory=dict)
    m: int | None = None
    integer_inputs: bool = False
    zeros: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: ``np.random.seed(legacy_seed)`` runs before the call, as the course's tests seed before calling.
    legacy_seed: int = 0


Outputs = dict[str, object]


@dataclass(frozen=True)
class Hypothesis:
    """What the function returns with one specific bug (``None`` where the bug makes no difference)."""

    diagnosis: str
    outputs: Callable[[Case], Outputs | None]


@dataclass(frozen=True)
class Spec:
    name: str
    week: str
    params: tuple[str, ...]
    cases: Callable[[], list[Case]]
    read: Callable[[object, Case], Outputs]
    expected: Callable[[Case], Outputs]
    hypotheses: tuple[Hypothesis, ...] = ()
    #: Parameter lists of other functions the same week's notebooks give under this name (course helpers such
    #: as the regularization notebook's 3-layer ``forward_propagation(X, parameters)``): a learner's function
    #: with one of these parameter lists is that helper, not this spec.
    helpers_named_alike: tuple[tuple[str, ...], ...] = ()

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


REGISTRY: dict[str, dict[str, Spec]] = {week: {} for week in WEEKS}


def register(*specs: Spec) -> None:
    for spec in specs:
        REGISTRY[spec.week][spec.name] = spec


def known_names() -> set[str]:
    return {name for specs in REGISTRY.values() for name in specs}


def file_week(defined: Iterable[str], other_names: Mapping[str, Iterable[str]] | None = None) -> str:
    """The week ``defined`` belongs to: each course name counts for its weeks, ``1/k`` for a name that k
    weeks share (``predict``, ``compute_cost``, ...); ties go to the earlier week. ``other_names`` maps
    names outside the registry (the training functions) to their weeks."""
    score = dict.fromkeys(WEEKS, 0.0)
    other_names = other_names or {}
    for name in set(defined):
        owners = [w for w in WEEKS if name in REGISTRY[w]] + list(other_names.get(name, ()))
        for w in owners:
            score[w] += 1 / len(owners)
    return max(WEEKS, key=lambda w: (score[w], -WEEKS.index(w)))


def resolve(defined: Mapping[str, Sequence[str]], week: str) -> list[Spec]:
    """The specs of ``week`` among ``defined`` (``{name: the learner's parameter names}``), in the course's
    order. Names of other weeks are not checked: in an assignment's file they are the course's given helpers
    (``sigmoid``, ``relu``, ``compute_cost``); nor is a function whose parameters are those of a helper the
    week's notebooks give under the spec's name (:attr:`Spec.helpers_named_alike`)."""
    return [spec for name, spec in REGISTRY[week].items()
            if name in defined and tuple(defined[name]) not in spec.helpers_named_alike]


# --- readers of the course's return values -------------------------------------------------------------

def read_value(name: str) -> Callable[[object, Case], Outputs]:
    return lambda ret, case: {name: ret}


def read_tuple(*names: str) -> Callable[[object, Case], Outputs]:
    def read(ret: object, case: Case) -> Outputs:
        if not isinstance(ret, (tuple, list)) or len(ret) != len(names):
            raise WrongReturn(f"expected a tuple of {len(names)} ({', '.join(names)}), got {_kind(ret)}")
        return dict(zip(names, ret, strict=True))
    return read


def dict_entries(ret: object, keys: list[str], prefix: str = "", what: str = "a dict") -> Outputs:
    if not isinstance(ret, Mapping):
        raise WrongReturn(f"expected {what} with keys {', '.join(keys)}, got {_kind(ret)}")
    missing = [k for k in keys if k not in ret]
    if missing:
        raise WrongReturn(f"{what} is missing key(s) {', '.join(missing)}")
    return {prefix + k: ret[k] for k in keys}


def _kind(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


# --- inputs --------------------------------------------------------------------------------------------

def rng(salt: int) -> np.random.Generator:
    """The checker's inputs are fixed: one generator per function and shape."""
    return np.random.default_rng(1_000 + salt)


def random_params(gen: np.random.Generator, dims: list[int], scale: float = 0.5) -> dict[str, np.ndarray]:
    params = {}
    for layer in range(1, len(dims)):
        params[f"W{layer}"] = gen.standard_normal((dims[layer], dims[layer - 1])) * scale
        params[f"b{layer}"] = gen.standard_normal((dims[layer], 1)) * 0.1
    return params


def labels(gen: np.random.Generator, m: int) -> np.ndarray:
    """Labels ``(1, m)`` in {0., 1.} with both classes present when ``m > 1``."""
    Y = (gen.random((1, m)) < 0.5).astype(float)
    if m > 1:
        Y[0, 0], Y[0, 1] = 1.0, 0.0
    return Y


def zero_example(X: np.ndarray, params: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The edge case for ReLU: an all-zero first example and zero hidden biases make its hidden ``Z``
    exactly 0 (where relu' is defined as 0, as torch)."""
    X = X.copy()
    X[:, 0] = 0.0
    params = {k: (np.zeros_like(v) if k.startswith("b") else v) for k, v in params.items()}
    return X, params


#: The shapes every network function is tried on: (label, layer_dims, m).
NETWORK_SHAPES = [
    ("random", [4, 3, 1], 5),
    ("m = 1", [3, 2, 1], 1),
    ("one hidden unit", [3, 1, 1], 4),
    ("wide", [6, 40, 1], 7),
]
DEEP = ("deep", [4, 4, 4, 4, 1], 6)
