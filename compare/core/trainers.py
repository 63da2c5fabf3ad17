"""The two sides' trainers, observed under scratch's names and layouts.

Both sides report a step the same way, through :func:`observation`: ``grad.<name>``, ``param.<name>`` and
``state.<name>.<key>`` under scratch's parameter names, so the two compare key by key.

- :class:`ScratchTrainer`: parameters in a dict under scratch names; a case implements ``loss_and_grads()``
  (the cost and ``{"d<name>": gradient}``) and ``update()``; optimizer state through ``optimizer_state()``.
- :class:`TorchTrainer`: the idiomatic torch step (``torch_ref.training.train_step``) on a model whose
  parameters a :class:`ParamMap` names: which ``nn.Parameter`` plays the part of a scratch parameter and
  how to turn one into the other (``nn.Linear.weight`` is already ``W[l]``'s shape; logistic regression's
  ``w`` is its transpose). The optimizer's state (``optimizer.state[p]``) is observed for free.

Both offer the kink watch of :mod:`compare.core.kinks`: torch through forward hooks on any model with
ReLU / leaky-ReLU modules, scratch from the caches of its forward pass (a trainer with such units sets
``has_kinks`` and calls :meth:`ScratchTrainer.capture_preactivations` in ``loss_and_grads``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from compare.core.devices import to_numpy
from compare.core.kinks import Preactivation, TorchKinkCapture
from compare.core.problem import Observation, Problem
from torch_ref.training import train_step


def observation(loss: float, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray] | None = None,
                state: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> Observation:
    """One step's :class:`Observation`: ``grad.<name>``, ``param.<name>``, ``state.<name>.<key>``.

    ``params``, ``grads`` and ``state`` are keyed by scratch parameter names (``state`` may add names that
    are no parameter, e.g. ``state.lr``: give it under the name ``""`` with key ``"lr"``).
    """
    arrays: dict[str, np.ndarray] = {}
    for name, grad in (grads or {}).items():
        arrays[f"grad.{name}"] = np.asarray(grad)
    for name, value in params.items():
        arrays[f"param.{name}"] = np.asarray(value)
    for name, entries in (state or {}).items():
        for key, value in entries.items():
            arrays[f"state.{name}.{key}" if name else f"state.{key}"] = np.asarray(value)
    return Observation(float(loss), arrays)


def state_entries(point: Observation) -> dict[str, dict[str, np.ndarray]]:
    """``{name: {key: array}}`` from ``point``'s ``state.<name>.<key>`` arrays (the inverse of :func:`observation`)."""
    state: dict[str, dict[str, np.ndarray]] = {}
    for key, value in point.arrays.items():
        category, *rest = key.split(".")
        if category == "state" and len(rest) == 2:
            state.setdefault(rest[0], {})[rest[1]] = value
    return state


class StatefulOptimizer(Protocol):
    """What the generic scratch trainer needs of a stateful update rule (``scratch.optim.Optimizer``)."""

    def torch_state(self, name: str) -> Mapping[str, np.ndarray]: ...

    def step_count(self, name: str) -> int | None: ...

    def load_torch_state(self, name: str, entries: Mapping[str, np.ndarray]) -> None: ...


def torch_keyed_state(optimizer: StatefulOptimizer, names: Iterable[str]) -> dict[str, dict[str, np.ndarray]]:
    """Each parameter's state under torch's keys, with its update count as ``step`` where torch keeps one."""
    state: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        entries = dict(optimizer.torch_state(name))
        count = optimizer.step_count(name)
        if count is not None:
            entries["step"] = np.array(float(count))
        if entries:
            state[name] = entries
    return state


