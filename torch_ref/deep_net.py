"""An L-layer network in idiomatic PyTorch: ``nn.Linear`` layers, a hidden activation module, logits out.

Batch-first: ``x`` is ``(m, n_0)``, the output is the logits ``(m, 1)``. ``linears[l - 1].weight`` is the
course's ``W{l}`` ``(n_l, n_{l-1})`` and ``linears[l - 1].bias`` is ``b{l}`` flattened to ``(n_l,)``.

Loss: ``nn.BCEWithLogitsLoss`` rather than ``nn.Sigmoid`` + ``nn.BCELoss``. Both compute the mean binary
cross-entropy, but BCELoss takes probabilities, and for a saturated output (sigmoid rounded to exactly 0
or 1) it clamps ``log`` at -100 and backpropagates through ``1 / (a (1 - a))``, which is inexact or
infinite there. BCEWithLogitsLoss fuses the two into ``(1 - y) z - log_sigmoid(z)`` with gradient
``sigma(z) - y``: stable for any logit, and the same formula the scratch side uses, so the two agree to
rounding. Gradients come from autograd; nothing here writes a backward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from torch_ref import validation as v
from torch_ref.training import train_step  # noqa: F401  (re-exported for study pages)

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
INIT_METHODS = ("zeros", "small", "he", "xavier")


def make_activation(name: str) -> nn.Module:
    """The ``nn`` module of a hidden activation (``LeakyReLU`` with its default slope 0.01)."""
    modules = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}
    if name not in modules:
        raise ValueError(f"hidden_activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}, got {name!r}")
    return modules[name]()


class DeepNet(nn.Module):
    """``[Linear -> activation] x (L-1) -> Linear``; ``forward`` returns logits ``(m, n_L)``."""

    def __init__(self, layer_dims: Sequence[int], hidden_activation: str = "relu", *,
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        super().__init__()
        dims = v.check_sizes("layer_dims", layer_dims, at_least=2)
        v.check_float_dtype("dtype", dtype)
        self.linears = nn.ModuleList(
            nn.Linear(dims[l - 1], dims[l], dtype=dtype, device=device) for l in range(1, len(dims))  # noqa: E741
        )
        self.activation = make_activation(hidden_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear in self.linears[:-1]:
            x = self.activation(linear(x))
        return self.linears[-1](x)


@torch.no_grad()
def init_parameters(model: DeepNet, method: str, generator: torch.Generator | None = None) -> None:
    """Re-initialize with ``torch.nn.init``: weights by ``method`` (see scratch.initialization), biases 0."""
    if method not in INIT_METHODS:
        raise ValueError(f"method must be one of {', '.join(INIT_METHODS)}, got {method!r}")
    for linear in model.linears:
        if method == "zeros":
            nn.init.zeros_(linear.weight)
        elif method == "small":
            nn.init.normal_(linear.weight, std=0.01, generator=generator)
        elif method == "he":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu", generator=generator)
        else:
            nn.init.xavier_normal_(linear.weight, generator=generator)
        nn.init.zeros_(linear.bias)


def make_training(model: nn.Module, *, learning_rate: float) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Loss and optimizer for batch gradient descent: ``BCEWithLogitsLoss`` (mean) and plain ``SGD``."""
    return nn.BCEWithLogitsLoss(), torch.optim.SGD(model.parameters(), lr=learning_rate)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Labels ``(m, 1)`` in ``x``'s dtype: 1 where ``sigmoid(logit) > 0.5``."""
    return (torch.sigmoid(model(x)) > 0.5).to(x.dtype)
