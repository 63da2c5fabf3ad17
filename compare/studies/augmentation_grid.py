"""Study: what flip + crop do to 8x8 digits, and that scratch and torchvision.transforms.v2 agree on every pixel."""

from __future__ import annotations

import numpy as np
import torch

import scratch.augmentation as aug
import torch_ref.augmentation as taug
from compare.data import datasets
from compare.report.studies import Study, StudyContext, StudyOutput, register_study


def augmentation_grid_study(ctx: StudyContext) -> StudyOutput:
    """A grid: each row one digit, first column the original, then augmented copies (scratch == v2)."""
    import matplotlib.pyplot as plt

    rows, copies, padding = 6, 7, 1
    data = datasets.digits()
    originals = np.ascontiguousarray(data.images()[:rows])
    rng = np.random.default_rng(0)
    decisions = [aug.draw_decisions(rng, rows, padding=padding) for _ in range(copies)]
    scratch_images = [aug.augment(originals, d) for d in decisions]
    torch_images = [taug.augment_with_decisions(torch.from_numpy(originals), *(torch.from_numpy(a) for a in (
        d.flip, d.top, d.left)), padding=padding).numpy() for d in decisions]
    identical = all(np.array_equal(a, b) for a, b in zip(scratch_images, torch_images, strict=True))
    fig, axes = plt.subplots(rows, copies + 1, figsize=(1.2 * (copies + 1), 1.2 * rows))
    for r in range(rows):
        titles = [("flip " if d.flip[r] else "") + f"t{d.top[r]} l{d.left[r]}" for d in decisions]
        panels = [(originals[r, 0], "original")] + [(scratch_images[c][r, 0], titles[c]) for c in range(copies)]
        for ax, (image, title) in zip(axes[r], panels, strict=True):
            ax.imshow(image, cmap="gray_r", vmin=0, vmax=16)
            ax.set_title(title, fontsize=6)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(ctx.plot("augmentation_grid.png"), dpi=90)
    plt.close(fig)
    markdown = (
        f"Random horizontal flip (p = 0.5) then random crop with zero padding {padding} on 8x8 digits. Each "
        f"title gives the decisions (flip, crop offset top/left in 0..{2 * padding}); the centre crop is "
        f"t{padding} l{padding}. The same decisions fed to `torchvision.transforms.v2` produce "
        f"{'bit-identical' if identical else 'DIFFERENT'} images. Note that a mirrored digit is no longer "
        "the same digit for some classes (2, 3, 7): flips suit cats, not always handwriting, which is why "
        "augmentations must preserve the label.\n\n![augmented digits](plots/augmentation_grid.png)")
    return StudyOutput(markdown, ("plots/augmentation_grid.png",))


register_study(Study("augmentation_grid", "augmentation", "Data augmentation: flipped and cropped examples",
                     augmentation_grid_study, seconds=3))
