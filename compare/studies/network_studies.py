"""Report studies for shallow and deep networks: why zeros fail (symmetry), and accuracy at convergence.

No parity cases here (those are in ``deep_net.py``, ``shallow_net.py`` and ``softmax.py``); both studies
train the scratch and the torch side from the same problem with the harness's trainers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import scratch.deep_net as dn
import scratch.softmax as sm
import torch_ref.deep_net as tdn
import torch_ref.softmax as tsm
from compare.cases.networks import ScratchDeepNet, TorchDeepNet, deep_problem
from compare.cases.shallow_net import ScratchShallowNet, TorchShallowNet, shallow_problem
from compare.cases.softmax import ScratchSoftmaxNet, TorchSoftmaxNet, digits_split, softmax_problem
from compare.core.devices import to_torch
from compare.core.parity import relative_difference
from compare.core.problem import Problem
from compare.data import datasets
from compare.report.studies import Study, StudyContext, StudyOutput, register_study

CPU = torch.device("cpu")

# --- zero initialization: symmetric hidden units ------------------------------------------------------

SYMMETRY_LAYERS = [2, 6, 1]
SYMMETRY_CONFIGS = (("tanh", "zeros"), ("sigmoid", "zeros"), ("tanh", "small"), ("tanh", "he"))


def hidden_unit_spread(W1: np.ndarray) -> float:
    """``max_i max_j |W1[i, j] - W1[0, j]|``: 0 exactly when every hidden unit has the same weights."""
    return float(np.max(np.abs(W1 - W1[:1])))


@dataclass
class SymmetryRun:
    """One side's cost and hidden-unit spread per step, and its final parameters."""

    costs: list[float]
    spreads: list[float]
    params: dict[str, np.ndarray]


def symmetry_data(seed: int = 0) -> datasets.Dataset:
    """The 80% training split of the planar flower (320 points).

    Not the whole flower: its classes are exactly balanced, so at a zero start ``mean(A2 - Y) = 0`` and
    every gradient vanishes, an unstable stationary point that the last bit of rounding decides to
    leave or not (measured: NumPy's sum gives exactly 0 and stays, torch's does not and leaves).
    The split is not balanced, so zeros give a real, deterministic training run.
    """
    return datasets.train_test_split(datasets.planar_flower(400, seed=seed), seed=seed)[0]


def symmetry_problem(activation: str, init: str, *, seed: int = 0, learning_rate: float = 1.2) -> Problem:
    """``[2, 6, 1]`` with ``activation`` hidden units on :func:`symmetry_data`, weights from ``init``."""
    return deep_problem(seed, np.float64, layer_dims=SYMMETRY_LAYERS, dataset=symmetry_data(seed),
                        hidden_activation=activation, init=init, learning_rate=learning_rate)


def train_observed(problem: Problem, steps: int) -> dict[str, SymmetryRun]:
    """Gradient descent on both sides, recording the cost and ``hidden_unit_spread(W1)`` after every step."""
    runs = {}
    for side, trainer in (("scratch", ScratchDeepNet(problem)), ("torch", TorchDeepNet(problem, CPU))):
        costs, spreads = [], []
        for _ in range(steps):
            trainer.step()
            observation = trainer.observe()
            costs.append(observation.loss)
            spreads.append(hidden_unit_spread(observation.arrays["param.W1"]))
        params = {key.split(".", 1)[1]: value for key, value in trainer.observe().arrays.items()
                  if key.startswith("param.")}
        runs[side] = SymmetryRun(costs, spreads, params)
    return runs


def _train_accuracy(problem: Problem, params: dict[str, np.ndarray]) -> float:
    predictions = dn.predict(problem.data["X"], params, hidden_activation=problem.hyper["hidden_activation"])
    return dn.accuracy(predictions, problem.data["Y"])


def _first_asymmetric_step(run: SymmetryRun) -> str:
    steps = np.flatnonzero(np.array(run.spreads) > 0)
    return str(steps[0] + 1) if steps.size else "never"


