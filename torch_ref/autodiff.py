"""The lectures' computation graphs with ``torch.autograd``: leaves with ``requires_grad``, ``.backward()``,
``.grad``. Mirrors ``scratch/autodiff.py``; torch records the graph while the expression runs and
differentiates it itself, so nothing here writes a backward rule.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def add_multiply(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """f(x, y, z) = (x + y) z, the lectures' first graph."""
    return (x + y) * z


def logistic_neuron(w0: torch.Tensor, x0: torch.Tensor, w1: torch.Tensor, x1: torch.Tensor,
                    w2: torch.Tensor) -> torch.Tensor:
    """f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))), node by node as on the slides."""
    return 1 / (1 + torch.exp(-1 * (w0 * x0 + w1 * x1 + w2)))


def logistic_regression_cost(w: torch.Tensor, b: torch.Tensor, X: torch.Tensor, Y: torch.Tensor
                             ) -> torch.Tensor:
    """J = mean((1 - Y) Z - log(sigmoid(Z))), Z = w^T X + b, in the course's layout (X is (n_x, m))."""
    Z = w.T @ X + b
    return ((1 - Y) * Z - torch.log(torch.sigmoid(Z))).mean()


def value_and_grad(expression: Callable[..., torch.Tensor], inputs: dict[str, torch.Tensor]
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``expression(**leaves)`` and its gradient with respect to every leaf (scalar output).

    Each input is copied into a fresh leaf tensor with ``requires_grad=True`` (same dtype and device);
    returns the detached output and ``{name: leaf.grad}``.
    """
    leaves = {name: value.detach().clone().requires_grad_(True) for name, value in inputs.items()}
    out = expression(**leaves)
    out.backward()
    return out.detach(), {name: leaf.grad for name, leaf in leaves.items()}
