"""Kink crossings: where rounding, not a bug, sends two correct ReLU networks down different paths.

ReLU and leaky ReLU switch slope at ``z = 0``. NumPy and torch sum ``Z = W A + b`` in different orders,
and after some steps their parameters differ in the last bits too, so a pre-activation that lands within
rounding of 0 can be positive on one side and negative on the other. That one entry switches its
derivative (1 vs 0, or 1 vs 0.01) for one example, the two gradients part by far more than rounding,
and every later step inherits it. Measured on ``deep_net/leaky_relu_depth4`` in float32, seed 2: at step
129 one of 2,048 layer-1 pre-activations was -1.0e-7 in NumPy and +2.1e-8 in torch (largest ``|Z|``
6.9), and the trajectories then part by 3e-2 (gradients). Both sides are right; the sign of a number
that they agree on only to within rounding is simply not determined.

So for networks with piecewise-linear hidden units the runner checks, before every step, that both sides
put every hidden pre-activation on the same side of the kink. Where they do not, it accepts the crossing
only if, at every disagreeing entry, both values are within the parity tolerance of zero relative to the
terms summed::

    |z_ij| <= tol * s_ij,    s_ij = sum_k |W_jk| |A_ki| + |b_j|      (on each side, its own W, A, b)

``s`` is the condition scale of the dot product: two computations of ``z`` that agree to ``tol`` in
their inputs can disagree by about ``tol * s``. An accepted crossing at step k is reported, step k is left
out of the comparison, and after it the scratch side adopts torch's parameters (``adopt_parameters``) so
the two continue from the same point: every other step is still compared at the full tolerance. More than
:data:`MAX_CROSSINGS_PER_100_STEPS` crossings per 100 steps is more than rounding explains and fails the
run. A flip that fails the bound is a real difference in the forward pass and is left for the trajectory
comparison to flag. ``float64`` runs have the same check; at a tolerance of 1e-10 a crossing there is
vanishingly rare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

import scratch.deep_net as dn
from compare.core.devices import to_numpy
from torch_ref.deep_net import DeepNet

PIECEWISE_LINEAR = ("relu", "leaky_relu")
#: Measured: 9 crossings in 176 float32 runs of 200 steps (22 network cases x seeds 2..9), never two in a run.
MAX_CROSSINGS_PER_100_STEPS = 5


@dataclass(frozen=True)
class Preactivation:
    """One hidden layer's ``Z`` ``(n_l, m)`` and its scale ``s = |W| |A_prev| + |b|``, scratch layout."""

    z: np.ndarray
    scale: np.ndarray


@runtime_checkable
class WatchesKinks(Protocol):
    """A trainer that can show the hidden pre-activations its next step will use (or ``None``)."""

    def hidden_preactivations(self) -> list[Preactivation] | None: ...


@runtime_checkable
class AdoptsParameters(WatchesKinks, Protocol):
    """A scratch trainer that can continue from given parameters (scratch names and layout)."""

    def adopt_parameters(self, params: dict[str, np.ndarray]) -> None: ...


@dataclass(frozen=True)
class KinkCrossing:
    """A step's crossing: ``count`` entries flipped; the one named has the largest ``|z|`` relative to its bound."""

    step: int
    layer: int
    unit: int
    example: int
    count: int
    numpy_z: float
    torch_z: float
    bound: float

    def describe(self) -> str:
        return (f"kink crossing at step {self.step}: layer {self.layer} unit {self.unit} example {self.example} "
                f"z = {self.numpy_z:.2e} (numpy) vs {self.torch_z:.2e} (torch), |z| <= {self.bound:.1e} "
                f"(tol * scale); {self.count} entr{'y' if self.count == 1 else 'ies'}; step {self.step} not compared, "
                f"numpy continued from torch's parameters")


def preactivation(z: np.ndarray, W: np.ndarray, A_prev: np.ndarray, b: np.ndarray) -> Preactivation:
    """``Z`` with its scale ``|W| |A_prev| + |b|`` (``b`` a column or a vector), all ``(n_l, m)``."""
    return Preactivation(z, np.abs(W) @ np.abs(A_prev) + np.abs(b).reshape(-1, 1))


