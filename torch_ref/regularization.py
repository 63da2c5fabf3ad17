"""Regularization in idiomatic PyTorch: penalties in the loss, optimizer weight decay, nn.Dropout, early stopping.

Batch-first (``x`` is ``(m, n_x)``), logits ``(m, 1)`` and ``nn.BCEWithLogitsLoss`` as in
``torch_ref.deep_net``. ``model.linears`` is the ``nn.ModuleList`` of ``nn.Linear`` layers; only their
weights are penalized or decayed, never the biases (parameter groups), as in the course.

- L2 in the loss: ``loss + lambda / (2 m) * sum ||W||^2``; autograd gives ``lambda / m * W``.
- Weight decay in the optimizer: ``SGD(weight_decay=lambda / m)`` adds ``wd * W`` to the gradient, the
  same update as the L2 penalty. ``Adam(weight_decay=...)`` does the same *coupled* thing (so it is L2,
  rescaled by Adam's per-parameter step), while ``AdamW`` decays ``W -= lr * wd * W`` outside the adaptive
  step (decoupled weight decay, Loshchilov & Hutter): with Adam, L2 and weight decay differ.
- L1 in the loss: ``loss + lambda / m * sum |W|``; autograd's subgradient of ``abs`` at 0 is 0.
- Dropout: ``nn.Dropout(p = 1 - keep_prob)`` after every hidden activation; ``model.eval()`` turns it off.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn

from torch_ref import validation as v

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class DropoutNet(nn.Module):
    """``[Linear -> activation -> Dropout] x (L-1) -> Linear``; returns logits ``(m, 1)``."""

    def __init__(self, layer_dims: list[int], *, keep_prob: float, hidden_activation: str = "relu",
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        super().__init__()
        v.check_sizes("layer_dims", layer_dims, at_least=2)
        v.check_number("keep_prob", keep_prob, low=0.0, high=1.0, low_open=True)
        v.check_float_dtype("dtype", dtype)
        if hidden_activation not in ACTIVATIONS:
            raise ValueError(f"hidden_activation must be one of {sorted(ACTIVATIONS)}, got {hidden_activation!r}")
        pairs = zip(layer_dims[:-1], layer_dims[1:], strict=True)
        self.linears = nn.ModuleList(nn.Linear(a, b, dtype=dtype, device=device) for a, b in pairs)
        self.activation = ACTIVATIONS[hidden_activation]()
        self.dropouts = nn.ModuleList(nn.Dropout(p=1 - keep_prob) for _ in layer_dims[1:-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear, dropout in zip(self.linears[:-1], self.dropouts, strict=True):
            x = dropout(self.activation(linear(x)))
        return self.linears[-1](x)


def weights(model: nn.Module) -> list[nn.Parameter]:
    return [linear.weight for linear in model.linears]


def l2_penalty(model: nn.Module, lambd: float, m: int) -> torch.Tensor:
    """``lambda / (2 m) * sum_l ||W[l]||_F^2`` as a differentiable scalar."""
    return lambd / (2 * m) * sum(w.square().sum() for w in weights(model))


def l1_penalty(model: nn.Module, lambd: float, m: int) -> torch.Tensor:
    """``lambda / m * sum_l sum |W[l]|`` as a differentiable scalar."""
    return lambd / m * sum(w.abs().sum() for w in weights(model))


class PenalizedLoss(nn.Module):
    """``BCEWithLogitsLoss(logits, y) + penalty(model)``: the regularized cost J as one loss module."""

    def __init__(self, model: nn.Module, *, m: int, l2: float = 0.0, l1: float = 0.0):
        super().__init__()
        v.check_positive_int("m", m)
        v.check_number("l2", l2, low=0.0)
        v.check_number("l1", l1, low=0.0)
        self.bce = nn.BCEWithLogitsLoss()
        self.model = [model]  # a list, so the model is not registered twice as a submodule
        self.m, self.l2, self.l1 = m, l2, l1

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.bce(logits, y)
        if self.l2:
            loss = loss + l2_penalty(self.model[0], self.l2, self.m)
        if self.l1:
            loss = loss + l1_penalty(self.model[0], self.l1, self.m)
        return loss


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """Parameter groups: weights decayed by ``weight_decay``, biases not decayed."""
    decayed = {id(w) for w in weights(model)}
    biases = [p for p in model.parameters() if id(p) not in decayed]
    return [{"params": weights(model), "weight_decay": weight_decay}, {"params": biases, "weight_decay": 0.0}]


def make_optimizer(name: str, params: Iterable, *, lr: float) -> torch.optim.Optimizer:
    """``"sgd"``, ``"adam"`` or ``"adamw"`` over ``params`` (a model's parameters or :func:`decay_groups`)."""
    classes = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if name not in classes:
        raise ValueError(f"optimizer must be one of {sorted(classes)}, got {name!r}")
    params = list(params)
    if name == "adamw" and params and not isinstance(params[0], dict):
        params = [{"params": params, "weight_decay": 0.0}]  # AdamW's default decay is 0.01, not 0
    return classes[name](params, lr=lr)


class EarlyStopping:
    """Dev loss per epoch, ``patience``, and a deep copy of the best ``state_dict`` to restore."""

    def __init__(self, *, patience: int, min_delta: float = 0.0):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        v.check_number("min_delta", min_delta, low=0.0)
        self.patience, self.min_delta = patience, min_delta
        self.best_loss = float("inf")
        self.best_epoch = -1
        self.best_state: dict[str, torch.Tensor] = {}
        self.epochs_without_improvement = 0
        self.stopped_epoch: int | None = None

    def update(self, epoch: int, dev_loss: float, model: nn.Module) -> bool:
        if dev_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch = dev_loss, epoch
            self.best_state = copy.deepcopy(model.state_dict())
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        if self.epochs_without_improvement >= self.patience:
            self.stopped_epoch = epoch
        return self.stopped_epoch is not None

    def restore(self, model: nn.Module) -> None:
        """Load the best epoch's parameters back into ``model``."""
        model.load_state_dict(self.best_state)
