"""Batch normalization in idiomatic PyTorch: ``nn.BatchNorm1d`` inside a deep network, before or after ReLU.

Batch-first: ``x`` is ``(m, n_0)``, the output is the logits ``(m, 1)`` (``nn.BCEWithLogitsLoss``).
``linears[l - 1].weight`` is the course's ``W{l}``; ``norms[l - 1].weight`` / ``.bias`` are ``gamma{l}`` /
``beta{l}`` flattened to ``(n_l,)``; the buffers ``running_mean``, ``running_var`` and
``num_batches_tracked`` are the running statistics that ``model.train()`` updates in every forward pass
and ``model.eval()`` uses. With BN before the activation the hidden ``nn.Linear`` layers have no bias
(``bias=False``): the batch mean would cancel it. Gradients come from autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from torch_ref import validation as v
from torch_ref.deep_net import make_activation

PLACEMENTS = ("before", "after")


class BNDeepNet(nn.Module):
    """``[Linear -> BatchNorm1d -> g] x (L-1) -> Linear`` (before) or ``[Linear -> g -> BatchNorm1d]`` (after)."""

    def __init__(self, layer_dims: Sequence[int], *, placement: str = "before", hidden_activation: str = "relu",
                 momentum: float | None = 0.1, eps: float = 1e-5, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu"):
        super().__init__()
        dims = v.check_sizes("layer_dims", layer_dims, at_least=3)  # at least one hidden layer to normalize
        v.check_momentum("momentum", momentum)
        v.check_number("eps", eps, low=0.0, low_open=True)
        v.check_float_dtype("dtype", dtype)
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
        self.placement = placement
        hidden = range(1, len(dims) - 1)
        self.linears = nn.ModuleList(
            nn.Linear(dims[l - 1], dims[l], bias=placement == "after", dtype=dtype, device=device)  # noqa: E741
            for l in hidden  # noqa: E741
        )
        self.linears.append(nn.Linear(dims[-2], dims[-1], dtype=dtype, device=device))
        self.norms = nn.ModuleList(
            nn.BatchNorm1d(dims[l], momentum=momentum, eps=eps, dtype=dtype, device=device) for l in hidden  # noqa: E741
        )
        self.activation = make_activation(hidden_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear, norm in zip(self.linears[:-1], self.norms, strict=True):
            if self.placement == "before":
                x = self.activation(norm(linear(x)))
            else:
                x = norm(self.activation(linear(x)))
        return self.linears[-1](x)


@torch.no_grad()
def eval_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits ``(m, 1)`` in evaluation mode (running statistics, which stay as they are); the model's mode
    is restored afterwards."""
    was_training = model.training
    model.eval()
    logits = model(x)
    model.train(was_training)
    return logits


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Labels ``(m, 1)`` in evaluation mode: 1 where ``sigmoid(logit) > 0.5``."""
    return (torch.sigmoid(eval_logits(model, x)) > 0.5).to(x.dtype)
