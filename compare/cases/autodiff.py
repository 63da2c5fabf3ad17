"""Computation graphs: the scratch autodiff engine against torch.autograd.

Variants:

- ``add_multiply`` and ``logistic_neuron``: the lectures' two graphs, ``(x + y) z`` and
  ``1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))``. A "step" evaluates the expression and its gradient at the next
  point of a fixed list (the slides' point first, then points drawn uniformly from [-3, 3]); ``loss`` is
  the expression's value, ``grad.<input>`` its gradient, ``param.<input>`` the point.
- ``logistic_regression``: the foundation's logistic regression (breast cancer, same problem and learning
  rate as ``logistic_regression/vectorized``) trained by gradient descent with gradients from the engine,
  against ``nn.Linear`` + ``BCEWithLogitsLoss`` + SGD. Observed keys as in the logistic_regression case.

The studies (graph pictures, parity and speed against the vectorized implementation and torch) are in
:mod:`compare.studies.autodiff_studies`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import scratch.autodiff as ad
import torch_ref.autodiff as tad
import torch_ref.logistic_regression as tlr
from compare.cases.logistic import breast_cancer_problem, torch_logistic_regression
from compare.cases.networks import TORCH_BACKWARD, TORCH_COST, TORCH_UPDATE
from compare.core.devices import to_numpy, to_torch
from compare.core.problem import Observation, Problem
from compare.core.registry import Case, Excerpt, LossPlot, Stage, register
from compare.core.trainers import observation
from scratch.gradient_check import gradient_check_n

#: The slides' points (CS231n 2017, lecture 4, "Backpropagation and Neural Networks").
ADD_MULTIPLY_POINT = {"x": -2.0, "y": 5.0, "z": -4.0}
LOGISTIC_NEURON_POINT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
LECTURE_STEPS = 50


# -- the lecture expressions --------------------------------------------------------------------------
def lecture_problem(point: dict[str, float], seed: int, dtype: np.dtype, steps: int = LECTURE_STEPS) -> Problem:
    """Points (steps, n_inputs): the slides' point, then uniform draws from [-3, 3]."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-3.0, 3.0, (steps, len(point)))
    points[0] = list(point.values())
    params = {name: np.asarray(value, dtype=dtype) for name, value in point.items()}
    return Problem(seed, dtype, {"points": points.astype(dtype)}, params, {"names": tuple(point)})


class ScratchExpression:
    """Evaluates an engine expression and its gradient at the problem's points, one per step."""

    def __init__(self, problem: Problem, expression: Callable[..., ad.Value]):
        self.points, self.names, self.expression = problem.data["points"], problem.hyper["names"], expression
        self.k = -1
        self.out: ad.Value | None = None
        self.grads: dict[str, np.ndarray] = {}

    def step(self) -> None:
        self.k = (self.k + 1) % len(self.points)
        inputs = dict(zip(self.names, self.points[self.k], strict=True))
        self.out, self.grads = ad.value_and_grad(self.expression, inputs)

    def observe(self) -> Observation:
        return observation(self.out.item(), dict(zip(self.names, self.points[self.k], strict=True)), self.grads)


class TorchExpression:
    """The same expression with torch tensors on ``device`` and ``torch.autograd``."""

    def __init__(self, problem: Problem, device: torch.device, expression: Callable[..., torch.Tensor]):
        self.points, self.names, self.expression = to_torch(problem.data["points"], device), problem.hyper[
            "names"], expression
        self.k = -1
        self.out: torch.Tensor | None = None
        self.grads: dict[str, torch.Tensor] = {}

    def step(self) -> None:
        self.k = (self.k + 1) % len(self.points)
        inputs = {name: self.points[self.k, i] for i, name in enumerate(self.names)}
        self.out, self.grads = tad.value_and_grad(self.expression, inputs)

    def observe(self) -> Observation:
        point = {n: to_numpy(self.points[self.k, i]) for i, n in enumerate(self.names)}
        return observation(float(self.out), point, {n: to_numpy(g) for n, g in self.grads.items()})


def expression_gradient_check(point: dict[str, float], expression: Callable[..., ad.Value]
                              ) -> Callable[[Problem], float]:
    """Course relative error of the engine's gradient against central differences at the slides' point."""

    def check(problem: Problem) -> float:
        _, grads = ad.value_and_grad(expression, point)

        def cost(params: dict[str, np.ndarray]) -> float:
            return expression(**{n: ad.Value(v) for n, v in params.items()}).item()

        as_arrays = {n: np.asarray(v, dtype=np.float64) for n, v in point.items()}
        return gradient_check_n(cost, as_arrays, {f"d{n}": np.asarray(g) for n, g in grads.items()})

    return check


