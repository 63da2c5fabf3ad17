"""Logistic regression in idiomatic PyTorch: ``nn.Linear(n_x, 1)`` + ``nn.BCEWithLogitsLoss`` + SGD.

Batch-first: ``x`` is ``(m, n_x)`` and ``y`` is ``(m, 1)``. ``linear.weight`` is ``(1, n_x)`` (the course's
``w^T``) and ``linear.bias`` is ``(1,)``. ``BCEWithLogitsLoss`` (mean reduction) takes the logits, so the
sigmoid and the log are fused into the stable ``(1 - y) z - log_sigmoid(z)``.
"""

from __future__ import annotations

import torch
from torch import nn

from torch_ref import validation as v
from torch_ref.training import train_step  # noqa: F401  (re-exported for study pages)


class LogisticRegression(nn.Module):
    """z = x W^T + b; returns logits ``(m, 1)`` (apply ``torch.sigmoid`` for probabilities)."""

    def __init__(self, n_features: int, *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        super().__init__()
        v.check_positive_int("n_features", n_features)
        v.check_float_dtype("dtype", dtype)
        self.linear = nn.Linear(n_features, 1, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def make_training(model: nn.Module, *, learning_rate: float) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Loss and optimizer for batch gradient descent: ``BCEWithLogitsLoss`` and plain ``SGD``."""
    return nn.BCEWithLogitsLoss(), torch.optim.SGD(model.parameters(), lr=learning_rate)


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, num_iterations: int, learning_rate: float
        ) -> list[float]:
    """Batch gradient descent for ``num_iterations`` steps; returns the loss of every step."""
    loss_fn, optimizer = make_training(model, learning_rate=learning_rate)
    losses = [train_step(model, loss_fn, optimizer, x, y) for _ in range(num_iterations)]
    return torch.stack(losses).tolist()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Labels ``(m, 1)`` in the model's dtype: 1 where sigmoid(logit) > threshold."""
    return (torch.sigmoid(model(x)) > threshold).to(x.dtype)