def zero_init_study(ctx: StudyContext) -> StudyOutput:
    import matplotlib.pyplot as plt

    steps = ctx.steps(2000)
    data = symmetry_data()
    rows = ["| hidden | init | final cost scratch / torch | train accuracy scratch / torch | distinct hidden units "
            "scratch / torch | first step with unequal rows scratch / torch | max spread of W1 rows scratch / torch | "
            "max rel. param diff |", "|---|---|---|---|---|---|---|---|"]
    fig, (ax_cost, ax_spread) = plt.subplots(1, 2, figsize=(10, 3.8))
    for index, (activation, init) in enumerate(ctx.track(SYMMETRY_CONFIGS, "zero vs random init")):
        problem = symmetry_problem(activation, init)
        runs = train_observed(problem, steps)
        scratch_run, torch_run = runs["scratch"], runs["torch"]
        diff = max(relative_difference(scratch_run.params[name], torch_run.params[name])[1]
                   for name in scratch_run.params)
        units = [len(np.unique(run.params["W1"], axis=0)) for run in (scratch_run, torch_run)]
        rows.append(f"| {activation} | {init} | {scratch_run.costs[-1]:.4f} / {torch_run.costs[-1]:.4f} | "
                    f"{_train_accuracy(problem, scratch_run.params):.3f} / "
                    f"{_train_accuracy(problem, torch_run.params):.3f} | "
                    f"{units[0]} / {units[1]} of {SYMMETRY_LAYERS[1]} | "
                    f"{_first_asymmetric_step(scratch_run)} / {_first_asymmetric_step(torch_run)} | "
                    f"{scratch_run.spreads[-1]:.3g} / {torch_run.spreads[-1]:.3g} | {diff:.1e} |")
        for side, run in runs.items():
            style = "-" if side == "scratch" else ":"
            label = f"{activation}, {init} ({side})"
            ax_cost.plot(run.costs, style, color=f"C{index}", label=label)
            ax_spread.plot(run.spreads, style, color=f"C{index}", label=label)
    ax_cost.set_xlabel("step")
    ax_cost.set_ylabel("cost J")
    ax_spread.set_xlabel("step")
    ax_spread.set_ylabel("max |W1[i, :] - W1[0, :]|")
    ax_spread.set_yscale("symlog", linthresh=1e-17)
    ax_spread.legend(fontsize=6)
    fig.suptitle(f"planar flower (train split), {SYMMETRY_LAYERS}, lr 1.2, {steps} steps (scratch solid, torch dotted)")
    fig.tight_layout()
    fig.savefig(ctx.plot("zero_init_symmetry.png"), dpi=90)
    plt.close(fig)
    markdown = "\n".join([
        "With all weights zero, every hidden unit computes the same function and receives the same gradient, "
        "so in exact arithmetic the units stay identical for ever: the layer behaves like a single unit. With "
        "tanh (tanh(0) = 0) the gradients of W1 and W2 are exactly zero and only b2 learns. With sigmoid "
        "(sigmoid(0) = 1/2) the units move, in lock step. A random start (small N(0, 0.01^2) or He) breaks "
        "the symmetry and learns the flower.",
        "",
        "Floating point adds a twist the table measures (first step with unequal rows): the symmetric "
        "state is unstable, so any asymmetry grows. torch computes identical rows identically here and stays "
        "exactly symmetric; NumPy's BLAS rounds identical columns of a product differently (its kernels "
        "handle blocks of columns and the remainder separately), which leaves a 1e-17 difference after a "
        "couple of steps that training amplifies to O(1) within about a thousand steps. A zero start is "
        "therefore a trap in exact arithmetic and a very slow, accidental escape in floating point, never a "
        "way to train. tests/test_network_studies.py asserts the symmetry (rows equal to rounding after 100 "
        "steps) for zeros and its absence for random starts, on both sides.",
        "",
        f"Data: the planar flower's 80% training split ({data.describe()}). On the whole, exactly balanced "
        "flower, mean(A2 - Y) = 0 at the zero start, so every gradient is exactly zero: an unstable "
        "stationary point that the last bit of rounding decides to leave or not (NumPy's sum stays at 0, "
        "torch's does not), after which the two sides follow different, still symmetric, trajectories.",
        "",
        *rows,
        "",
        "![zero initialization](plots/zero_init_symmetry.png)",
    ])
    return StudyOutput(markdown, ("plots/zero_init_symmetry.png",))


register_study(Study("zero_initialization", "deep_net", "Zero initialization: symmetric hidden units stay identical",
                     zero_init_study, seconds=11))


# --- accuracy at convergence ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AccuracySetting:
    """A model on a train/test split; ``steps`` of full-batch gradient descent."""

    name: str
    model: str
    steps: int


def _binary_accuracies(scratch, torch_side, problem: Problem, test: datasets.Dataset) -> dict[str, float]:
    activation = problem.hyper["hidden_activation"]
    X_test = test.X.astype(problem.dtype)
    result = {}
    for split, X, Y in (("train", problem.data["X"], problem.data["Y"]), ("test", X_test, test.Y)):
        result[f"scratch {split}"] = dn.accuracy(dn.predict(X, scratch.params, hidden_activation=activation), Y)
        labels = tdn.predict(torch_side.model, to_torch(X, CPU, transpose=True)).numpy().T
        result[f"torch {split}"] = dn.accuracy(labels, Y)
    return result