#: A lecture variant's "loss" is the expression's value at each of its points: drawn as points, not a curve.
LECTURE_PLOT = LossPlot(value="f(point k)", x="point k (k = 0: the slides' point)", markers=True)
LECTURE_NOTES = (
    "Not a training run: step k evaluates the expression and its gradient at the k-th point (the first is "
    "the slides' point), so the table's loss column is the expression's value. Both sides apply the same "
    "local rules; 1/x is evaluated as torch does, reciprocal(x) * 1. The timing compares one small scalar "
    "graph per step: the engine's per-node Python overhead against torch's per-operator dispatch."
)
for _variant, _point, _scratch, _torch, _equation in (
    ("add_multiply", ADD_MULTIPLY_POINT, ad.add_multiply, tad.add_multiply,
     r"f = (x + y) z, \quad \frac{\partial f}{\partial x} = \frac{\partial f}{\partial y} = z, "
     r"\quad \frac{\partial f}{\partial z} = x + y"),
    ("logistic_neuron", LOGISTIC_NEURON_POINT, ad.logistic_neuron, tad.logistic_neuron,
     r"f = \frac{1}{1 + e^{-(w_0 x_0 + w_1 x_1 + w_2)}}, \quad \frac{d}{dx}\frac{1}{x} = -\frac{1}{x^2}, "
     r"\ \frac{d}{dx}(c + x) = 1, \ \frac{d}{dx}e^{x} = e^{x}, \ \frac{d}{dx}(a x) = a"),
):
    register(Case(
        concept="autodiff",
        variant=_variant,
        summary=f"lecture graph {_variant}: scratch engine vs torch.autograd at {LECTURE_STEPS} points",
        make_problem=lambda seed, dtype, point=_point: lecture_problem(point, seed, dtype),
        scratch=lambda problem, f=_scratch: ScratchExpression(problem, f),
        torch=lambda problem, device, f=_torch: TorchExpression(problem, device, f),
        steps=LECTURE_STEPS,
        gradient_check=expression_gradient_check(_point, _scratch),
        equations=(_equation,),
        notes=LECTURE_NOTES,
        scratch_source=(_scratch, ad.Value.__mul__, ad.Value.__rtruediv__, ad.Value.exp, ad.Value.backward),
        torch_source=(_torch, tad.value_and_grad),
        stages=(Stage("forward (builds the graph)", (_scratch, ad.Value.__mul__, ad.Value.exp), (_torch,)),
                Stage("backward", (ad.Value.backward,), (tad.value_and_grad,))),
        loss_plot=LECTURE_PLOT,
    ))


# -- logistic regression trained through the engine ----------------------------------------------------
class EngineLogisticRegression:
    """Batch gradient descent on logistic regression with gradients from :mod:`scratch.autodiff`."""

    def __init__(self, problem: Problem):
        params = problem.fresh_params()
        self.w, self.b = ad.Value(params["w"], label="w"), ad.Value(params["b"], label="b")
        self.X = ad.Value(problem.data["X"], label="X", requires_grad=False)
        self.Y = problem.data["Y"]
        self.learning_rate = problem.hyper["learning_rate"]
        self.grads: dict[str, np.ndarray] = {}
        self.cost = np.nan

    def step(self) -> None:
        ad.zero_grad((self.w, self.b))  # leaves accumulate: clear last step's gradients
        cost = ad.logistic_regression_cost(self.w, self.b, self.X, self.Y)
        cost.backward()
        self.grads, self.cost = {"w": self.w.grad, "b": self.b.grad}, cost.data
        self.w.data = self.w.data - self.learning_rate * self.w.grad
        self.b.data = self.b.data - self.learning_rate * self.b.grad

    def observe(self) -> Observation:
        return observation(self.cost, {"w": self.w.data, "b": self.b.data}, self.grads)


def check_engine_gradients(problem: Problem) -> float:
    """Course relative error of the engine's gradients at the initial parameters (float64)."""
    X, Y = problem.data["X"].astype(np.float64), problem.data["Y"].astype(np.float64)
    params = {k: v.astype(np.float64) for k, v in problem.params.items()}
    w, b = ad.Value(params["w"]), ad.Value(params["b"])
    ad.logistic_regression_cost(w, b, X, Y).backward()

    def cost(p: dict[str, np.ndarray]) -> float:
        return ad.logistic_regression_cost(ad.Value(p["w"]), ad.Value(p["b"]), X, Y).item()

    return gradient_check_n(cost, params, {"dw": w.grad, "db": np.asarray(b.grad)})


LR_NOTES = (
    "The engine differentiates the composition mean((1 - Y) Z - log(sigmoid(Z))) node by node; the "
    "vectorized scratch version and torch's BCEWithLogitsLoss use the hand-derived dZ = A - Y. The "
    "engine's dZ is (1 - Y)/m - (1 - A)/m: equal in real arithmetic, different rounding (a cancellation "
    "when A is small), still at rounding level. The engine refuses log(0): it needs sigmoid(z) > 0, i.e. "
    "z > -745 in float64 (z > -103 in float32), while the fused loss is finite everywhere."
)
register(Case(
    concept="autodiff",
    variant="logistic_regression",
    summary="logistic regression trained with engine gradients vs nn.Linear + BCEWithLogitsLoss (455 x 30)",
    make_problem=breast_cancer_problem,
    scratch=EngineLogisticRegression,
    torch=torch_logistic_regression,
    gradient_check=check_engine_gradients,
    equations=(r"J = \frac{1}{m}\sum_i \left[ (1 - y^{(i)}) z^{(i)} - \log \sigma(z^{(i)}) \right], "
               r"\quad Z = w^T X + b",),
    notes=LR_NOTES,
    scratch_source=(ad.logistic_regression_cost, EngineLogisticRegression, ad.Value.__matmul__, ad.Value.sum),
    torch_source=(torch_logistic_regression,),
    stages=(
        Stage("forward and cost (the graph)", (ad.logistic_regression_cost, ad.Value.__matmul__, ad.Value.sum),
              (tlr.LogisticRegression, tlr.make_training, TORCH_COST)),
        Stage("backward", (Excerpt(EngineLogisticRegression.step, ("cost.backward()",)), ad.Value.backward),
              (TORCH_BACKWARD,)),
        Stage("update", (Excerpt(EngineLogisticRegression.step, ("ad.zero_grad(", "self.w.data =", "self.b.data =")),),
              (tlr.make_training, TORCH_UPDATE)),
    ),
    notebook=True,
))
