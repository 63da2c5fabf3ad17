"""Multiclass output in idiomatic PyTorch: ``DeepNet`` with ``n_L = K`` logits and ``nn.CrossEntropyLoss``.

Batch-first: ``x`` is ``(m, n_0)``, the model returns logits ``(m, K)`` and the targets are integer class
indices ``(m,)`` (``torch.long``). ``nn.CrossEntropyLoss`` applies ``log_softmax`` itself, so the model
has no softmax layer: putting ``nn.Softmax`` in the model and taking ``log`` of its output would lose
precision (``log(0) = -inf`` for a saturated class), exactly what the fused loss avoids. Gradients come
from autograd.
"""

from __future__ import annotations

import torch
from torch import nn

from torch_ref.deep_net import DeepNet  # noqa: F401  (the model: logits (m, K))


def make_training(model: nn.Module, *, learning_rate: float) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Loss and optimizer for batch gradient descent: ``CrossEntropyLoss`` (mean) and plain ``SGD``."""
    return nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=learning_rate)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Most probable class per example, ``(m,)`` long (argmax of the logits = argmax of the softmax)."""
    return model(x).argmax(dim=1)
