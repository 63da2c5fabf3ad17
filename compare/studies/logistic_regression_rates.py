"""The course's signature figure of week 2: the cost curves of logistic regression for several learning rates.

As in the course's assignment ("Logistic Regression with a Neural Network mindset", 1500 iterations at learning
rates 0.01, 0.001 and 0.0001 on cat pictures), here on breast cancer's standardized training split, both sides
trained from the same start at each rate: the cost per iteration, and train and test accuracy at the end. The
rates reach higher than the course's because standardized features allow it (the course's pixels were only
divided by 255).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import scratch.logistic_regression as lr  # noqa: E402
import torch_ref.logistic_regression as tlr  # noqa: E402
from compare.cases.logistic import ScratchLogisticRegression, logistic_problem, torch_logistic_regression  # noqa: E402
from compare.core.devices import to_torch  # noqa: E402
from compare.core.parity import relative_difference  # noqa: E402
from compare.data import datasets  # noqa: E402
from compare.report.studies import Study, StudyContext, StudyOutput, register_study  # noqa: E402

CPU = torch.device("cpu")
LEARNING_RATES = (1.0, 0.1, 0.01, 0.001, 0.0001)
ITERATIONS = 1500


@dataclass(frozen=True)
class RateRun:
    """Both sides at one learning rate: the cost per iteration and the final accuracies."""

    learning_rate: float
    costs: dict[str, np.ndarray]  # side -> (iterations,)
    accuracy: dict[str, float]  # "scratch train", "torch test", ...

    @property
    def always_fell(self) -> bool:
        """Whether both sides' cost fell (or stayed) at every iteration."""
        return all(bool(np.all(np.diff(costs) <= 0)) for costs in self.costs.values())

    @property
    def max_rel_cost_diff(self) -> float:
        """``max|scratch - torch| / max|torch|`` of the cost curve (the parity tables' loss figure)."""
        return relative_difference(self.costs["scratch"], self.costs["torch"])[1]


def train_at_rates(iterations: int, rates: tuple[float, ...] = LEARNING_RATES, *, seed: int = 0) -> list[RateRun]:
    """Both sides ``iterations`` steps at each rate, from one start; accuracy on the 80/20 split's two parts."""
    train, test = datasets.standardize(*datasets.train_test_split(datasets.breast_cancer(), seed=seed))
    base = logistic_problem(train, seed, np.dtype(np.float64))
    runs = []
    for rate in rates:
        problem = replace(base, hyper={**base.hyper, "learning_rate": rate})
        scratch, torch_side = ScratchLogisticRegression(problem), torch_logistic_regression(problem, CPU)
        costs: dict[str, list[float]] = {"scratch": [], "torch": []}
        for _ in range(iterations):
            for side, trainer in (("torch", torch_side), ("scratch", scratch)):
                trainer.step()
                costs[side].append(trainer.observe().loss)
        accuracy = {}
        for split, data in (("train", train), ("test", test)):
            scratch_labels = lr.predict(scratch.params["w"], scratch.params["b"], data.X)
            torch_labels = tlr.predict(torch_side.model, to_torch(data.X, CPU, transpose=True)).numpy().T
            accuracy[f"scratch {split}"] = float(np.mean(scratch_labels == data.Y))
            accuracy[f"torch {split}"] = float(np.mean(torch_labels == data.Y))
        runs.append(RateRun(rate, {side: np.array(c) for side, c in costs.items()}, accuracy))
    return runs


def rates_figure(runs: list[RateRun]) -> plt.Figure:
    """Cost against iteration, one colour per learning rate: scratch a thin line over torch's wide one."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for index, run in enumerate(runs):
        iterations = np.arange(1, len(run.costs["torch"]) + 1)
        ax.plot(iterations, run.costs["torch"], lw=4, alpha=0.35, color=f"C{index}")
        ax.plot(iterations, run.costs["scratch"], lw=1, color=f"C{index}", label=f"learning rate {run.learning_rate:g}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost J")
    ax.set_title("Logistic regression on breast cancer (455 x 30, standardized):\n"
                 "scratch (thin line) over torch (wide band), one colour per learning rate", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def learning_rates_study(ctx: StudyContext) -> StudyOutput:
    iterations = ctx.steps(ITERATIONS)
    runs = train_at_rates(iterations)
    fig = rates_figure(runs)
    fig.savefig(ctx.plot("logistic_regression_learning_rates.png"), dpi=90)
    plt.close(fig)
    rows = ["| learning rate | final cost scratch / torch | train accuracy scratch / torch | "
            "test accuracy scratch / torch | cost fell at every iteration | max rel. diff of the cost curve |",
            "|---|---|---|---|---|---|"]
    for run in runs:
        a = run.accuracy
        rows.append(f"| {run.learning_rate:g} | {run.costs['scratch'][-1]:.5f} / {run.costs['torch'][-1]:.5f} | "
                    f"{a['scratch train']:.3f} / {a['torch train']:.3f} | {a['scratch test']:.3f} / "
                    f"{a['torch test']:.3f} | {'yes' if run.always_fell else 'no'} | {run.max_rel_cost_diff:.1e} |")
    markdown = "\n".join([
        f"The course's learning-rate experiment: {iterations} iterations of batch gradient descent at each "
        "rate, both sides from the same start (the course: 1500 iterations at 0.01, 0.001 and 0.0001 on cat "
        "pictures). Too small a rate barely moves the cost in that time, a larger one gets lower faster; "
        "a rate too large for the cost's curvature would make it oscillate or grow (the table says whether "
        "it fell at every iteration), and the train/test gap at the end shows how much a run overfits.",
        "",
        *rows,
        "",
        "![cost curves for several learning rates](plots/logistic_regression_learning_rates.png)",
    ])
    return StudyOutput(markdown, ("plots/logistic_regression_learning_rates.png",))


register_study(Study("logistic_regression_learning_rates", "logistic_regression",
                     "Cost curves for several learning rates", learning_rates_study, seconds=7))