def scratch_preactivations(params: dict[str, np.ndarray], X: np.ndarray, hidden_activation: str
                           ) -> list[Preactivation] | None:
    """The hidden layers' ``Z`` from scratch's own forward pass (its caches); ``None`` for smooth units."""
    if hidden_activation not in PIECEWISE_LINEAR:
        return None
    _, caches = dn.L_model_logits(X, params, hidden_activation=hidden_activation, check=False)
    return [preactivation(Z, W, A_prev, b) for (A_prev, W, b), Z in caches[:-1]]


@torch.no_grad()
def torch_preactivations(model: nn.Module, x: torch.Tensor) -> list[Preactivation] | None:
    """The hidden ``nn.Linear`` outputs of a :class:`DeepNet` on ``x`` ``(m, n_x)``, in scratch layout.

    The same modules and kernels as the training forward, so the same bits. ``None`` for smooth units and
    for any other model (a dropout net's later layers depend on masks not drawn yet).
    """
    if type(model) is not DeepNet or not isinstance(model.activation, (nn.ReLU, nn.LeakyReLU)):
        return None
    layers = []
    a = x
    for linear in model.linears[:-1]:
        z = linear(a)
        layers.append(preactivation(to_numpy(z).T, to_numpy(linear.weight), to_numpy(a).T, to_numpy(linear.bias)))
        a = model.activation(z)
    return layers


def too_many_crossings(crossings: int, steps: int) -> bool:
    """Whether ``crossings`` in ``steps`` steps exceed :data:`MAX_CROSSINGS_PER_100_STEPS` (at least 1 allowed)."""
    return crossings > max(1, MAX_CROSSINGS_PER_100_STEPS * steps // 100)


def find_kink_crossing(step: int, numpy_side: list[Preactivation], torch_side: list[Preactivation],
                       tol: float) -> KinkCrossing | None:
    """The crossing at ``step`` if the two sides' kink patterns differ only within the bound, else ``None``.

    ``None`` also when the patterns agree. Layers are numbered from 1 as in the course.
    """
    candidates: list[tuple[float, int, int, int, float, float, float]] = []
    count = 0
    for layer, (ours, theirs) in enumerate(zip(numpy_side, torch_side, strict=True), start=1):
        if ours.z.shape != theirs.z.shape:
            raise ValueError(f"layer {layer}: numpy Z {ours.z.shape} and torch Z {theirs.z.shape} differ in shape")
        flipped = (ours.z > 0) != (theirs.z > 0)
        if not flipped.any():
            continue
        bound = tol * np.maximum(ours.scale, theirs.scale)[flipped].astype(np.float64)
        z_numpy = ours.z[flipped].astype(np.float64)
        z_torch = theirs.z[flipped].astype(np.float64)
        if np.any(np.abs(z_numpy) > bound) or np.any(np.abs(z_torch) > bound):
            return None
        count += int(flipped.sum())
        ratio = np.maximum(np.abs(z_numpy), np.abs(z_torch)) / np.maximum(bound, np.finfo(np.float64).tiny)
        i = int(np.argmax(ratio))
        unit, example = (int(k) for k in np.argwhere(flipped)[i])
        candidates.append((float(ratio[i]), layer, unit, example, float(z_numpy[i]), float(z_torch[i]),
                           float(bound[i])))
    if not candidates:
        return None
    _, layer, unit, example, z_numpy_worst, z_torch_worst, bound_worst = max(candidates)
    return KinkCrossing(step, layer, unit, example, count, z_numpy_worst, z_torch_worst, bound_worst)


def watches_kinks(scratch_side: object, torch_side: object) -> bool:
    """Whether the two trainers can be watched: both show pre-activations and scratch adopts parameters."""
    return isinstance(scratch_side, AdoptsParameters) and isinstance(torch_side, WatchesKinks)


def watch_kinks(step: int, scratch_side: AdoptsParameters, torch_side: WatchesKinks, tol: float
                ) -> KinkCrossing | None:
    """:func:`find_kink_crossing` on the two trainers' pre-activations; ``None`` for smooth units."""
    ours = scratch_side.hidden_preactivations()
    if ours is None:
        return None
    theirs = torch_side.hidden_preactivations()
    if theirs is None:
        return None
    return find_kink_crossing(step, ours, theirs, tol)