def _softmax_accuracies(scratch, torch_side, problem: Problem, test: datasets.Dataset) -> dict[str, float]:
    activation = problem.hyper["hidden_activation"]
    result = {}
    for split, X, labels in (("train", problem.data["X"], problem.data["Y"]), ("test", test.X, test.Y)):
        result[f"scratch {split}"] = sm.accuracy(sm.predict(X, scratch.params, hidden_activation=activation), labels)
        result[f"torch {split}"] = sm.accuracy(tsm.predict(torch_side.model, to_torch(X, CPU, transpose=True)).numpy(),
                                               labels)
    return result


def _accuracy_problem(name: str, seed: int) -> tuple[Problem, datasets.Dataset, type, type, object]:
    """The training problem, the test set, the two trainer classes and the accuracy function."""
    if name.startswith("planar_flower"):
        train, test = datasets.train_test_split(datasets.planar_flower(400, seed=seed), seed=seed)
        if name == "planar_flower_shallow":
            problem = shallow_problem(seed, np.float64, train, n_h=4)
            return problem, test, ScratchShallowNet, TorchShallowNet, _binary_accuracies
        problem = deep_problem(seed, np.float64, layer_dims=[2, 8, 8, 1], dataset=train, hidden_activation="tanh",
                               init="xavier", learning_rate=0.5)
        return problem, test, ScratchDeepNet, TorchDeepNet, _binary_accuracies
    if name == "breast_cancer_deep":
        train, test = datasets.standardize(*datasets.train_test_split(datasets.breast_cancer(), seed=seed))
        problem = deep_problem(seed, np.float64, layer_dims=[30, 16, 8, 1], dataset=train, hidden_activation="relu",
                               init="he", learning_rate=0.1)
        return problem, test, ScratchDeepNet, TorchDeepNet, _binary_accuracies
    train, test = digits_split(seed)
    problem = softmax_problem(seed, np.float64, train, layer_dims=[64, 32, 10], hidden_activation="tanh",
                              init="xavier", learning_rate=0.1)
    return problem, test, ScratchSoftmaxNet, TorchSoftmaxNet, _softmax_accuracies


ACCURACY_SETTINGS = (
    AccuracySetting("planar_flower_shallow", "[2, 4, 1] tanh, small init, lr 1.2 (the course's network)", 5000),
    AccuracySetting("planar_flower_deep", "[2, 8, 8, 1] tanh, xavier init, lr 0.5", 5000),
    AccuracySetting("breast_cancer_deep", "[30, 16, 8, 1] relu, he init, lr 0.1 (standardized)", 1000),
    AccuracySetting("digits_softmax", "[64, 32, 10] tanh + softmax, xavier init, lr 0.1 (standardized)", 500),
)


def train_to_convergence(setting: AccuracySetting, *, steps: int, seed: int = 0) -> dict[str, float]:
    """Train both sides ``steps`` steps; train/test accuracy per side, final costs and parameter difference."""
    problem, test, scratch_cls, torch_cls, accuracies = _accuracy_problem(setting.name, seed)
    scratch, torch_side = scratch_cls(problem), torch_cls(problem, CPU)
    for _ in range(steps):
        torch_side.step()
        scratch.step()
    scratch_run, torch_run = scratch.observe(), torch_side.observe()
    result = accuracies(scratch, torch_side, problem, test)
    result["scratch cost"], result["torch cost"] = scratch_run.loss, torch_run.loss
    result["max rel param diff"] = max(relative_difference(scratch_run.arrays[key], torch_run.arrays[key])[1]
                                       for key in scratch_run.arrays if key.startswith("param."))
    result["m train"], result["m test"] = problem.data["X"].shape[1], test.m
    return result


def accuracy_study(ctx: StudyContext) -> StudyOutput:
    rows = ["| data (train / test) | model | steps | scratch train | torch train | scratch test | torch test | "
            "final cost scratch / torch | max rel. param diff |",
            "|---|---|---|---|---|---|---|---|---|"]
    for setting in ctx.track(ACCURACY_SETTINGS, "networks to convergence"):
        steps = ctx.steps(setting.steps)
        r = train_to_convergence(setting, steps=steps)
        rows.append(f"| {setting.name} ({r['m train']} / {r['m test']}) | {setting.model} | {steps} | "
                    f"{r['scratch train']:.3f} | {r['torch train']:.3f} | {r['scratch test']:.3f} | "
                    f"{r['torch test']:.3f} | {r['scratch cost']:.4f} / {r['torch cost']:.4f} | "
                    f"{r['max rel param diff']:.1e} |")
    markdown = "\n".join([
        "Both implementations trained from the same initial weights with full-batch gradient descent on a "
        "seeded 80/20 train/test split (seed 0; breast cancer and digits standardized with the training "
        "statistics). Accuracies are computed from each side's own final parameters: scratch with "
        "scratch's predict, torch with the nn.Module's forward.",
        "",
        *rows,
    ])
    return StudyOutput(markdown)


register_study(Study("deep_net_accuracy", "deep_net", "Shallow, deep and softmax networks trained to convergence",
                     accuracy_study, seconds=25))
