"""How often gradient clipping acted in each recurrent case (a report study).

Every ``rnn`` variant clips with ``clip_grad_norm_``; the parity run compares the total norm and the clip
decision at each step (``state.total_norm``, ``state.clipped``). This study runs each variant's 200 steps
(float64, seed 0) on both sides and tabulates the number of steps whose total norm exceeded ``max_norm``,
on each side, with the range of the norms, so a reader sees that clipping was active and identical.
"""

from __future__ import annotations

import numpy as np
import torch

from compare.cases import rnn as rnn_cases
from compare.core.registry import select
from compare.core.runner import run_trajectories
from compare.report.studies import Study, StudyContext, StudyOutput, register_study

STEPS = 200


def clip_counts(variant: str, steps: int) -> tuple[int, int, float, float]:
    """(steps clipped by scratch, by torch, smallest and largest total norm) over ``steps`` steps."""
    (case,) = select([f"rnn/{variant}"])
    scratch, torch_run = run_trajectories(case, 0, "float64", torch.device("cpu"), steps)
    norms = np.array([float(scratch.snapshots[k]["state.total_norm"]) for k in range(steps)])
    clipped = [sum(float(run.snapshots[k]["state.clipped"]) for k in range(steps)) for run in (scratch, torch_run)]
    return int(clipped[0]), int(clipped[1]), float(norms.min()), float(norms.max())


def run(context: StudyContext) -> StudyOutput:
    steps = context.steps(STEPS)
    lines = [f"Steps (of {steps}, float64, seed 0) on which `clip_grad_norm_` scaled the gradients:", "",
             "| variant | max_norm | clipped (scratch) | clipped (torch) | total norm min | max |",
             "|---|---|---|---|---|---|"]
    for variant, (_, spec) in context.track(sorted(rnn_cases.VARIANTS.items()), "clipping per variant"):
        scratch, torch_count, low, high = clip_counts(variant, steps)
        lines.append(f"| {variant} | {spec.max_norm} | {scratch} | {torch_count} | {low:.3g} | {high:.3g} |")
    return StudyOutput("\n".join(lines) + "\n")


register_study(Study("rnn_clipping", "rnn", "Gradient clipping in the recurrent cases", run, seconds=190))
