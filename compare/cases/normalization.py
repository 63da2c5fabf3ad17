"""Input normalization: each side fits mean and std on the training set with its own code, then trains.

Variants: ``features`` (breast cancer's 30 unscaled features, per-feature statistics; torch with tensor
ops) and ``images`` (8x8 digits "3 vs rest", per-channel statistics; torch with
``torchvision.transforms.v2.Normalize``). The model is the logistic regression of
:mod:`compare.cases.logistic`; the fitted statistics are compared as ``state.input.mean`` and
``state.input.std`` and the normalized data drive every gradient, so any difference shows in the
trajectories. The raw (unnormalized) data and initial weights are shared. Each side also normalizes the
raw dev inputs ``X_dev`` with its *training* statistics and reports their mean as
``state.input.dev_mean``: statistics fitted on the dev (or test) set itself would make that exactly 0,
which no gradient on the training set could reveal. The report's "why normalize" study is
:mod:`compare.studies.normalization_why`.
"""

from __future__ import annotations

import numpy as np
import torch

import scratch.normalization as norm
import torch_ref.normalization as tnorm
from compare.cases.logistic import ScratchLogisticRegression, logistic_problem, torch_logistic_regression
from compare.core.devices import to_numpy, to_torch
from compare.core.problem import Observation, Problem
from compare.core.registry import Case, Excerpt, Stage, register
from compare.core.trainers import TorchTrainer
from compare.data import datasets
from compare.data.splits import train_dev_test_split


def features_problem(seed: int, dtype: np.dtype) -> Problem:
    split = train_dev_test_split(datasets.breast_cancer(), seed=seed, stratified=True)
    problem = logistic_problem(split.train, seed, dtype)
    problem.data["X_dev"] = split.dev.X.astype(dtype)
    problem.hyper["kind"] = "features"
    return problem


def images_problem(seed: int, dtype: np.dtype) -> Problem:
    split = train_dev_test_split(datasets.digits(one_vs_rest=3), seed=seed, stratified=True)
    problem = logistic_problem(split.train.subset(np.arange(256)), seed, dtype)
    problem.data["X_dev"] = split.dev.X.astype(dtype)
    problem.hyper["kind"] = "images"
    return problem


class ScratchNormalized(ScratchLogisticRegression):
    """Fit :mod:`scratch.normalization` on the raw training inputs, then logistic regression on them."""

    def __init__(self, problem: Problem):
        X, X_dev = problem.data["X"], problem.data["X_dev"]
        if problem.hyper["kind"] == "images":
            images, dev_images = (A.T.reshape(A.shape[1], 1, 8, 8) for A in (X, X_dev))
            self.normalizer = norm.fit_image_normalizer(images)
            X_norm = self.normalizer.apply(images).reshape(X.shape[1], -1).T
            self.dev_mean = self.normalizer.apply(dev_images).mean(axis=(0, 2, 3))
        else:
            self.normalizer = norm.fit_normalizer(X)
            X_norm = self.normalizer.apply(X)
            self.dev_mean = self.normalizer.apply(X_dev).mean(axis=1)
        super().__init__(Problem(problem.seed, problem.dtype, {"X": X_norm, "Y": problem.data["Y"]},
                                 problem.params, problem.hyper))

    def observe(self) -> Observation:
        observation = super().observe()
        observation.arrays["state.input.mean"] = self.normalizer.mean.reshape(-1)
        observation.arrays["state.input.std"] = self.normalizer.std.reshape(-1)
        observation.arrays["state.input.dev_mean"] = self.dev_mean
        return observation


class TorchNormalized:
    """Fit :mod:`torch_ref.normalization` on the raw batch-first inputs, then the torch logistic regression."""

    def __init__(self, problem: Problem, device: torch.device):
        x, x_dev = (to_torch(problem.data[k], device, transpose=True) for k in ("X", "X_dev"))
        if problem.hyper["kind"] == "images":
            images = x.reshape(-1, 1, 8, 8)
            normalize = tnorm.fit_image_normalize(images)
            self.mean, self.std = (torch.tensor(v, dtype=x.dtype) for v in (normalize.mean, normalize.std))
            x_norm = normalize(images).reshape(x.shape)
            self.dev_mean = normalize(x_dev.reshape(-1, 1, 8, 8)).mean(dim=(0, 2, 3))
        else:
            self.mean, self.std = tnorm.fit_feature_normalization(x)
            x_norm = tnorm.normalize_features(x, self.mean, self.std)
            self.dev_mean = tnorm.normalize_features(x_dev, self.mean, self.std).mean(dim=0)
        inner = torch_logistic_regression(problem, device)
        self.trainer = TorchTrainer(inner.model, inner.loss_fn, inner.optimizer, x_norm, inner.y, inner.mapping)

    def step(self) -> None:
        self.trainer.step()

    def observe(self) -> Observation:
        observation = self.trainer.observe()
        observation.arrays["state.input.mean"] = to_numpy(self.mean)
        observation.arrays["state.input.std"] = to_numpy(self.std)
        observation.arrays["state.input.dev_mean"] = to_numpy(self.dev_mean)
        return observation


EQUATIONS = (
    r"\mu = \frac{1}{m}\sum_{i=1}^{m} x^{(i)}, \qquad \sigma^2 = \frac{1}{m}\sum_{i=1}^{m} (x^{(i)} - \mu)^2"
    r"\quad (n_x, 1) \text{ on the training set}",
    r"x_{\text{norm}} = (x - \mu) / \sigma \quad \text{for train, dev and test alike}",
)
NOTES = (
    "The course's sigma^2 is the population variance (divide by m); torch.std defaults to the sample "
    "variance (m - 1), so the torch side passes correction=0. v2.Normalize rejects a zero std; both sides "
    "replace it by 1 (centre only). Images are normalized per channel (over examples and pixels), the "
    "statistics v2.Normalize expects."
)
COMMON = dict(concept="normalization", scratch=ScratchNormalized, torch=TorchNormalized, steps=100,
              equations=EQUATIONS, notes=NOTES)

register(Case(
    variant="features",
    summary="per-feature mean/std fitted on the train split (breast cancer), then logistic regression",
    make_problem=features_problem,
    scratch_source=(norm.fit_normalizer, norm.Normalizer.apply),
    torch_source=(tnorm.fit_feature_normalization, tnorm.normalize_features),
    stages=(Stage("fit (training set only)", (norm.fit_normalizer,), (tnorm.fit_feature_normalization,)),
            Stage("apply (train, dev and test alike)", (norm.Normalizer.apply,), (tnorm.normalize_features,))),
    notebook=True,
    **COMMON,
))
register(Case(
    variant="images",
    summary="per-channel statistics, v2.Normalize vs scratch, on 8x8 digits 3-vs-rest, logistic regression",
    make_problem=images_problem,
    scratch_source=(norm.fit_image_normalizer, norm.Normalizer.apply),
    torch_source=(tnorm.fit_image_normalize,),
    stages=(Stage("fit (training set only)", (norm.fit_image_normalizer,), (tnorm.fit_image_normalize,)),
            Stage("apply (train, dev and test alike)", (norm.Normalizer.apply,),
                  (Excerpt(TorchNormalized.__init__, ("x_norm = normalize(images)",)),))),
    **COMMON,
))
