"""Data augmentation for image batches in NumPy: random horizontal flip and random crop with padding.

Images are batch-first ``(m, C, H, W)`` (torch's layout). The random decisions are drawn separately from
applying them, so that the torch side can be handed the very same decisions:

- flip: image ``i`` is mirrored left-right (``x[..., ::-1]``) when ``flip[i]``, drawn with probability
  ``flip_prob`` (torchvision's ``RandomHorizontalFlip(p=0.5)``);
- crop: the image is zero-padded by ``padding`` pixels on every side, then the ``H x W`` window at
  ``(top[i], left[i])`` is kept, each offset uniform in ``0 .. 2 * padding`` (torchvision's
  ``RandomCrop(size=(H, W), padding=padding)`` with its default constant fill 0).

The flip is applied before the crop, the order of ``v2.Compose([RandomHorizontalFlip(), RandomCrop()])``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scratch.validation import check_array, check_in_range, check_nonempty, check_shape, float_inputs


@dataclass(frozen=True)
class AugmentationDecisions:
    """Per-example random choices: ``flip`` (m,) bool, ``top`` and ``left`` (m,) int offsets."""

    flip: np.ndarray
    top: np.ndarray
    left: np.ndarray
    padding: int

    def __post_init__(self) -> None:
        m = self.flip.shape[0] if self.flip.ndim == 1 else -1
        for name in ("flip", "top", "left"):
            check_shape(name, getattr(self, name), (m,))
        for name in ("top", "left"):
            offsets = getattr(self, name)
            if ((offsets < 0) | (offsets > 2 * self.padding)).any():
                raise ValueError(f"{name} offsets must lie in 0..{2 * self.padding} for padding "
                                 f"{self.padding}, got {offsets.min()}..{offsets.max()}")


def draw_decisions(rng: np.random.Generator, m: int, *, padding: int, flip_prob: float = 0.5
                   ) -> AugmentationDecisions:
    """Draw flips (Bernoulli ``flip_prob``) and crop offsets (uniform ``0..2 padding``) for ``m`` images."""
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    check_in_range("flip_prob", flip_prob, 0.0, 1.0)
    flip = rng.random(m) < flip_prob
    top = rng.integers(0, 2 * padding + 1, size=m)
    left = rng.integers(0, 2 * padding + 1, size=m)
    return AugmentationDecisions(flip, top, left, int(padding))


@float_inputs(images=4)
def horizontal_flip(images: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Mirror the images with ``flip[i]`` left-right (last axis); the others are copied unchanged."""
    return np.where(flip[:, None, None, None], images[..., ::-1], images)


@float_inputs(images=4)
def random_crop(images: np.ndarray, top: np.ndarray, left: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad ``padding`` pixels on each side, then cut the ``H x W`` window at ``(top[i], left[i])``."""
    m, _, height, width = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.empty_like(images)
    for i in range(m):  # one window per image; m slices are cheaper than building a gather index
        out[i] = padded[i, :, top[i]:top[i] + height, left[i]:left[i] + width]
    return out


def augment(images: np.ndarray, decisions: AugmentationDecisions) -> np.ndarray:
    """Flip, then pad-and-crop, a batch ``(m, C, H, W)`` with the given decisions; same shape out."""
    check_array("images", images, ndim=4)
    check_nonempty("images", images)
    check_shape("decisions.flip", decisions.flip, (images.shape[0],))
    return random_crop(horizontal_flip(images, decisions.flip), decisions.top, decisions.left,
                       decisions.padding)
