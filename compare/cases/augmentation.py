"""Data augmentation: random horizontal flip + random crop with padding, scratch vs torchvision.transforms.v2.

Each training step augments the same raw batch afresh and takes one gradient step of logistic regression
on the augmented images. The harness draws the random decisions once per step
(:func:`scratch.augmentation.draw_decisions`, a seeded ``np.random.Generator``), the torch side applies
them with ``v2.RandomCrop.transform`` / ``v2.functional.horizontal_flip``, and ``couple`` hands the same
decisions to the scratch side: identical batches give identical trajectories. The picture grid of the
report is :mod:`compare.studies.augmentation_grid`.
"""

from __future__ import annotations

import numpy as np
import torch

import scratch.augmentation as aug
import torch_ref.augmentation as taug
from compare.cases.logistic import ScratchLogisticRegression, logistic_problem, torch_logistic_regression
from compare.core.problem import Observation, Problem
from compare.core.registry import Case, Excerpt, Stage, register
from compare.data import datasets

PADDING = 2
BATCH = 64


def digits_problem(seed: int, dtype: np.dtype) -> Problem:
    data = datasets.digits(one_vs_rest=3)
    rng = np.random.default_rng(seed)
    batch = data.subset(rng.choice(data.m, BATCH, replace=False))
    batch = datasets.Dataset(batch.name, batch.X / 16.0, batch.Y, image_shape=batch.image_shape)  # pixels 0..1
    problem = logistic_problem(batch, seed, dtype)
    problem.hyper.update(image_shape=data.image_shape, padding=PADDING)
    return problem


class ScratchAugmented(ScratchLogisticRegression):
    """Augment the raw images with :func:`scratch.augmentation.augment`, then one gradient step."""

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.raw = problem.data["X"].T.reshape(-1, *problem.hyper["image_shape"])
        self.padding = problem.hyper["padding"]
        self.rng = np.random.default_rng(problem.seed)  # used only when run alone (timing)
        self.decisions: aug.AugmentationDecisions | None = None

    def step(self) -> None:
        decisions = self.decisions or aug.draw_decisions(self.rng, self.raw.shape[0], padding=self.padding)
        self.decisions = None
        self.X = aug.augment(self.raw, decisions).reshape(self.raw.shape[0], -1).T
        super().step()


class TorchAugmented:
    """Draw this step's decisions, apply them with ``torchvision.transforms.v2``, one torch SGD step."""

    def __init__(self, problem: Problem, device: torch.device):
        self.inner = torch_logistic_regression(problem, device)
        self.raw = self.inner.x.reshape(-1, *problem.hyper["image_shape"])
        self.padding = problem.hyper["padding"]
        self.rng = np.random.default_rng(problem.seed)
        self.decisions: aug.AugmentationDecisions | None = None

    def step(self) -> None:
        self.decisions = aug.draw_decisions(self.rng, self.raw.shape[0], padding=self.padding)
        d = self.decisions
        flip, top, left = (torch.from_numpy(a).to(self.raw.device) for a in (d.flip, d.top, d.left))
        batch = taug.augment_with_decisions(self.raw, flip, top, left, padding=self.padding)
        self.inner.x = batch.reshape(batch.shape[0], -1)
        self.inner.step()

    def observe(self) -> Observation:
        return self.inner.observe()


def hand_decisions_to_scratch(scratch_side: ScratchAugmented, torch_side: TorchAugmented) -> None:
    scratch_side.decisions = torch_side.decisions


register(Case(
    concept="augmentation",
    variant="flip_crop",
    summary=f"random flip + crop (padding {PADDING}) on {BATCH} 8x8 digits, scratch vs v2, then a GD step",
    make_problem=digits_problem,
    scratch=ScratchAugmented,
    torch=TorchAugmented,
    couple=hand_decisions_to_scratch,
    steps=20,
    equations=(
        r"\tilde x_{c,h,w} = \operatorname{pad}_p(\operatorname{flip}_f(x))_{c,\,h + t,\,w + l}, \quad "
        r"f \sim \text{Bernoulli}(0.5),\ t, l \sim U\{0, \dots, 2p\}",
    ),
    notes=("torchvision's RandomHorizontalFlip and RandomCrop draw their decisions from torch's global RNG "
           "inside forward(); the harness draws them once with a seeded NumPy Generator and passes them to "
           "RandomCrop.transform (the method forward() calls with the drawn params), so the transforms "
           "themselves are torchvision's. Padding is constant 0 on both sides (RandomCrop's default)."),
    scratch_source=(aug.draw_decisions, aug.horizontal_flip, aug.random_crop, aug.augment),
    torch_source=(taug.make_augmentation, taug.augment_with_decisions),
    stages=(
        Stage("draw the random decisions (once, shared)", (aug.draw_decisions,),
              (Excerpt(TorchAugmented.step, ("aug.draw_decisions(",)),)),
        Stage("augment the batch", (aug.horizontal_flip, aug.random_crop, aug.augment),
              (taug.make_augmentation, taug.augment_with_decisions)),
        Stage("train on it (one logistic-regression step)", (Excerpt(ScratchAugmented.step, ("super().step()",)),),
              (Excerpt(TorchAugmented.step, ("self.inner.step()",)),)),
    ),
))
