"""Whole training: the learner's ``model`` / ``nn_model`` / ``two_layer_model`` / ``L_layer_model`` and the
course-2 ``model``s next to torch's.

Course 1: the learner's function runs twice in the child: with ``num_iterations=0``, so that it returns its
own starting point, then for real (the course's logistic ``model`` starts from zeros). Torch trains an
``nn.Sequential`` from exactly that starting point with ``torch.optim.SGD`` on
``nn.BCELoss``; the costs (the course records every 100th iteration) and parameters are compared and the
first recorded iteration where they part is reported. ``plot_dir`` writes the loss overlay as a PNG.

Course 2: ``model`` returns only its parameters, so it runs once per checkpoint (``CHECKPOINTS``: the first,
0, is its start) in each configuration (``C2W1_RUNS``: L2, dropout; ``C2W2_RUNS``: gd, momentum, Adam),
and torch's parameters at the same checkpoints are compared; the first checkpoint where they part is
reported with the whole-data cost of both. Torch gets what the course draws: dropout's masks (seed 1,
the same at every iteration) and the mini-batches of each epoch (seed ``10 + epoch + 1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
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
    #: the configuration, where a function is trained in several (the course-2 ``model``s)
    run: str = ""


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
    "two_layer_model": Training("c1w4", "two layers (relu, sigmoid output)", ("relu", "sigmoid"), 0.3),
    "L_layer_model": Training("c1w4", "L layers (relu, sigmoid output)", ("relu", "relu", "sigmoid"), 0.3),
}
LAYERS = {"nn_model": 4, "two_layer_model": (3, 5, 1), "L_layer_model": [3, 5, 3, 1]}


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


def _network(start: Mapping[str, np.ndarray], count: int) -> list[nn.Linear]:
    """``count`` float64 ``nn.Linear`` layers holding ``W{l}``, ``b{l}`` of ``start``."""
    linears = []
    for index in range(1, count + 1):
        W = torch.tensor(start[f"W{index}"], dtype=torch.float64)
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(W)
            linear.bias.copy_(torch.tensor(np.asarray(start[f"b{index}"])[:, 0], dtype=torch.float64))
        linears.append(linear)
    return linears


def _course_params(linears: list[nn.Linear]) -> dict[str, np.ndarray]:
    params = {}
    for index, linear in enumerate(linears, start=1):
        params[f"W{index}"] = linear.weight.detach().numpy().copy()
        params[f"b{index}"] = linear.bias.detach().numpy().copy().reshape(-1, 1)
    return params


def torch_training(X: np.ndarray, Y: np.ndarray, start: Mapping[str, np.ndarray], activations: tuple[str, ...],
                   lr: float, iterations: int) -> tuple[dict[int, float], dict[str, np.ndarray]]:
    """``nn.Sequential`` from ``start``, ``torch.optim.SGD``, ``nn.BCELoss``: costs before each step, final
    parameters in the course's names and shapes."""
    linears = _network(start, len(activations))
    layers: list[nn.Module] = []
    for linear, activation in zip(linears, activations, strict=True):
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
    return costs, _course_params(linears)


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


# --- course 2: ``model`` returns only its parameters, so it is run to several checkpoints -------------


@dataclass(frozen=True)
class Run:
    """One configuration of a course-2 ``model``: the learner's keyword arguments and torch's setting."""

    label: str
    kwargs: dict
    optimizer: str = "gd"
    lambd: float = 0.0
    keep_prob: float = 1.0


#: c2w1: ``model(X, Y, learning_rate, num_iterations, print_cost, lambd, keep_prob)``, full batch, layers
#: ``[n_x, 20, 3, 1]``; checkpoints in iterations.
C2W1_RUNS = (Run("L2 regularization, lambd = 0.7", {"learning_rate": 0.3, "lambd": 0.7}, lambd=0.7),
             Run("dropout, keep_prob = 0.86", {"learning_rate": 0.3, "keep_prob": 0.86}, keep_prob=0.86))
#: c2w2: ``model(X, Y, layers_dims, optimizer, learning_rate, mini_batch_size, beta, beta1, beta2, epsilon,
#: num_epochs, print_cost)``; checkpoints in epochs of 3 mini-batches (16, 16, 8 examples).
C2W2_RUNS = (Run("gd", {"learning_rate": 0.3}),
             Run("momentum", {"learning_rate": 0.3, "beta": 0.9}, optimizer="momentum"),
             Run("adam", {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}, optimizer="adam"))
CHECKPOINTS = {"c2w1": (0, 1, 10, 100), "c2w2": (0, 1, 3, 10)}
C2W2_LAYERS, MINI_BATCH = [3, 5, 2, 1], 16


def _runs(week: str) -> tuple[Run, ...]:
    return C2W1_RUNS if week == "c2w1" else C2W2_RUNS


