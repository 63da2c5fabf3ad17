"""Whole training: the learner's ``model`` / ``nn_model`` / ``L_layer_model`` next to torch's.

The learner's function runs twice in the child: with ``num_iterations=0``, so that it returns its own
starting point, then for real (the course's logistic ``model`` starts from zeros). Torch trains an
``nn.Sequential`` from exactly that starting point with ``torch.optim.SGD`` on
``nn.BCELoss``; the costs (the course records every 100th iteration) and parameters are compared and the
first recorded iteration where they part is reported. ``plot_dir`` writes the loss overlay as a PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from compare.check.catalogue import Case
from compare.check.runner import TIMEOUT, Call, run
from compare.check.verdict import ATOL, RTOL, as_array

ITERATIONS = 600


@dataclass
class TrainingResult:
    name: str
    status: str
    summary: str
    detail: str = ""
    iterations: list[int] = field(default_factory=list)
    costs_learner: list[float] = field(default_factory=list)
    costs_torch: list[float] = field(default_factory=list)
    #: torch's cost at every iteration, for the plot
    torch_curve: list[float] = field(default_factory=list)
    plot: str | None = None


@dataclass(frozen=True)
class Training:
    """How to call one course training function: data, its two calls, and how to read what it returns."""

    week: str
    title: str
    activations: tuple[str, ...]
    learning_rate: float


def training_data() -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian blobs: ``X`` ``(3, 40)``, ``Y`` ``(1, 40)`` alternating 0 and 1."""
    gen = np.random.default_rng(7)
    m = 40
    Y = (np.arange(m) % 2).reshape(1, m).astype(float)
    X = gen.standard_normal((3, m)) + 1.5 * (2 * Y - 1) * np.array([[1.0], [0.5], [-0.5]])
    return X, Y


TRAINING = {
    "model": Training("c1w2", "logistic regression", ("sigmoid",), 0.05),
    "nn_model": Training("c1w3", "one hidden layer (tanh), learning rate 1.2", ("tanh", "sigmoid"), 1.2),
    "L_layer_model": Training("c1w4", "L layers (relu, sigmoid output)", ("relu", "relu", "sigmoid"), 0.3),
}
LAYERS = {"nn_model": 4, "L_layer_model": [3, 5, 3, 1]}


def _cases(name: str, X: np.ndarray, Y: np.ndarray) -> list[Case]:
    """The start (no learning) and the full run, with the course's positional arguments."""
    if name == "model":
        return [Case("trained", (X, Y, X[:, :5], Y[:, :5], ITERATIONS, TRAINING[name].learning_rate, False))]
    if name == "nn_model":
        return [Case(f"{n} iterations", (X, Y, LAYERS[name], n, False), legacy_seed=3) for n in (0, ITERATIONS)]
    lr = TRAINING[name].learning_rate
    return [Case("start", (X, Y, LAYERS[name], lr, 0, False), legacy_seed=1),
            Case("trained", (X, Y, LAYERS[name], lr, ITERATIONS, False), legacy_seed=1)]


def _read(name: str, value: object) -> tuple[dict[str, np.ndarray], list[float] | None]:
    """``(parameters, recorded costs or None)`` from the course's return value."""
    if name == "model":
        params = {"W1": np.asarray(value["w"], float).T, "b1": np.asarray(value["b"], float).reshape(1, 1)}
        return params, [float(c) for c in value["costs"]]
    if name == "nn_model":
        return {k: np.asarray(v, float) for k, v in value.items()}, None
    params, costs = value
    return {k: np.asarray(v, float) for k, v in params.items()}, [float(c) for c in costs]


