"""Data augmentation with ``torchvision.transforms.v2``: random horizontal flip and random crop with padding.

:func:`make_augmentation` is the idiomatic pipeline (torch's global RNG picks the decisions, one image
at a time as in a ``Dataset``). :func:`augment_with_decisions` applies the same ``v2`` transforms with
decisions drawn elsewhere, by handing ``RandomCrop.transform`` the parameters its ``make_params`` would
have drawn and flipping with ``v2.functional.horizontal_flip``: this is how the harness proves the NumPy
version produces identical batches.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from torch_ref import validation as v


def make_augmentation(size: tuple[int, int], *, padding: int, flip_prob: float = 0.5) -> v2.Compose:
    """``Compose([RandomHorizontalFlip(flip_prob), RandomCrop(size, padding=padding)])`` (fill 0)."""
    v.check_sizes("size", size, at_least=2)
    if len(size) != 2:
        raise ValueError(f"size must be (height, width), got {size!r}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    v.check_number("flip_prob", flip_prob, low=0.0, high=1.0)
    return v2.Compose([v2.RandomHorizontalFlip(p=flip_prob), v2.RandomCrop(size, padding=padding)])


def augment_with_decisions(images: torch.Tensor, flip: torch.Tensor, top: torch.Tensor, left: torch.Tensor,
                           *, padding: int) -> torch.Tensor:
    """Apply the flip-then-crop pipeline to ``images`` ``(m, C, H, W)`` with given per-image decisions.

    ``flip`` is a bool tensor ``(m,)``, ``top``/``left`` integer tensors ``(m,)`` in ``0..2 padding``.
    v2 transforms apply one set of parameters to every leading batch dimension, so images sharing a
    decision are transformed together: one flip call, one ``RandomCrop.transform`` per distinct offset.
    """
    height, width = images.shape[-2:]
    out = images.clone()
    out[flip] = v2.functional.horizontal_flip(images[flip])
    crop = v2.RandomCrop((height, width), padding=padding)
    offsets = torch.stack([top, left], dim=1)
    for row, col in torch.unique(offsets, dim=0).tolist():
        chosen = (offsets[:, 0] == row) & (offsets[:, 1] == col)
        params = dict(needs_crop=padding > 0, top=row, left=col, height=height, width=width,
                      needs_pad=padding > 0, padding=[padding] * 4)
        out[chosen] = crop.transform(out[chosen], params)
    return out