class ScratchTrainer:
    """The scratch side of a case: ``step()`` is ``loss_and_grads()`` then ``update()``.

    ``self.params`` holds the parameters under scratch names (fresh copies of the problem's),
    ``self.grads`` the last step's gradients keyed ``d<name>`` as the course returns them, ``self.cost``
    its cost. Subclasses implement :meth:`loss_and_grads` and :meth:`update`, and :meth:`optimizer_state`
    when the update keeps state.
    """

    #: Whether the model has piecewise-linear units (ReLU, leaky ReLU, max): then it is kink-watched.
    has_kinks = False

    def __init__(self, problem: Problem):
        self.params = problem.fresh_params()
        self.grads: dict[str, np.ndarray] = {}
        self.cost = np.nan
        #: A stateful update rule with torch's state keys (``torch_state(name)``, ``step_count(name)``,
        #: ``load_torch_state(name, entries)``, as ``scratch.optim``'s optimizers have), or None.
        self.optimizer: StatefulOptimizer | None = None
        self._captured: list[Preactivation] | None = None  # None: not watched

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        """The cost at ``self.params`` and the gradients ``{"d<name>": array}``."""
        raise NotImplementedError

    def update(self) -> None:
        """Change ``self.params`` (in place) with ``self.grads``."""
        raise NotImplementedError

    def optimizer_state(self) -> dict[str, dict[str, np.ndarray]]:
        """``{name: {key: array}}`` with torch's state keys (``momentum_buffer``, ``exp_avg``, ..., ``step``)."""
        return {} if self.optimizer is None else torch_keyed_state(self.optimizer, self.params)

    def step(self) -> None:
        self.clear_preactivations()
        self.cost, self.grads = self.loss_and_grads()
        self.update()

    def observe(self) -> Observation:
        grads = {name: self.grads[f"d{name}"] for name in self.params if f"d{name}" in self.grads}
        return observation(self.cost, self.params, grads, self.optimizer_state())

    # -- kink watch (compare.core.kinks) --
    def start_kink_watch(self) -> bool:
        if self.has_kinks:
            self._captured = []
        return self.has_kinks

    def clear_preactivations(self) -> None:
        """Forget the previous step's capture (a step that trains nothing captures nothing)."""
        if self._captured is not None:
            self._captured = []

    def capture_preactivations(self, layers: Callable[[], Iterable[Preactivation]]) -> None:
        """Keep ``layers()`` when watched; call it before :meth:`update` changes the weights it reads."""
        if self._captured is not None:
            self._captured.extend(layers())

    def preactivations(self) -> list[Preactivation]:
        return self._captured or []

    def adopt_parameters(self, params: Mapping[str, np.ndarray]) -> None:
        """Continue from ``params`` (scratch names and layout), written into the arrays in place."""
        for name, value in self.params.items():
            value[...] = params[name]

    def adopt(self, point: Observation) -> None:
        """Continue from the other side's ``point`` after a kink crossing: its parameters and optimizer state.

        The crossing step's gradients differ beyond rounding; adopting only the parameters would leave that
        difference in a momentum buffer or Adam's moments, to be carried into every later step (measured on
        float32 conv ``resnet_block`` seed 2: ReLU inputs parting by 1e-4 and 9 crossings in 120 steps).
        """
        self.adopt_parameters({key.removeprefix("param."): value for key, value in point.arrays.items()
                               if key.startswith("param.")})
        if self.optimizer is not None:
            state = state_entries(point)
            for name in self.params:
                self.optimizer.load_torch_state(name, state.get(name, {}))


def _identity(array: np.ndarray) -> np.ndarray:
    return array


@dataclass(frozen=True)
class ParamMap:
    """``scratch_name`` <-> ``parameter``; ``to_scratch``/``from_scratch`` convert layouts (NumPy)."""

    scratch_name: str
    parameter: nn.Parameter
    to_scratch: Callable[[np.ndarray], np.ndarray] = _identity
    from_scratch: Callable[[np.ndarray], np.ndarray] = _identity


def load_parameters(mapping: list[ParamMap], params: dict[str, np.ndarray]) -> None:
    """Copy the shared initial parameters (scratch layout) into the torch parameters, exactly."""
    with torch.no_grad():
        for entry in mapping:
            if entry.scratch_name not in params:
                raise ValueError(f"params has no entry {entry.scratch_name!r}; it has {sorted(params)}")
            value = np.ascontiguousarray(entry.from_scratch(params[entry.scratch_name]))
            if tuple(value.shape) != tuple(entry.parameter.shape):
                raise ValueError(f"parameter {entry.scratch_name}: scratch shape {value.shape} does not map "
                                 f"to torch shape {tuple(entry.parameter.shape)}")
            entry.parameter.copy_(torch.from_numpy(value))


def observe_parameters(loss: float, mapping: list[ParamMap], optimizer: torch.optim.Optimizer | None = None,
                       *, with_step_count: bool = False,
                       state: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> Observation:
    """:func:`observation` of the mapped torch parameters, their ``.grad`` and ``optimizer.state``.

    State tensors shaped like their parameter are converted to scratch layout; the scalar ``step`` count
    is observed only ``with_step_count`` (as a float). ``state`` adds entries of the case's own.
    """
    params: dict[str, np.ndarray] = {}
    grads: dict[str, np.ndarray] = {}
    state = dict(state or {})
    for entry in mapping:
        p = entry.parameter
        if p.grad is not None:
            grads[entry.scratch_name] = entry.to_scratch(to_numpy(p.grad))
        params[entry.scratch_name] = entry.to_scratch(to_numpy(p))
        entries = {}
        for key, value in (optimizer.state.get(p, {}) if optimizer is not None else {}).items():
            if isinstance(value, torch.Tensor) and value.shape == p.shape:
                entries[key] = entry.to_scratch(to_numpy(value))
            elif key == "step" and with_step_count:
                entries[key] = np.array(float(value))
        if entries:
            state[entry.scratch_name] = entries
    return observation(loss, params, grads, state)


class TorchTrainer:
    """The standard torch side: full-batch ``train_step`` on fixed ``(x, y)``, observed in scratch names."""

    def __init__(self, model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                 x: torch.Tensor, y: torch.Tensor, mapping: list[ParamMap]):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.x, self.y, self.mapping = x, y, mapping
        self.loss: torch.Tensor | None = None
        self.kinks = TorchKinkCapture(model)

    def step(self) -> None:
        self.kinks.clear()
        self.loss = train_step(self.model, self.loss_fn, self.optimizer, self.x, self.y)

    def observe(self) -> Observation:
        if self.loss is None:
            raise RuntimeError("observe() called before step()")
        return observe_parameters(float(self.loss), self.mapping, self.optimizer)

    # -- kink watch (compare.core.kinks) --
    def start_kink_watch(self) -> bool:
        return self.kinks.start()

    def preactivations(self) -> list[Preactivation]:
        return self.kinks.layers
