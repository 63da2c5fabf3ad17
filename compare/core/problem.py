"""What a concept case hands to each side, and what each side hands back.

A :class:`Problem` is drawn once from ``(seed, dtype)`` and loaded into both sides: the data in the
course's layout (examples are columns) and the initial parameters under scratch's names and shapes
(``W1`` is ``(n_1, n_0)``, the same shape as ``nn.Linear.weight``). A side is a :class:`Trainer`: it
performs one training step at a time and, when asked, reports what happened in that step as an
:class:`Observation` whose array names and layouts are scratch's, so the two sides compare key by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

#: Prefixes of observation keys, one per comparison category.
CATEGORIES = ("grad", "param", "state")
#: The stream number of initial parameters: ``np.random.default_rng([seed, INIT_STREAM])``.
INIT_STREAM = 4


def initial_parameters_rng(seed: int, *substream: int) -> np.random.Generator:
    """The generator every problem builder draws its initial parameters from.

    ``np.random.default_rng([seed, INIT_STREAM, *substream])``: one rule for every case, and a stream of its
    own, so initial weights never reuse the draws of the data (``default_rng(seed)`` in the dataset
    generators) or of batch orders and masks. ``substream`` separates further draws tied to the initial
    parameters (e.g. the gradient check's random biases).
    """
    return np.random.default_rng([seed, INIT_STREAM, *substream])


@dataclass
class Problem:
    """Data, shared initial parameters and hyperparameters of one case, in scratch's layout."""

    seed: int
    dtype: np.dtype
    data: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    hyper: dict[str, Any] = field(default_factory=dict)

    def fresh_params(self) -> dict[str, np.ndarray]:
        """Copies of the initial parameters, so a side can update them in place."""
        return {name: np.array(value, copy=True) for name, value in self.params.items()}

    @property
    def n_param_elements(self) -> int:
        return int(sum(np.size(v) for v in self.params.values()))


@dataclass
class Observation:
    """One step seen by one side: its loss and arrays keyed ``"<category>.<name>"``.

    ``grad.*`` are the gradients of this step's loss at the parameters before the update, ``param.*`` the
    parameters after the update, ``state.*`` optimizer state after the update (e.g. ``state.W1.exp_avg``).
    """

    loss: float
    arrays: dict[str, np.ndarray]


class Trainer(Protocol):
    """One side of a case. ``step`` must not synchronise or copy to the host; ``observe`` may.

    A trainer whose training can end before the case's steps (early stopping) offers a ``finished`` property,
    true once ``step()`` does nothing more; the timing then renews it, so only real steps are timed.
    """

    def step(self) -> None: ...

    def observe(self) -> Observation: ...
