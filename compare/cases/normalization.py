"""Input normalization: each side fits mean and std on the training set with its own code, then trains.

Variants: ``features`` (breast cancer's 30 unscaled features, per-feature statistics; torch with tensor
ops) and ``images`` (8x8 digits "3 vs rest", per-channel statistics; torch with
``torchvision.transforms.v2.Normalize``). The model is the logistic regression of
``compare/cases/logistic_regression.py``; the fitted statistics are compared as ``state.input.mean`` and
``state.input.std`` and the normalized data drive every gradient, so any difference shows in the
trajectories. The raw (unnormalized) data and initial weights are shared. Each side also normalizes the
raw dev inputs ``X_dev`` with its *training* statistics and reports their mean as
``state.input.dev_mean``: statistics fitted on the dev (or test) set itself would make that exactly 0,
which no gradient on the training set could reveal.
"""

from __future__ import annotations

import numpy as np
import torch

import scratch.normalization as norm
import torch_ref.normalization as tnorm
from compare.cases.logistic_regression import ScratchLogisticRegression, _problem, torch_trainer
from compare.core.devices import to_numpy, to_torch
from compare.core.problem import Observation, Problem
from compare.core.registry import Case, register
from compare.core.trainers import TorchTrainer
from compare.data import datasets
from compare.data.splits import train_dev_test_split
from compare.report.studies import Study, StudyOutput, register_study


def features_problem(seed: int, dtype: np.dtype) -> Problem:
    split = train_dev_test_split(datasets.breast_cancer(), seed=seed, stratified=True)
    problem = _problem(split.train, seed, dtype)
    problem.data["X_dev"] = split.dev.X.astype(dtype)
    problem.hyper["kind"] = "features"
    return problem


def images_problem(seed: int, dtype: np.dtype) -> Problem:
    split = train_dev_test_split(datasets.digits(one_vs_rest=3), seed=seed, stratified=True)
    problem = _problem(split.train.subset(np.arange(256)), seed, dtype)
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
        inner = torch_trainer(problem, device)
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
    **COMMON,
))
register(Case(
    variant="images",
    summary="per-channel statistics, v2.Normalize vs NumPy, on 8x8 digits 3-vs-rest, logistic regression",
    make_problem=images_problem,
    scratch_source=(norm.fit_image_normalizer, norm.Normalizer.apply),
    torch_source=(tnorm.fit_image_normalize,),
    **COMMON,
))


# --- Study: why normalize (report section) ------------------------------------------------------------

def _descent_curves(X: np.ndarray, Y: np.ndarray, iterations: int) -> tuple[float, list[float], list[float]]:
    """Batch GD from zeros at the step size 1/L (L: largest curvature of J) on both sides.

    ``L = lambda_max([X; 1][X; 1]^T / m) / 4`` bounds the Hessian of the logistic cost, so ``1/L`` is the
    largest step that is safe for any data: each input scaling gets its own best fixed learning rate.
    """
    import scratch.logistic_regression as lr
    import torch_ref.logistic_regression as tlr

    augmented = np.vstack([X, np.ones((1, X.shape[1]))])
    curvature = np.linalg.eigvalsh(augmented @ augmented.T / X.shape[1]).max() / 4
    learning_rate = float(1 / curvature)
    w, b = lr.initialize_with_zeros(X.shape[0])
    _, _, ours = lr.optimize(w, b, X, Y, num_iterations=iterations, learning_rate=learning_rate)
    model = tlr.LogisticRegression(X.shape[0], dtype=torch.float64)
    torch.nn.init.zeros_(model.linear.weight)
    torch.nn.init.zeros_(model.linear.bias)
    x, y = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.T.copy())
    theirs = tlr.fit(model, x, y, num_iterations=iterations, learning_rate=learning_rate)
    return learning_rate, ours, theirs


def _two_feature_problem() -> tuple[np.ndarray, np.ndarray]:
    """Breast cancer's "mean radius" (~14 +- 3.5) and "mean smoothness" (~0.1 +- 0.014): scales 250x apart."""
    data = datasets.breast_cancer()
    return data.X[[0, 4]], data.Y


