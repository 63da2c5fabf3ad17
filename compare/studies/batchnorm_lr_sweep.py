"""The course's point about batch normalization, measured on both sides: the same deep net with and without
BN, trained at several learning rates (a report study).

The net is ``[30, 32, 32, 32, 32, 1]`` (four ReLU hidden layers, He init) on the standardized breast-cancer
training split, full batch, plain SGD; "with BN" puts ``BatchNorm1d`` between each hidden linear layer (no
bias) and its ReLU, the course's placement (``compare.cases.batchnorm``); "without" is the plain deep net
(``compare.cases.networks``). Each run is a parity run of the harness's own trainers (scratch and torch in
lock step), so every curve is drawn twice and the table gives both final losses and their largest relative
difference over the run. A run whose loss leaves the finite numbers is reported as diverged at that step.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from compare.cases.batchnorm import ScratchBNNet, TorchBNNet, bn_problem  # noqa: E402
from compare.cases.networks import ScratchDeepNet, TorchDeepNet, breast_cancer_train, deep_problem  # noqa: E402
from compare.core.problem import Trainer  # noqa: E402
from compare.core.registry import Case  # noqa: E402
from compare.report.studies import Study, StudyContext, StudyOutput, register_study  # noqa: E402

LAYER_DIMS = [30, 32, 32, 32, 32, 1]
LEARNING_RATES, QUICK_LEARNING_RATES = (0.03, 0.1, 0.3, 1.0, 3.0), (0.1, 1.0)
STEPS, QUICK_STEPS = 200, 30
SEED = 0
#: At most this many panels per row of the figure (it stays readable on the study page).
COLUMNS = 4


def sweep_case(lr: float, with_bn: bool) -> Case:
    """The net at learning rate ``lr``, with BN before each ReLU or without, as a harness case."""
    if with_bn:
        def make_problem(seed: int, dtype: np.dtype):
            return bn_problem(seed, dtype, layer_dims=LAYER_DIMS, dataset=breast_cancer_train(seed),
                              placement="before", learning_rate=lr)
        return Case("batchnorm", f"sweep_bn_lr{lr}", "", make_problem, ScratchBNNet, TorchBNNet)

    def make_plain(seed: int, dtype: np.dtype):
        return deep_problem(seed, dtype, layer_dims=LAYER_DIMS, dataset=breast_cancer_train(seed), learning_rate=lr)
    return Case("batchnorm", f"sweep_plain_lr{lr}", "", make_plain, ScratchDeepNet, TorchDeepNet)


@dataclass(frozen=True)
class SweepRun:
    """Both sides' losses for one (learning rate, with BN) point; ``diverged_at`` is the first step at which a
    side's loss was not finite (scratch refuses NaN input with a ValueError, which counts the same)."""

    lr: float
    with_bn: bool
    scratch: list[float]
    torch: list[float]
    diverged_at: int | None

    def max_relative_loss_difference(self) -> float:
        """``max_k |J_scratch - J_torch| / max_k |J_torch|`` over the steps both sides kept finite."""
        steps = self.diverged_at if self.diverged_at is not None else len(self.torch)
        if not steps:
            return 0.0
        ours, theirs = np.array(self.scratch[:steps]), np.array(self.torch[:steps])
        return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def _loss_after_step(side: Trainer) -> float:
    """The side's loss after one more step; NaN once it diverged (the study reports that step, so NumPy's
    overflow warnings on the way there are expected, not news)."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            side.step()
            return float(side.observe().loss)
    except ValueError:  # scratch's input checks refuse the NaN/Inf a diverging run produces
        return float("nan")


def train_both(lr: float, with_bn: bool, steps: int) -> SweepRun:
    """Both sides of :func:`sweep_case` for ``steps`` steps (float64, CPU, seed :data:`SEED`), in lock step,
    stopping at the first step where either loss is not finite."""
    case = sweep_case(lr, with_bn)
    problem = case.make_problem(SEED, np.dtype("float64"))
    scratch_side, torch_side = case.scratch(problem), case.torch(problem, torch.device("cpu"))
    losses: tuple[list[float], list[float]] = ([], [])
    for step in range(steps):
        for side, out in zip((scratch_side, torch_side), losses, strict=True):
            out.append(_loss_after_step(side))
        if not (np.isfinite(losses[0][-1]) and np.isfinite(losses[1][-1])):
            return SweepRun(lr, with_bn, *losses, diverged_at=step)
    return SweepRun(lr, with_bn, *losses, diverged_at=None)


def sweep(learning_rates: tuple[float, ...], steps: int) -> list[SweepRun]:
    """Every learning rate with and without BN."""
    return [train_both(lr, with_bn, steps) for lr in learning_rates for with_bn in (False, True)]


def _final(run: SweepRun) -> str:
    if run.diverged_at is not None:
        return f"diverged at step {run.diverged_at}"
    return f"{run.scratch[-1]:.4g} / {run.torch[-1]:.4g}"


def _figure(runs: list[SweepRun], path, steps: int) -> None:
    """One panel per learning rate (at most :data:`COLUMNS` per row), log-scale cost, the y range set by the
    runs that stayed finite so that a diverging curve leaves the panel upwards (marked and labelled)."""
    rates = sorted({run.lr for run in runs})
    rows = -(-len(rates) // COLUMNS)
    columns = -(-len(rates) // rows)
    fig, axes = plt.subplots(rows, columns, figsize=(3.8 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.flat[len(rates):]:
        axis.set_visible(False)
    for axis, lr in zip(axes.flat, rates, strict=False):
        panel = [r for r in runs if r.lr == lr]
        finite = np.concatenate([np.array(r.torch)[np.isfinite(r.torch)] for r in panel])
        for run in panel:
            color, label = ("tab:green", "with BN") if run.with_bn else ("tab:red", "without BN")
            axis.plot(run.torch, color=color, lw=3, alpha=0.4, label=f"{label} (torch)")
            axis.plot(run.scratch, color="k" if run.with_bn else "tab:brown", lw=1, ls="--",
                      label=f"{label} (scratch)")
            if run.diverged_at is not None:
                axis.annotate(f"{label}: diverged at step {run.diverged_at}", (0.05, 0.9), xycoords="axes fraction",
                              color=color, fontsize=8)
        axis.set_yscale("log")
        axis.set_ylim(finite.min() / 2, max(r.torch[0] for r in panel) * 10)
        axis.set_title(f"learning rate {lr}", fontsize=9)
        axis.set_xlabel("step")
        axis.set_ylabel("cost J (log scale)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{LAYER_DIMS} ReLU on breast cancer, SGD, full batch, {steps} steps, float64: thick = torch, "
                 "dashed = scratch", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(context: StudyContext) -> StudyOutput:
    rates, steps = (QUICK_LEARNING_RATES, QUICK_STEPS) if context.quick else (LEARNING_RATES, STEPS)
    runs = sweep(rates, steps)
    lines = [f"The same {LAYER_DIMS} ReLU net (He init, breast cancer, SGD, full batch, {steps} steps, float64, "
             f"seed {SEED}) without and with batch normalization before each ReLU. Final cost J scratch / torch, "
             "and the largest relative difference of the two loss curves:", "",
             "| learning rate | without BN | with BN | max rel. loss difference (without / with) |",
             "|---|---|---|---|"]
    for lr in rates:
        plain, normed = (next(r for r in runs if r.lr == lr and r.with_bn == flag) for flag in (False, True))
        lines.append(f"| {lr} | {_final(plain)} | {_final(normed)} | {plain.max_relative_loss_difference():.1e} / "
                     f"{normed.max_relative_loss_difference():.1e} |")
    _figure(runs, context.plot("batchnorm_lr_sweep.png"), steps)
    lines += ["", "![loss curves per learning rate](plots/batchnorm_lr_sweep.png)"]
    return StudyOutput("\n".join(lines) + "\n", ("plots/batchnorm_lr_sweep.png",))


register_study(Study("batchnorm_lr_sweep", "batchnorm", "With and without batch normalization: a learning-rate "
                     "sweep", run, seconds=20))