def _course2_cases(week: str, X: np.ndarray, Y: np.ndarray) -> list[Case]:
    cases = []
    for config in _runs(week):
        for k in CHECKPOINTS[week]:
            if week == "c2w1":
                args, kwargs = (X, Y), config.kwargs | {"num_iterations": k, "print_cost": False}
            else:
                args = (X, Y, C2W2_LAYERS, config.optimizer)
                kwargs = config.kwargs | {"mini_batch_size": MINI_BATCH, "num_epochs": k, "print_cost": False}
            cases.append(Case(f"{config.label}, {k}", args, kwargs))
    return cases


def course_dropout_masks(X: np.ndarray, widths: tuple[int, int], keep_prob: float) -> list[torch.Tensor]:
    """The masks of the course's ``forward_propagation_with_dropout``, the same at every iteration since it
    seeds 1 inside: ``rand(n_1, m) < keep_prob`` then ``rand(n_2, m)``, as ``(m, n)`` tensors."""
    legacy = np.random.RandomState(1)
    return [torch.tensor((legacy.rand(n, X.shape[1]) < keep_prob).astype(float).T) for n in widths]


def course_batches(epoch: int, m: int, size: int) -> list[np.ndarray]:
    """The course's mini-batches of epoch ``epoch`` (from 0): ``seed = 10 + epoch + 1``, one permutation,
    cut every ``size`` columns (the last batch smaller)."""
    permutation = np.random.RandomState(10 + epoch + 1).permutation(m)
    return [permutation[i:i + size] for i in range(0, m, size)]


def _optimizer(run: Run, params: list[torch.Tensor]) -> torch.optim.Optimizer:
    """``torch.optim`` for the course's update: momentum ``v = beta v + (1 - beta) dW`` is ``SGD`` with
    ``lr (1 - beta)`` (its buffer is ``v / (1 - beta)``); the course's Adam is ``torch.optim.Adam``."""
    lr = run.kwargs["learning_rate"]
    if run.optimizer == "momentum":
        beta = run.kwargs["beta"]
        return torch.optim.SGD(params, lr=lr * (1 - beta), momentum=beta)
    if run.optimizer == "adam":
        k = run.kwargs
        return torch.optim.Adam(params, lr=lr, betas=(k["beta1"], k["beta2"]), eps=k["epsilon"])
    return torch.optim.SGD(params, lr=lr)


def _three_layer(linears: list[nn.Linear], inputs: torch.Tensor, masks: list[torch.Tensor] | None = None,
                 keep_prob: float = 1.0) -> torch.Tensor:
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID (examples as rows), inverted dropout on the two
    hidden layers when ``masks`` are given."""
    A = inputs
    for index, linear in enumerate(linears):
        A = torch.sigmoid(linear(A)) if index == len(linears) - 1 else torch.relu(linear(A))
        if masks is not None and index < len(linears) - 1:
            A = A * masks[index] / keep_prob
    return A


def torch_course2(week: str, run: Run, X: np.ndarray, Y: np.ndarray, start: Mapping[str, np.ndarray]
                  ) -> tuple[dict[int, dict[str, np.ndarray]], list[float]]:
    """torch's parameters at each checkpoint and its whole-data cross-entropy after every iteration (c2w1) or
    epoch (c2w2), from ``start``; the L2 term is the cost's ``lambd / (2 m) sum ||W||^2``."""
    linears = _network(start, 3)
    optimizer = _optimizer(run, [p for linear in linears for p in linear.parameters()])
    inputs, targets, m = torch.tensor(X.T), torch.tensor(Y.T), X.shape[1]
    masks = course_dropout_masks(X, (linears[0].out_features, linears[1].out_features), run.keep_prob) \
        if run.keep_prob < 1 else None
    snapshots, curve = {}, []
    for k in range(CHECKPOINTS[week][-1] + 1):
        if k in CHECKPOINTS[week]:
            snapshots[k] = _course_params(linears)
        with torch.no_grad():
            curve.append(float(F.binary_cross_entropy(_three_layer(linears, inputs), targets)))
        batches = [np.arange(m)] if week == "c2w1" else course_batches(k, m, MINI_BATCH)
        for index in batches:
            optimizer.zero_grad()
            cost = F.binary_cross_entropy(_three_layer(linears, inputs[index], masks, run.keep_prob), targets[index])
            if run.lambd:
                cost = cost + run.lambd / (2 * m) * sum((linear.weight ** 2).sum() for linear in linears)
            cost.backward()
            optimizer.step()
    return snapshots, curve


def _read_params(value: object) -> dict[str, np.ndarray]:
    """The parameters a course-2 ``model`` returns (alone, or first in a tuple)."""
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], Mapping):
        value = value[0]
    return {k: np.asarray(v, float) for k, v in value.items()}


