"""Normalizing inputs in PyTorch: statistics fitted on the training batch, applied to every split.

Features ``x`` are batch-first ``(m, n_x)``: ``mean = x.mean(0)``, ``std = x.std(0, correction=0)``
(population std, as the course), ``(x - mean) / std`` with plain tensor ops. Images ``(m, C, H, W)``
use ``torchvision.transforms.v2.Normalize(mean, std)`` with per-channel statistics. A zero std is
replaced by 1 (centre only), matching ``scratch.normalization``; ``v2.Normalize`` itself rejects it.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2


def _safe_std(std: torch.Tensor) -> torch.Tensor:
    return torch.where(std == 0, torch.ones_like(std), std)


def fit_feature_normalization(x_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, std)`` per feature of ``x_train`` ``(m, n_x)``, each ``(n_x,)``."""
    return x_train.mean(dim=0), _safe_std(x_train.std(dim=0, correction=0))


def normalize_features(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` broadcast over the batch."""
    return (x - mean) / std


def fit_image_normalize(images_train: torch.Tensor) -> v2.Normalize:
    """A ``v2.Normalize`` with per-channel mean and population std of ``images_train`` ``(m, C, H, W)``."""
    mean = images_train.mean(dim=(0, 2, 3))
    std = _safe_std(images_train.std(dim=(0, 2, 3), correction=0))
    return v2.Normalize(mean=mean.tolist(), std=std.tolist())
