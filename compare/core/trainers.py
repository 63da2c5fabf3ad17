"""Glue between a torch model and the harness: scratch's names and layouts on the torch side.

A :class:`ParamMap` entry says which ``nn.Parameter`` plays the part of a scratch parameter and how to
turn one into the other (``nn.Linear.weight`` is already ``W[l]``'s shape; logistic regression's ``w`` is
its transpose). :class:`TorchTrainer` runs the idiomatic torch step and reports gradients, parameters and
the optimizer's state (``optimizer.state[p]``) under scratch's names, so any torch case gets
observation for free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from compare.core.devices import to_numpy
from compare.core.kinks import Preactivation, torch_preactivations
from compare.core.problem import Observation
from torch_ref.training import train_step


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


def observe_parameters(mapping: list[ParamMap], optimizer: torch.optim.Optimizer | None = None
                       ) -> dict[str, np.ndarray]:
    """``grad.*``, ``param.*`` and ``state.<name>.<key>`` arrays in scratch's layout."""
    arrays: dict[str, np.ndarray] = {}
    for entry in mapping:
        p = entry.parameter
        if p.grad is not None:
            arrays[f"grad.{entry.scratch_name}"] = entry.to_scratch(to_numpy(p.grad))
        arrays[f"param.{entry.scratch_name}"] = entry.to_scratch(to_numpy(p))
        state = optimizer.state.get(p, {}) if optimizer is not None else {}
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == p.shape:
                arrays[f"state.{entry.scratch_name}.{key}"] = entry.to_scratch(to_numpy(value))
    return arrays


class TorchTrainer:
    """The standard torch side: full-batch ``train_step`` on fixed ``(x, y)``, observed in scratch names."""

    def __init__(self, model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                 x: torch.Tensor, y: torch.Tensor, mapping: list[ParamMap]):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.x, self.y, self.mapping = x, y, mapping
        self.loss: torch.Tensor | None = None

    def step(self) -> None:
        self.loss = train_step(self.model, self.loss_fn, self.optimizer, self.x, self.y)

    def hidden_preactivations(self) -> list[Preactivation] | None:
        return torch_preactivations(self.model, self.x)

    def observe(self) -> Observation:
        if self.loss is None:
            raise RuntimeError("observe() called before step()")
        return Observation(float(self.loss), observe_parameters(self.mapping, self.optimizer))
