"""Report studies for regularization and splits: L2 vs weight decay (SGD, Adam, AdamW) and bias/variance.

No parity cases here (those are in ``regularization.py``); this module only registers studies.
"""

from __future__ import annotations

import numpy as np
import torch

import scratch.deep_net as deep_net
import scratch.regularization as reg
import torch_ref.regularization as treg
from compare.cases.networks import deep_param_map
from compare.core.parity import relative_difference
from compare.core.trainers import load_parameters
from compare.data import datasets
from compare.data.splits import diagnose_bias_variance, train_dev_test_split
from compare.report.studies import Study, StudyOutput, register_study
from scratch.initialization import initialize_parameters
from torch_ref.deep_net import DeepNet

# --- L2 penalty vs weight decay -------------------------------------------------------------------------

CONFIGS = (  # (label, optimizer, penalty in the loss, weight_decay in the optimizer)
    ("SGD + L2 penalty", "sgd", True, False),
    ("SGD(weight_decay=lambda/m)", "sgd", False, True),
    ("Adam + L2 penalty", "adam", True, False),
    ("Adam(weight_decay=lambda/m)", "adam", False, True),
    ("AdamW(weight_decay=lambda/m)", "adamw", False, True),
)


def _train(config: tuple[str, str, bool, bool], params: dict[str, np.ndarray], x: torch.Tensor, y: torch.Tensor,
           *, lambd: float, lr: float, steps: int) -> tuple[np.ndarray, list[float]]:
    """Train a fresh DeepNet from ``params``; returns the final flat parameters and sum ||W||^2 per step."""
    _, optimizer_name, penalty, decay = config
    model = DeepNet([x.shape[1], 16, 8, 1], hidden_activation="relu", dtype=torch.float64)
    load_parameters(deep_param_map(model), params)
    m = x.shape[0]
    optimizer = treg.make_optimizer(optimizer_name, treg.decay_groups(model, lambd / m if decay else 0.0), lr=lr)
    loss_fn = treg.PenalizedLoss(model, m=m, l2=lambd if penalty else 0.0)
    norms = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        norms.append(float(sum(w.detach().square().sum() for w in treg.weights(model))))
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()]), norms


