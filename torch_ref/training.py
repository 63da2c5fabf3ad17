"""The standard PyTorch training step, shared by every torch_ref model."""

from __future__ import annotations

import torch
from torch import nn


def train_step(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor) -> torch.Tensor:
    """zero_grad -> forward -> loss -> backward -> step. Returns the loss tensor (no host sync).

    After the call each parameter's ``.grad`` still holds the gradient of this step's loss with respect
    to the parameters *before* the update, which is what the harness compares.
    """
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()
