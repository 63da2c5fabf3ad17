"""How often gradient clipping acted in each recurrent case (a report study).

Every ``rnn`` variant clips with ``clip_grad_norm_``; the parity run compares the total norm and the clip
decision at each step (``state.total_norm``, ``state.clipped``). This study reads them from the report's own
float64 seed-0 runs of each variant (training it again, 200 steps on both sides, only for a variant the
report did not run) and tabulates the number of steps whose total norm exceeded ``max_norm``, on each side,
with the range of the norms, so a reader sees that clipping was active and identical; and it plots each
variant's total norm per step on both sides against its ``max_norm`` (``plots/rnn_clipping.png``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import torch

from compare.cases import rnn as rnn_cases
from compare.core.registry import select
from compare.core.runner import run_trajectories
from compare.report.studies import Study, StudyContext, StudyOutput, register_study

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STEPS = 200
PLOT = "rnn_clipping.png"


def total_norms(variant: str, steps: int, context: StudyContext | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each side's total gradient norm before clipping at every step, then each side's clip decisions (0 or 1):
    from the report's float64 seed-0 run of the variant where ``context`` holds one (all its steps), else from
    ``steps`` steps trained here."""
    name = f"rnn/{variant}"
    run = context.run_of(name) if context is not None else None
    if run is not None:
        sides = (run.scratch, run.torch)
    else:
        (case,) = select([name])
        sides = run_trajectories(case, 0, "float64", torch.device("cpu"), steps)
    norms = [np.array([scalars["state.total_norm"] for scalars in side.scalars]) for side in sides]
    clipped = [np.array([scalars["state.clipped"] for scalars in side.scalars]) for side in sides]
    return norms[0], norms[1], clipped[0], clipped[1]


def clip_counts(variant: str, steps: int) -> tuple[int, int, float, float]:
    """(steps clipped by scratch, by torch, smallest and largest total norm) over ``steps`` steps."""
    norms, _, scratch_clipped, torch_clipped = total_norms(variant, steps)
    return int(scratch_clipped.sum()), int(torch_clipped.sum()), float(norms.min()), float(norms.max())


def norms_figure(norms: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path) -> None:
    """One panel per variant: torch's total norm (thick, pale), scratch's (thin, dashed) and ``max_norm`` (red):
    the steps above the red line are the clipped ones."""
    columns = 4
    rows = -(-len(norms) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.6 * rows), squeeze=False, sharex=True)
    for axis, (variant, (scratch, torch_norms, max_norm)) in zip(axes.flat, norms.items(), strict=False):
        axis.plot(torch_norms, color="tab:blue", lw=3, alpha=0.4, label="torch")
        axis.plot(scratch, color="k", lw=1, ls="--", label="scratch")
        axis.axhline(max_norm, color="tab:red", lw=1, label="max_norm")
        axis.set_yscale("log")
        axis.set_title(variant, fontsize=9)
    for axis in axes.flat[len(norms):]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel("training step")
    axes[0][0].set_ylabel("total gradient norm")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(context: StudyContext) -> StudyOutput:
    steps = context.steps(STEPS)
    lines = ["Steps (float64, seed 0: the report's own runs) on which `clip_grad_norm_` scaled the gradients:", "",
             "| variant | max_norm | steps | clipped (scratch) | clipped (torch) | total norm min | max |",
             "|---|---|---|---|---|---|---|"]
    norms = {}
    for variant, (_, spec) in context.track(sorted(rnn_cases.VARIANTS.items()), "clipping per variant"):
        scratch, torch_norms, scratch_clipped, torch_clipped = total_norms(variant, steps, context)
        norms[variant] = (scratch, torch_norms, spec.max_norm)
        lines.append(f"| {variant} | {spec.max_norm} | {len(scratch)} | {int(scratch_clipped.sum())} "
                     f"| {int(torch_clipped.sum())} | {scratch.min():.3g} | {scratch.max():.3g} |")
    norms_figure(norms, context.plot(PLOT))
    lines += ["", f"![total gradient norm per step, both sides, against max_norm](plots/{PLOT})"]
    return StudyOutput("\n".join(lines) + "\n", (f"plots/{PLOT}",))


register_study(Study("rnn_clipping", "rnn", "Gradient clipping in the recurrent cases", run, seconds=5,
                     reads_runs=True))
