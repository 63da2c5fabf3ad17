"""Plots drawn from parity runs (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from compare.core.runner import CaseRun  # noqa: E402


def loss_curves(runs: list[CaseRun], path: Path, title: str) -> None:
    """Per variant: both loss curves overlaid (top) and |scratch - torch| on a log scale (bottom)."""
    fig, axes = plt.subplots(2, len(runs), figsize=(4.2 * len(runs), 6), squeeze=False, sharex="col")
    for column, run in enumerate(runs):
        scratch_loss, torch_loss = np.array(run.scratch.losses), np.array(run.torch.losses)
        steps = np.arange(len(scratch_loss))
        top, bottom = axes[0, column], axes[1, column]
        top.plot(steps, torch_loss, lw=3, alpha=0.5, label="torch")
        top.plot(steps, scratch_loss, lw=1, ls="--", color="k", label="scratch")
        top.set_title(f"{run.case.variant} ({run.dtype}, {run.device})", fontsize=9)
        top.set_ylabel("loss")
        top.legend(fontsize=8)
        difference = np.abs(scratch_loss - torch_loss)
        bottom.semilogy(steps, np.where(difference > 0, difference, np.nan), ".", ms=2)
        bottom.set_ylabel("|scratch - torch|")
        bottom.set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
