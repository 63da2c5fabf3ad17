"""The course's signature figure of week 3: the planar flower's decision boundary, drawn for both sides.

The course's network (``[2, 4, 1]`` tanh, small random start, learning rate 1.2, 10 000 steps of full-batch
gradient descent on the 400 flower points) trained once by scratch and once by torch from the same start; each
side's own ``predict`` labels a grid over the plane, and the figure shows the two boundaries side by side with
the data, and how many grid points the two sides label differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import scratch.deep_net as dn  # noqa: E402
import scratch.shallow_net as sn  # noqa: E402
import torch_ref.deep_net as tdn  # noqa: E402
from compare.cases.shallow_net import COURSE_LEARNING_RATE, ScratchShallowNet, TorchShallowNet, shallow_problem  # noqa: E402
from compare.core.devices import to_torch  # noqa: E402
from compare.core.parity import relative_difference  # noqa: E402
from compare.data import datasets  # noqa: E402
from compare.report.studies import Study, StudyContext, StudyOutput, register_study  # noqa: E402

CPU = torch.device("cpu")
#: The course's setting: 4 hidden units, 10 000 steps.
HIDDEN_UNITS, COURSE_STEPS = 4, 10_000
#: Grid points per axis of the plane the boundary is drawn on.
GRID = 250


@dataclass(frozen=True)
class Boundaries:
    """Both sides trained on the flower: the data, the grid, each side's grid labels and accuracy."""

    X: np.ndarray  # (2, m)
    Y: np.ndarray  # (1, m)
    xx: np.ndarray  # (GRID, GRID)
    yy: np.ndarray
    labels: dict[str, np.ndarray]  # side -> (GRID, GRID) labels 0/1
    accuracy: dict[str, float]  # side -> training accuracy
    cost: dict[str, float]  # side -> last cost
    max_rel_param_diff: float
    steps: int

    @property
    def differing(self) -> int:
        """Grid points the two sides label differently."""
        return int(np.count_nonzero(self.labels["scratch"] != self.labels["torch"]))


def plane_grid(X: np.ndarray, points: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """A ``points x points`` grid over the data's bounding box, one unit wider on each side (as the course)."""
    (x_min, y_min), (x_max, y_max) = X.min(axis=1) - 1, X.max(axis=1) + 1
    return np.meshgrid(np.linspace(x_min, x_max, points), np.linspace(y_min, y_max, points))


def train_boundaries(steps: int, *, seed: int = 0, grid: int = GRID) -> Boundaries:
    """Train both sides ``steps`` steps from one start; label the plane with each side's ``predict``."""
    data = datasets.planar_flower(400, seed=seed)
    problem = shallow_problem(seed, np.float64, data, n_h=HIDDEN_UNITS)
    scratch, torch_side = ScratchShallowNet(problem), TorchShallowNet(problem, CPU)
    for _ in range(steps):
        torch_side.step()
        scratch.step()
    xx, yy = plane_grid(data.X, grid)
    plane = np.vstack([xx.ravel(), yy.ravel()])
    scratch_labels = sn.predict(scratch.params, plane)
    torch_labels = tdn.predict(torch_side.model, to_torch(plane, CPU, transpose=True)).numpy().T
    train = {"scratch": sn.predict(scratch.params, data.X),
             "torch": tdn.predict(torch_side.model, to_torch(data.X, CPU, transpose=True)).numpy().T}
    torch_run = torch_side.observe()
    diff = max(relative_difference(scratch.params[key.split(".", 1)[1]], value)[1]
               for key, value in torch_run.arrays.items() if key.startswith("param."))
    return Boundaries(data.X, data.Y, xx, yy,
                      {"scratch": scratch_labels.reshape(xx.shape), "torch": torch_labels.reshape(xx.shape)},
                      {side: dn.accuracy(labels, data.Y) for side, labels in train.items()},
                      {"scratch": scratch.observe().loss, "torch": torch_run.loss}, diff, steps)


def boundary_figure(result: Boundaries) -> plt.Figure:
    """The two sides' boundaries side by side over the flower, as in the course's notebook."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
    for ax, side in zip(axes, ("scratch", "torch"), strict=True):
        ax.contourf(result.xx, result.yy, result.labels[side], levels=[-0.5, 0.5, 1.5], cmap=plt.cm.Spectral,
                    alpha=0.8)
        ax.scatter(result.X[0], result.X[1], c=result.Y[0], cmap=plt.cm.Spectral, s=10, edgecolors="k",
                   linewidths=0.3)
        name = "scratch (NumPy)" if side == "scratch" else "torch (PyTorch)"
        ax.set_title(f"{name}: training accuracy {result.accuracy[side]:.1%}", fontsize=10)
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(f"Decision boundary, [2, {HIDDEN_UNITS}, 1] tanh, lr {COURSE_LEARNING_RATE}, {result.steps} steps: "
                 f"{result.differing} of {result.labels['scratch'].size} grid points labelled differently")
    fig.tight_layout()
    return fig


def decision_boundary_study(ctx: StudyContext) -> StudyOutput:
    result = train_boundaries(ctx.steps(COURSE_STEPS))
    fig = boundary_figure(result)
    fig.savefig(ctx.plot("shallow_net_decision_boundary.png"), dpi=90)
    plt.close(fig)
    markdown = "\n".join([
        f"The course's planar-data network: {HIDDEN_UNITS} tanh hidden units, a small random start, learning rate "
        f"{COURSE_LEARNING_RATE}, {result.steps} steps of full-batch gradient descent on the 400 flower points, "
        "trained once by each side from the same start. Each side labels a "
        f"{result.xx.shape[0]} x {result.xx.shape[1]} grid with its own `predict` (scratch: "
        "`scratch.shallow_net.predict`; torch: `sigmoid(model(x)) > 0.5`).",
        "",
        "| | scratch | torch |",
        "|---|---|---|",
        f"| training accuracy | {result.accuracy['scratch']:.4f} | {result.accuracy['torch']:.4f} |",
        f"| last cost | {result.cost['scratch']:.6f} | {result.cost['torch']:.6f} |",
        "",
        f"Grid points labelled differently: {result.differing} of {result.labels['scratch'].size}; largest "
        f"relative difference of the final parameters: {result.max_rel_param_diff:.1e}. The course reports about "
        "90% accuracy for this network, where logistic regression reaches about 47%: the hidden layer draws the "
        "petals that a single linear boundary cannot.",
        "",
        "![decision boundary of both sides](plots/shallow_net_decision_boundary.png)",
    ])
    return StudyOutput(markdown, ("plots/shallow_net_decision_boundary.png",))


register_study(Study("shallow_net_decision_boundary", "shallow_net", "The planar flower's decision boundary",
                     decision_boundary_study, seconds=12))