def torch_training(X: np.ndarray, Y: np.ndarray, start: Mapping[str, np.ndarray], activations: tuple[str, ...],
                   lr: float, iterations: int) -> tuple[dict[int, float], dict[str, np.ndarray]]:
    """``nn.Sequential`` from ``start``, ``torch.optim.SGD``, ``nn.BCELoss``: costs before each step, final
    parameters in the course's names and shapes."""
    layers: list[nn.Module] = []
    for index, activation in enumerate(activations, start=1):
        W = torch.tensor(start[f"W{index}"], dtype=torch.float64)
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(W)
            linear.bias.copy_(torch.tensor(start[f"b{index}"][:, 0], dtype=torch.float64))
        layers += [linear, {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[activation]]
    net = nn.Sequential(*layers)
    inputs, targets = torch.tensor(X.T), torch.tensor(Y.T)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.BCELoss()
    costs = {}
    for i in range(iterations):
        optimizer.zero_grad()
        loss = loss_fn(net(inputs), targets)
        loss.backward()
        optimizer.step()
        costs[i] = float(loss.detach())
    linears = [layer for layer in net if isinstance(layer, nn.Linear)]
    params = {}
    for index, linear in enumerate(linears, start=1):
        params[f"W{index}"] = linear.weight.detach().numpy().copy()
        params[f"b{index}"] = linear.bias.detach().numpy().copy().reshape(-1, 1)
    return costs, params


def _close(got: object, expected: np.ndarray) -> bool:
    got = as_array(got)
    if got is None or got.shape != expected.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(expected))))
    return bool(np.all(np.abs(got - expected) <= 1e3 * (RTOL * np.abs(expected) + ATOL * scale)))


def _compare(name: str, X, Y, calls: list[Call]) -> TrainingResult:
    spec = TRAINING[name]
    if name == "model":
        start = {"W1": np.zeros((1, X.shape[0])), "b1": np.zeros((1, 1))}
        params, costs = _read(name, calls[0].value)
    else:
        start, _ = _read(name, calls[0].value)
        params, costs = _read(name, calls[1].value)
    torch_costs, torch_params = torch_training(X, Y, start, spec.activations, spec.learning_rate, ITERATIONS)
    recorded = list(range(0, ITERATIONS, 100))
    result = TrainingResult(name, "pass", "", iterations=recorded if costs is not None else [],
                            costs_learner=costs or [], costs_torch=[torch_costs[i] for i in recorded] if costs else [],
                            torch_curve=[torch_costs[i] for i in range(ITERATIONS)])
    problems = []
    if costs is not None:
        if len(costs) != len(recorded):
            problems.append(f"{len(costs)} recorded costs; the course records {len(recorded)} "
                            f"(iterations {recorded[0]}, {recorded[1]}, ...)")
        else:
            parted = next((i for i, c in zip(recorded, costs, strict=True)
                           if not _close(c, np.asarray(torch_costs[i]))), None)
            if parted is not None:
                problems.append(f"the costs part at iteration {parted}: yours {costs[recorded.index(parted)]:.10g}, "
                                f"torch {torch_costs[parted]:.10g}")
    wrong = [k for k in torch_params if k not in params or not _close(params[k], torch_params[k])]
    if wrong:
        problems.append(f"after {ITERATIONS} iterations these parameters differ from torch's: {', '.join(wrong)}")
    if problems:
        result.status, result.detail = "fail", "\n".join(problems)
    result.summary = (f"{spec.title}, {ITERATIONS} iterations: " +
                      ("costs and parameters follow torch's" if not problems else "the trajectories part"))
    return result


def plot(result: TrainingResult, directory: Path) -> str:
    """The loss overlay: the learner's recorded costs over torch's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(range(len(result.torch_curve)), result.torch_curve, "-", color="tab:orange", label="torch")
    axes.plot(result.iterations, result.costs_learner, "o", color="tab:blue", fillstyle="none", label="yours")
    axes.set(xlabel="iteration", ylabel="cost", title=f"{result.name}: your costs over torch's")
    axes.legend()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.name}_loss.png"
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)


def check_training(source, found: Mapping[str, list[str]], week: str, time_limit: float,
                   plot_dir: Path | None = None) -> list[TrainingResult]:
    """Train each course model of ``week`` the learner defined and compare it with torch."""
    names = [name for name, training in TRAINING.items() if name in found and training.week == week]
    X, Y = training_data()
    results = []
    calls = run(source, [(name, _cases(name, X, Y)) for name in names], time_limit) if names else {}
    for name in names:
        outcome = calls[name]
        if isinstance(outcome, str) or any(c.error or c.signature_error for c in outcome):
            reason = "did not finish in time" if outcome == TIMEOUT else (
                outcome if isinstance(outcome, str) else next(c.error or c.signature_error for c in outcome
                                                              if c.error or c.signature_error))
            results.append(TrainingResult(name, "fail", "could not be run", reason.strip().splitlines()[-1]))
            continue
        try:
            result = _compare(name, X, Y, outcome)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            result = TrainingResult(name, "fail", "returned something other than the course's values", str(error))
        if plot_dir is not None and result.costs_learner and len(result.costs_learner) == len(result.costs_torch):
            result.plot = plot(result, plot_dir)
        results.append(result)
    return results