def _cost_grid(X: np.ndarray, Y: np.ndarray, w_opt: np.ndarray, b_opt: float, half_width: np.ndarray,
               n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """J(w1, w2) with b fixed at its optimum, on a grid centred at the optimum."""
    import scratch.logistic_regression as lr

    w1 = np.linspace(w_opt[0] - half_width[0], w_opt[0] + half_width[0], n)
    w2 = np.linspace(w_opt[1] - half_width[1], w_opt[1] + half_width[1], n)
    W1, W2 = np.meshgrid(w1, w2)
    Z = W1.reshape(-1, 1) * X[0] + W2.reshape(-1, 1) * X[1] + b_opt  # (n*n, m)
    J = np.mean((1 - Y) * Z - lr.log_sigmoid(Z), axis=1).reshape(n, n)
    return W1, W2, J


def normalization_study(ctx) -> StudyOutput:
    import matplotlib.pyplot as plt

    import scratch.logistic_regression as lr

    iterations = 200 if ctx.quick else 2000
    raw_X, Y = _two_feature_problem()
    fitted = norm.fit_normalizer(raw_X)
    normalized_X = fitted.apply(raw_X)

    # Cost against iterations on the 30-feature set and on the two-feature set, both sides.
    cancer = datasets.breast_cancer()
    runs = {}
    for label, X in (("30 features, raw", cancer.X), ("30 features, normalized", norm.fit_normalizer(cancer.X)
                     .apply(cancer.X)), ("2 features, raw", raw_X), ("2 features, normalized", normalized_X)):
        runs[label] = _descent_curves(X, cancer.Y if X.shape[0] == 30 else Y, iterations)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, prefix in zip(axes, ("30 features", "2 features"), strict=True):
        for label, (_, ours, theirs) in runs.items():
            if label.startswith(prefix):
                line, = ax.semilogx(np.arange(1, iterations + 1), theirs, lw=3, alpha=0.5, label=f"{label} (torch)")
                ax.semilogx(np.arange(1, iterations + 1), ours, "--", color=line.get_color(), lw=1,
                            label=f"{label} (numpy)")
        ax.set_title(f"breast cancer, {prefix}: batch GD at step 1/L")
        ax.set_xlabel("iteration")
        ax.set_ylabel("cost J")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ctx.plot("normalization_cost.png"), dpi=90)
    plt.close(fig)

    # Contours of J(w1, w2): optimum from a long run on the normalized inputs, mapped back to raw units.
    w, b = lr.initialize_with_zeros(2)
    params, _, _ = lr.optimize(w, b, normalized_X, Y, num_iterations=3000, learning_rate=runs[
        "2 features, normalized"][0])
    w_norm, b_norm = params["w"].ravel(), float(params["b"])
    w_raw = w_norm / fitted.std.ravel()
    b_raw = b_norm - float(np.sum(w_raw * fitted.mean.ravel()))
    radius = 2 * np.max(np.abs(w_norm))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    panels = (("raw inputs: elongated bowl", raw_X, w_raw, b_raw, np.full(2, radius / fitted.std.min())),
              ("normalized inputs: near-round bowl", normalized_X, w_norm, b_norm, np.full(2, radius)))
    for ax, (title, X, w_opt, b_opt, half_width) in zip(axes, panels, strict=True):
        W1, W2, J = _cost_grid(X, Y, w_opt, b_opt, half_width)
        ax.contour(W1, W2, J, levels=np.quantile(J, np.linspace(0.002, 0.9, 14)), cmap="viridis")
        ax.plot(*w_opt, "r*", ms=10)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("w1 (mean radius)")
        ax.set_ylabel("w2 (mean smoothness)")
    fig.tight_layout()
    fig.savefig(ctx.plot("normalization_contours.png"), dpi=90)
    plt.close(fig)

    rows = ["| inputs | step 1/L | J after 10 | J after " + str(iterations) + " | max abs(numpy - torch) |",
            "|---|---|---|---|---|"]
    for label, (rate, ours, theirs) in runs.items():
        gap = float(np.max(np.abs(np.array(ours) - np.array(theirs))))
        rows.append(f"| {label} | {rate:.3g} | {ours[9]:.4f} | {ours[-1]:.4f} | {gap:.1e} |")
    ratio = float(fitted.std.max() / fitted.std.min())
    markdown = "\n".join([
        "The same logistic regression and batch gradient descent, from zeros, on raw and on normalized "
        "inputs (mean and std fitted on the data, `scratch.normalization` / `torch_ref.normalization`). "
        "Each run uses its own safe step 1/L (L bounds the cost's curvature), so the comparison is the "
        "best fixed learning rate for each scaling, not one rate that favours either. Both sides are "
        "drawn (torch thick, NumPy dashed) and agree to the last digits.",
        "",
        *rows,
        "",
        "![cost against iterations](plots/normalization_cost.png)",
        "",
        f"Two features whose scales differ {ratio:.0f}x: the cost J(w1, w2) (b at its optimum) is a long "
        "narrow valley on raw inputs, so gradient descent must take tiny steps along the steep direction "
        "and crawls along the flat one; after normalization the bowl is nearly round (what tilt remains "
        "comes from the correlation "
        "of the two features, which normalization does not remove). Axes are equal in scale.",
        "",
        "![contours of J before and after normalization](plots/normalization_contours.png)",
    ])
    return StudyOutput(markdown, ("plots/normalization_cost.png", "plots/normalization_contours.png"))


register_study(Study("normalization_why", "normalization", "Why normalize inputs: cost curves and contours of J",
                     normalization_study))
