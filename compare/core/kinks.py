"""Kink crossings: where rounding, not a bug, sends two correct ReLU networks down different paths.

ReLU and leaky ReLU switch slope at ``z = 0``. The two sides sum ``Z = W A + b`` in different orders,
and after some steps their parameters differ in the last bits too, so a pre-activation that lands within
rounding of 0 can be positive on one side and negative on the other. That one entry switches its
derivative (1 vs 0, or 1 vs 0.01) for one example, the two gradients part by far more than rounding,
and every later step inherits it. Measured on ``deep_net/leaky_relu_depth4`` in float32, seed 2: at step
129 one of 2,048 layer-1 pre-activations was -1.0e-7 in scratch and +2.1e-8 in torch (largest ``|Z|``
6.9), and the trajectories then part by 3e-2 (gradients). Both sides are right; the sign of a number
that they agree on only to within rounding is simply not determined.

So the runner watches every case whose trainers have piecewise-linear units. Each side captures, during
its own training step, the pre-activations that entered its kinks, each with its condition scale, as a
list of :class:`Preactivation` in scratch layout (``(n_l, m)`` for a dense layer): scratch from the caches of
its forward pass, torch through forward hooks (:class:`TorchKinkCapture`). After both steps the runner checks
that both sides put every pre-activation on the same side of the kink. Where they do not, it accepts the
crossing only if, at every disagreeing entry, both values are within the parity tolerance of zero
relative to the terms summed::

    |z_ij| <= tol * s_ij,    s_ij = sum_k |W_jk| |A_ki| + |b_j|      (on each side, its own W, A, b)

``s`` is the condition scale of the dot product: two computations of ``z`` that agree to ``tol`` in
their inputs can disagree by about ``tol * s``. An accepted crossing at step k is reported, step k is left
out of the comparison, and after it the scratch side adopts torch's parameters and optimizer state
(``adopt``) so the two continue from the same point: every other step is still compared at the full tolerance. More than
:data:`MAX_CROSSINGS_PER_100_STEPS` crossings per 100 steps is more than rounding explains and fails the
run. A flip that fails the bound is a real difference in the forward pass and is left for the trajectory
comparison to flag. ``float64`` runs have the same check; at a tolerance of 1e-10 a crossing there is
vanishingly rare.

A trainer offers the watch with two methods: ``start_kink_watch() -> bool`` (turn capturing on; ``False``
when its model has no piecewise-linear unit) and ``preactivations() -> list[Preactivation]`` (what its
last step captured, in the order the units fired). The scratch side also has ``adopt(observation)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from compare.core.devices import to_numpy

#: torch modules whose output has a kink at input 0.
PIECEWISE_LINEAR_MODULES = (nn.ReLU, nn.LeakyReLU)
#: Measured: 9 crossings in 176 float32 runs of 200 steps (22 network cases x seeds 2..9), never two in a run.
MAX_CROSSINGS_PER_100_STEPS = 5


@dataclass(frozen=True)
class Preactivation:
    """The input ``z`` of one layer's kinks and its condition scale ``s`` (same shape), scratch layout."""

    z: np.ndarray
    scale: np.ndarray


@dataclass(frozen=True)
class KinkCrossing:
    """A step's crossing: ``count`` entries flipped; the one named has the largest ``|z|`` relative to its bound."""

    step: int
    layer: int
    unit: int
    example: int
    count: int
    scratch_z: float
    torch_z: float
    bound: float

    def describe(self) -> str:
        return (f"kink crossing at step {self.step}: layer {self.layer} unit {self.unit} example {self.example} "
                f"z = {self.scratch_z:.2e} (scratch) vs {self.torch_z:.2e} (torch), |z| <= {self.bound:.1e} "
                f"(tol * scale); {self.count} entr{'y' if self.count == 1 else 'ies'}; step {self.step} not compared, "
                f"scratch continued from torch's parameters and optimizer state")


def preactivation(z: np.ndarray, W: np.ndarray, A_prev: np.ndarray, b: np.ndarray | None) -> Preactivation:
    """``Z = W A_prev + b`` ``(n_l, m)`` with its scale ``|W| |A_prev| + |b|`` (``b`` a column, a vector or None)."""
    scale = np.abs(W) @ np.abs(A_prev)
    if b is not None:
        scale = scale + np.abs(b).reshape(-1, 1)
    return Preactivation(z, scale)