def _whole_cost(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    with torch.no_grad():
        A = _three_layer(_network(params, 3), torch.tensor(X.T))
        return float(F.binary_cross_entropy(A, torch.tensor(Y.T)))


def _compare_course2(week: str, run: Run, X: np.ndarray, Y: np.ndarray, calls: list[Call]) -> TrainingResult:
    """The learner's parameters at every checkpoint against torch's from the learner's own start."""
    checkpoints = CHECKPOINTS[week]
    learner = {k: _read_params(call.value) for k, call in zip(checkpoints, calls, strict=True)}
    snapshots, curve = torch_course2(week, run, X, Y, learner[0])
    unit = "iteration" if week == "c2w1" else "epoch"
    costs = [_whole_cost(learner[k], X, Y) for k in checkpoints]
    result = TrainingResult("model", "pass", "", iterations=list(checkpoints), costs_learner=costs,
                            costs_torch=[curve[k] for k in checkpoints], torch_curve=curve, run=run.label)
    for previous, k in zip(checkpoints, checkpoints[1:], strict=False):
        wrong = [name for name, value in snapshots[k].items()
                 if name not in learner[k] or not _close(learner[k][name], value)]
        if wrong:
            result.status = "fail"
            result.detail = (f"the parameters part between {unit}s {previous} and {k}: after {k} {unit}(s) "
                             f"{', '.join(wrong)} differ from torch's; whole-data cost yours "
                             f"{costs[checkpoints.index(k)]:.10g}, torch {curve[k]:.10g}")
            break
    summary = "parameters follow torch's" if result.status == "pass" else "the trajectories part"
    result.summary = f"{run.label}, {checkpoints[-1]} {unit}s (checked after {', '.join(map(str, checkpoints[1:]))}): "
    result.summary += summary
    return result


def plot(result: TrainingResult, directory: Path) -> str:
    """The loss overlay: the learner's recorded costs over torch's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(range(len(result.torch_curve)), result.torch_curve, "-", color="tab:orange", label="torch")
    axes.plot(result.iterations, result.costs_learner, "o", color="tab:blue", fillstyle="none", label="yours")
    title = f"{result.name} ({result.run})" if result.run else result.name
    axes.set(xlabel="iteration", ylabel="cost", title=f"{title}: your costs over torch's")
    axes.legend()
    directory.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "_" for c in result.run.split(",")[0]).strip("_")
    path = directory / (f"{result.name}_{slug}_loss.png" if slug else f"{result.name}_loss.png")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)


#: Every training function's name and the weeks it is checked in.
TRAINING_WEEKS: dict[str, tuple[str, ...]] = {name: (t.week,) for name, t in TRAINING.items()}
TRAINING_WEEKS["model"] += tuple(CHECKPOINTS)


def _failed_to_run(name: str, outcome: list[Call] | str, run: str = "") -> TrainingResult | None:
    if not isinstance(outcome, str) and not any(c.error or c.signature_error for c in outcome):
        return None
    reason = "did not finish in time" if outcome == TIMEOUT else (
        outcome if isinstance(outcome, str) else next(c.error or c.signature_error for c in outcome
                                                      if c.error or c.signature_error))
    return TrainingResult(name, "fail", f"{run + ': ' if run else ''}could not be run",
                          reason.strip().splitlines()[-1], run=run)


def _results(name: str, week: str, X: np.ndarray, Y: np.ndarray, outcome: list[Call] | str
             ) -> list[TrainingResult]:
    if week in CHECKPOINTS:
        size = len(CHECKPOINTS[week])
        parts = [outcome if isinstance(outcome, str) else outcome[i * size:(i + 1) * size]
                 for i in range(len(_runs(week)))]
        pairs = [(config.label, part, lambda config=config, part=part: _compare_course2(week, config, X, Y, part))
                 for config, part in zip(_runs(week), parts, strict=True)]
    else:
        pairs = [("", outcome, lambda: _compare(name, X, Y, outcome))]
    results = []
    for label, part, compare in pairs:
        failed = _failed_to_run(name, part, label)
        if failed is None:
            try:
                failed = compare()
            except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as error:
                failed = TrainingResult(name, "fail", "returned something other than the course's values",
                                        str(error), run=label)
        results.append(failed)
    return results


def check_training(source, found: Mapping[str, list[str]], week: str, time_limit: float,
                   plot_dir: Path | None = None) -> list[TrainingResult]:
    """Train each course model of ``week`` the learner defined and compare it with torch."""
    names = [name for name, weeks in TRAINING_WEEKS.items() if name in found and week in weeks]
    X, Y = training_data()
    jobs = [(name, _course2_cases(week, X, Y) if week in CHECKPOINTS else _cases(name, X, Y)) for name in names]
    calls = run(source, jobs, time_limit) if names else {}
    results = []
    for name in names:
        for result in _results(name, week, X, Y, calls[name]):
            if plot_dir is not None and result.costs_learner and len(result.costs_learner) == len(result.costs_torch):
                result.plot = plot(result, directory=plot_dir)
            results.append(result)
    return results