def weight_decay_study(ctx) -> StudyOutput:
    import matplotlib.pyplot as plt

    steps, lambd = ctx.steps(500), 20.0
    data = datasets.two_moons(200, seed=0, noise=0.25)
    x, y = torch.from_numpy(data.X.T.copy()), torch.from_numpy(data.Y.T.copy())
    params = initialize_parameters([2, 16, 8, 1], method="he", rng=np.random.default_rng(0), dtype=np.float64)
    results = {}
    for config in ctx.track(CONFIGS, "weight decay vs L2"):
        lr = 0.3 if config[1] == "sgd" else 0.01
        results[config[0]] = _train(config, params, x, y, lambd=lambd, lr=lr, steps=steps)
    pairs = (("SGD(weight_decay=lambda/m)", "SGD + L2 penalty"), ("Adam(weight_decay=lambda/m)", "Adam + L2 penalty"),
             ("AdamW(weight_decay=lambda/m)", "Adam + L2 penalty"))
    rows = ["| compared | with | max rel. parameter difference after " + str(steps) + " steps |", "|---|---|---|"]
    for a, b in pairs:
        rows.append(f"| {a} | {b} | {relative_difference(results[a][0], results[b][0])[1]:.1e} |")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, (_, norms) in results.items():
        ax.plot(norms, label=label, lw=2 if "penalty" in label else 1, ls="-" if "penalty" in label else "--")
    ax.set_xlabel("step")
    ax.set_ylabel("sum of ||W[l]||_F^2")
    ax.set_title(f"two moons, [2, 16, 8, 1], lambda = {lambd}, m = {data.m}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ctx.plot("weight_decay.png"), dpi=90)
    plt.close(fig)
    final = {label: norms[-1] for label, (_, norms) in results.items()}
    markdown = "\n".join([
        f"The same network and initial weights trained {steps} steps with the course's L2 penalty "
        f"lambda/(2m) sum ||W||^2 (lambda = {lambd}) in the loss, or with the optimizer's weight_decay = "
        "lambda/m on the weights (biases never decayed). Under SGD the two are the same update, "
        "W <- W - lr (dW + (lambda/m) W), and agree to rounding. torch's Adam(weight_decay) is also the "
        "coupled L2 form (it adds wd W to the gradient before the adaptive scaling), so it matches the "
        "penalty. AdamW decays W <- W - lr wd W outside the adaptive step (decoupled weight decay): a "
        "different algorithm, so L2 regularization and weight decay are NOT the same thing under Adam.",
        "",
        *rows,
        "",
        "Final sum ||W||^2: " + ", ".join(f"{label} {value:.3f}" for label, value in final.items()) + ".",
        "",
        "![weight norms](plots/weight_decay.png)",
    ])
    return StudyOutput(markdown, ("plots/weight_decay.png",))


register_study(Study("weight_decay_vs_l2", "regularization", "L2 penalty vs weight decay under SGD, Adam and AdamW",
                     weight_decay_study, seconds=4))


# --- bias and variance ----------------------------------------------------------------------------------

def _error(params: dict[str, np.ndarray], data: datasets.Dataset) -> float:
    probabilities = deep_net.L_model_forward(data.X, params, hidden_activation="relu")[0]
    return float(np.mean((probabilities > 0.5) != (data.Y == 1)))


def _fit_both(layer_dims: list[int], train: datasets.Dataset, *, lr: float, steps: int, l2: float = 0.0
              ) -> tuple[dict[str, np.ndarray], DeepNet]:
    """Full-batch GD from the same He initialization with scratch and with torch SGD."""
    params = initialize_parameters(layer_dims, method="he", rng=np.random.default_rng(1), dtype=np.float64)
    model = DeepNet(layer_dims, hidden_activation="relu", dtype=torch.float64)
    load_parameters(deep_param_map(model), params)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = treg.PenalizedLoss(model, m=train.m, l2=l2)
    x, y = torch.from_numpy(train.X.T.copy()), torch.from_numpy(train.Y.T.copy())
    params = {k: v.copy() for k, v in params.items()}
    for _ in range(steps):
        _, grads = reg.regularized_loss_and_grads(params, train.X, train.Y, hidden_activation="relu", l2=l2)
        for name in params:
            params[name] -= lr * grads[f"d{name}"]
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return params, model


def _torch_error(model: DeepNet, data: datasets.Dataset) -> float:
    with torch.no_grad():
        logits = model(torch.from_numpy(data.X.T.copy())).numpy().T
    return float(np.mean((logits > 0) != (data.Y == 1)))


def bias_variance_study(ctx) -> StudyOutput:
    steps = ctx.steps(4000)
    data = datasets.two_moons(300, seed=2, noise=0.35)
    split = train_dev_test_split(data, (0.6, 0.2, 0.2), seed=0, stratified=True)
    models = (("small: logistic regression [2, 1]", [2, 1], 0.0),
              ("large: [2, 128, 128, 1]", [2, 128, 128, 1], 0.0),
              ("large + L2 (lambda = 1.5)", [2, 128, 128, 1], 1.5))
    rows = ["| model | train error | dev error | diagnosis | torch train / dev error |", "|---|---|---|---|---|"]
    for label, dims, l2 in ctx.track(models, "bias and variance"):
        params, model = _fit_both(dims, split.train, lr=0.5, steps=steps, l2=l2)
        train_error, dev_error = _error(params, split.train), _error(params, split.dev)
        diagnosis = diagnose_bias_variance(train_error, dev_error, threshold=0.02)
        rows.append(f"| {label} | {train_error:.1%} | {dev_error:.1%} | {diagnosis.describe()} | "
                    f"{_torch_error(model, split.train):.1%} / {_torch_error(model, split.dev):.1%} |")
    markdown = "\n".join([
        f"Two moons with noise 0.35, split 60/20/20 (stratified, seed 0): {split.train.m} / {split.dev.m} / "
        f"{split.test.m} examples. Each model is trained by full-batch gradient descent ({steps} steps, "
        "rate 0.5) from the same He initialization on both sides; the diagnosis compares train error with the "
        "base error (taken as 0: the classes overlap, so the true Bayes error is above 0 and the avoidable "
        "bias is overstated) and dev error with train error, each against a 2-point threshold. The test set "
        "is left untouched for a final unbiased estimate.",
        "",
        *rows,
    ])
    return StudyOutput(markdown)


register_study(Study("bias_variance", "regularization", "Train/dev/test split and the bias/variance diagnosis",
                     bias_variance_study, seconds=52))