class TorchKinkCapture:
    """Forward hooks that capture, in a training forward, the input of every ReLU / leaky ReLU module.

    Works for any model built of standard modules in which such a unit follows an ``nn.Linear``: a hook on
    each ``nn.Linear`` remembers its output and operands, and the hook on the unit finds the ``nn.Linear``
    whose output is its input, and converts ``z``, ``W``, ``a`` and ``b`` to scratch layout there, before
    the optimizer changes ``W``. Forwards without autograd (evaluation, a dev loss) are not training steps
    and are not captured. A unit whose input came from another module is an error: its scale is unknown.
    """

    def __init__(self, model: nn.Module):
        self._model = model
        self.units = [module for module in model.modules() if isinstance(module, PIECEWISE_LINEAR_MODULES)]
        self.layers: list[Preactivation] = []
        self._linear_outputs: list[tuple[torch.Tensor, torch.Tensor, nn.Linear]] = []
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def start(self) -> bool:
        """Register the hooks; ``False`` (and nothing registered) when the model has no piecewise-linear unit."""
        if not self.units:
            return False
        if not self._handles:
            linears = [module for module in self._model.modules() if isinstance(module, nn.Linear)]
            self._handles = [linear.register_forward_hook(self._linear_hook) for linear in linears]
            self._handles += [unit.register_forward_hook(self._unit_hook) for unit in self.units]
        return True

    def clear(self) -> None:
        """Forget the previous step's capture (called at the start of each step)."""
        self.layers = []
        self._linear_outputs = []

    def _linear_hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if torch.is_grad_enabled():
            self._linear_outputs.append((output, inputs[0], module))

    def _unit_hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if not torch.is_grad_enabled():
            return
        z = inputs[0]
        for produced, a, linear in self._linear_outputs:
            if produced is z:
                bias = None if linear.bias is None else to_numpy(linear.bias)
                self.layers.append(preactivation(to_numpy(z).T, to_numpy(linear.weight), to_numpy(a).T, bias))
                return
        raise RuntimeError(f"kink watch: the input of {module} was not produced by an nn.Linear, so its "
                           "condition scale is unknown; give this trainer its own preactivations()")


def too_many_crossings(crossings: int, steps: int) -> bool:
    """Whether ``crossings`` in ``steps`` steps exceed :data:`MAX_CROSSINGS_PER_100_STEPS` (at least 1 allowed)."""
    return crossings > max(1, MAX_CROSSINGS_PER_100_STEPS * steps // 100)


def find_kink_crossing(step: int, scratch_layers: list[Preactivation], torch_layers: list[Preactivation],
                       tol: float) -> KinkCrossing | None:
    """The crossing at ``step`` if the two sides' kink patterns differ only within the bound, else ``None``.

    ``None`` also when the patterns agree. Layers are numbered from 1 as in the course.
    """
    candidates: list[tuple[float, int, int, int, float, float, float]] = []
    count = 0
    for layer, (scratch, torch_) in enumerate(zip(scratch_layers, torch_layers, strict=True), start=1):
        if scratch.z.shape != torch_.z.shape:
            raise ValueError(f"layer {layer}: scratch Z {scratch.z.shape} and torch Z {torch_.z.shape} differ in shape")
        flipped = (scratch.z > 0) != (torch_.z > 0)
        if not flipped.any():
            continue
        bound = tol * np.maximum(scratch.scale, torch_.scale)[flipped].astype(np.float64)
        z_scratch = scratch.z[flipped].astype(np.float64)
        z_torch = torch_.z[flipped].astype(np.float64)
        if np.any(np.abs(z_scratch) > bound) or np.any(np.abs(z_torch) > bound):
            return None
        count += int(flipped.sum())
        ratio = np.maximum(np.abs(z_scratch), np.abs(z_torch)) / np.maximum(bound, np.finfo(np.float64).tiny)
        i = int(np.argmax(ratio))
        unit, example = (int(k) for k in np.argwhere(flipped)[i])
        candidates.append((float(ratio[i]), layer, unit, example, float(z_scratch[i]), float(z_torch[i]),
                           float(bound[i])))
    if not candidates:
        return None
    _, layer, unit, example, z_scratch_worst, z_torch_worst, bound_worst = max(candidates)
    return KinkCrossing(step, layer, unit, example, count, z_scratch_worst, z_torch_worst, bound_worst)


def start_kink_watch(scratch_side: object, torch_side: object) -> bool:
    """Turn on both trainers' capture; ``False`` when neither has piecewise-linear units.

    A case whose two sides disagree on having kinks (or whose scratch side cannot adopt parameters) is a
    programming error: it would silently go unwatched.
    """
    watches = [getattr(side, "start_kink_watch", None) for side in (scratch_side, torch_side)]
    has_kinks = [bool(start()) if start is not None else False for start in watches]
    if has_kinks == [False, False]:
        return False
    if has_kinks != [True, True] or not hasattr(scratch_side, "adopt"):
        raise TypeError(f"kink watch: scratch side {type(scratch_side).__name__} (kinks: {has_kinks[0]}) and torch "
                        f"side {type(torch_side).__name__} (kinks: {has_kinks[1]}) must both capture pre-activations, "
                        "and the scratch side must have adopt")
    return True


def watch_kinks(step: int, scratch_side, torch_side, tol: float) -> KinkCrossing | None:
    """:func:`find_kink_crossing` on the pre-activations both trainers captured during their step ``step``."""
    return find_kink_crossing(step, scratch_side.preactivations(), torch_side.preactivations(), tol)
