"""One hidden layer in idiomatic PyTorch: ``nn.Linear -> nn.Tanh -> nn.Linear``, logits out.

Batch-first: ``x`` is ``(m, n_x)``, the output is the logits ``(m, n_y)``. It is the two-layer case of
:class:`torch_ref.deep_net.DeepNet` (``linears[0]`` is the hidden layer, ``linears[1]`` the output), so
the harness maps its parameters with the same map. Loss: ``nn.BCEWithLogitsLoss`` (why not ``nn.Sigmoid``
+ ``nn.BCELoss``: see :mod:`torch_ref.deep_net`); optimizer: ``SGD`` at the course's learning rate 1.2.
"""

from __future__ import annotations

import torch
from torch import nn

from torch_ref import validation as v
from torch_ref.deep_net import DeepNet, make_training, predict  # noqa: F401  (same loss, optimizer, predict)


class ShallowNet(DeepNet):
    """``Linear(n_x, n_h) -> Tanh -> Linear(n_h, n_y)``; ``forward`` returns logits ``(m, n_y)``."""

    def __init__(self, n_x: int, n_h: int, n_y: int = 1, *, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu"):
        for name, size in (("n_x", n_x), ("n_h", n_h), ("n_y", n_y)):
            v.check_positive_int(name, size)
        super().__init__([n_x, n_h, n_y], hidden_activation="tanh", dtype=dtype, device=device)

    @property
    def hidden(self) -> nn.Linear:
        return self.linears[0]

    @property
    def output(self) -> nn.Linear:
        return self.linears[1]
