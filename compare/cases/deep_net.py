"""L-layer networks: scratch's per-layer forward/backward with caches against ``DeepNet`` + autograd.

Reusable pieces for other concepts (optimizers, regularization, benchmarks):

- :func:`deep_problem` draws data and initial weights for any ``layer_dims`` / activation / initializer;
- :func:`deep_param_map` says which ``nn.Linear`` parameter is which scratch parameter;
- :class:`ScratchDeepNet` (override ``update``) and :class:`TorchDeepNet` (pass ``make_optimizer``) are the
  two trainers, full-batch, on the problem's data.

The registered variants cover depths 2, 4 and 8, each hidden activation, a 512-wide layer and two real or
course datasets, all with ``SGD`` for 200 steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch

import scratch.deep_net as dn
import torch_ref.deep_net as tdn
from compare.core.devices import to_torch, torch_dtype
from compare.core.kinks import Preactivation, scratch_preactivations
from compare.core.problem import Observation, Problem
from compare.core.registry import Case, register
from compare.core.trainers import ParamMap, TorchTrainer, load_parameters
from compare.data import datasets
from scratch.gradient_check import gradient_check_n
from scratch.initialization import check_layer_dims, initialize_parameters

#: Stream of ``np.random.default_rng([seed, INIT_STREAM])``: weights never reuse the data's draws.
INIT_STREAM = 4


def deep_problem(seed: int, dtype: np.dtype, *, layer_dims: Sequence[int], dataset: datasets.Dataset | None = None,
                 m: int | None = None, n_x: int | None = None, hidden_activation: str = "relu", init: str = "he",
                 learning_rate: float = 0.1) -> Problem:
    """Data (``dataset``, or ``m`` generated blobs with ``layer_dims[0]`` features) and initial weights.

    ``layer_dims = [n_x, n_1, ..., n_L]`` includes the input size. ``hyper`` carries ``learning_rate``,
    ``hidden_activation``, ``layer_dims`` and ``init``.
    """
    dims = check_layer_dims(layer_dims)
    dn.check_activation("hidden_activation", hidden_activation)
    if n_x is not None and n_x != dims[0]:
        raise ValueError(f"n_x ({n_x}) must equal layer_dims[0] ({dims[0]})")
    if dataset is None:
        if m is None:
            raise ValueError("deep_problem needs either dataset or m (the number of generated examples)")
        dataset = datasets.make_blobs(m=m, n_x=dims[0], seed=seed)
    elif dataset.n_x != dims[0]:
        raise ValueError(f"layer_dims[0] must equal the dataset's {dataset.n_x} features, got {dims[0]}")
    params = initialize_parameters(dims, method=init, rng=np.random.default_rng([seed, INIT_STREAM]), dtype=dtype)
    data = {"X": np.ascontiguousarray(dataset.X, dtype=dtype), "Y": np.ascontiguousarray(dataset.Y, dtype=dtype)}
    hyper = {"learning_rate": learning_rate, "hidden_activation": hidden_activation, "layer_dims": dims,
             "init": init}
    return Problem(seed, np.dtype(dtype), data, params, hyper)


def deep_param_map(model: tdn.DeepNet) -> list[ParamMap]:
    """``W{l}`` <-> ``linears[l-1].weight`` (same shape), ``b{l}`` ``(n_l, 1)`` <-> ``linears[l-1].bias`` ``(n_l,)``."""
    mapping = []
    for l, linear in enumerate(model.linears, start=1):  # noqa: E741
        mapping.append(ParamMap(f"W{l}", linear.weight))
        mapping.append(ParamMap(f"b{l}", linear.bias, to_scratch=_column, from_scratch=np.ravel))
    return mapping


def _column(vector: np.ndarray) -> np.ndarray:
    return vector.reshape(-1, 1)


def observe_scratch(cost: float, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> Observation:
    """``grad.<name>`` from ``grads["d<name>"]`` and ``param.<name>`` for every parameter."""
    arrays = {f"grad.{name}": grads[f"d{name}"] for name in params}
    arrays.update({f"param.{name}": value for name, value in params.items()})
    return Observation(float(cost), arrays)


class ScratchDeepNet:
    """Full-batch training with :func:`scratch.deep_net.loss_and_grads`; ``update`` is gradient descent.

    Inputs are validated once here; ``step`` runs the unchecked fast path. Subclasses replace ``update``
    (e.g. with an optimizer) and may extend ``observe``.
    """

    def __init__(self, problem: Problem):
        self.X, self.Y = problem.data["X"], problem.data["Y"]
        self.params = problem.fresh_params()
        self.hidden_activation = problem.hyper["hidden_activation"]
        self.learning_rate = problem.hyper["learning_rate"]
        dn.check_inputs(self.X, self.params, self.hidden_activation, self.Y)
        self.grads: dict[str, np.ndarray] = {}
        self.cost = np.nan

    def step(self) -> None:
        self.cost, self.grads = dn.loss_and_grads(self.params, self.X, self.Y,
                                                  hidden_activation=self.hidden_activation, check=False)
        self.update()

    def update(self) -> None:
        dn.update_parameters(self.params, self.grads, self.learning_rate)

    def observe(self) -> Observation:
        return observe_scratch(self.cost, self.params, self.grads)

    def hidden_preactivations(self) -> list[Preactivation] | None:
        return scratch_preactivations(self.params, self.X, self.hidden_activation)

    def adopt_parameters(self, params: dict[str, np.ndarray]) -> None:
        for name, value in self.params.items():
            value[...] = params[name]


def build_torch_model(problem: Problem, device: torch.device) -> tuple[tdn.DeepNet, list[ParamMap]]:
    """A ``DeepNet`` on ``device`` holding the problem's initial parameters, and its parameter map."""
    model = tdn.DeepNet(problem.hyper["layer_dims"], problem.hyper["hidden_activation"],
                        dtype=torch_dtype(problem.dtype), device=device)
    mapping = deep_param_map(model)
    load_parameters(mapping, problem.params)
    return model, mapping


class TorchDeepNet(TorchTrainer):
    """``DeepNet`` + ``BCEWithLogitsLoss`` + ``make_optimizer(model.parameters())`` (default: SGD at the lr)."""

    def __init__(self, problem: Problem, device: torch.device,
                 make_optimizer: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer] | None = None):
        model, mapping = build_torch_model(problem, device)
        loss_fn, optimizer = tdn.make_training(model, learning_rate=problem.hyper["learning_rate"])
        if make_optimizer is not None:
            optimizer = make_optimizer(model.parameters())
        x = to_torch(problem.data["X"], device, transpose=True)
        y = to_torch(problem.data["Y"], device, transpose=True)
        super().__init__(model, loss_fn, optimizer, x, y, mapping)


def gradient_check_point(problem: Problem) -> dict[str, np.ndarray]:
    """The initial weights in float64 with biases drawn from N(0, 0.1^2) instead of zeros.

    With zero biases, an example whose previous-layer ReLU outputs are all 0 gives ``Z = b = 0`` exactly:
    a kink, where the two-sided difference sees half of each slope and disagrees with any derivative
    convention. Random biases put every ``Z`` off the kink (with probability 1), so the check tests the
    backward pass and not the convention.
    """
    rng = np.random.default_rng([problem.seed, INIT_STREAM, 1])
    return {name: (rng.normal(0.0, 0.1, value.shape) if name.startswith("b") else value.astype(np.float64))
            for name, value in problem.params.items()}


def check_gradients(problem: Problem) -> float:
    """Course relative error of the scratch backward pass at :func:`gradient_check_point` (float64)."""
    X, Y = problem.data["X"].astype(np.float64), problem.data["Y"].astype(np.float64)
    params = gradient_check_point(problem)
    activation = problem.hyper["hidden_activation"]
    _, grads = dn.loss_and_grads(params, X, Y, hidden_activation=activation)

    def cost(point: dict[str, np.ndarray]) -> float:
        ZL, _ = dn.L_model_logits(X, point, hidden_activation=activation, check=False)
        return float(dn.cost_from_logits(ZL, Y))

    return gradient_check_n(cost, params, grads)


def breast_cancer_train(seed: int) -> datasets.Dataset:
    """The standardized 80% training split of breast cancer (455 x 30)."""
    train, _ = datasets.train_test_split(datasets.breast_cancer(), seed=seed)
    return datasets.standardize(train)[0]


EQUATIONS = (
    r"Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]}, \qquad A^{[l]} = g(Z^{[l]}) \quad (l < L), "
    r"\qquad A^{[L]} = \sigma(Z^{[L]})",
    r"J = -\frac{1}{m}\sum_{i=1}^{m} y^{(i)}\log a^{[L](i)} + (1 - y^{(i)})\log(1 - a^{[L](i)})",
    r"dZ^{[L]} = A^{[L]} - Y, \qquad dZ^{[l]} = dA^{[l]} \odot g'(Z^{[l]})",
    r"dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T}, \quad db^{[l]} = \frac{1}{m}\sum_i dZ^{[l](i)}, "
    r"\quad dA^{[l-1]} = W^{[l]T} dZ^{[l]}",
    r"W^{[l]} := W^{[l]} - \alpha\, dW^{[l]}, \qquad b^{[l]} := b^{[l]} - \alpha\, db^{[l]}",
)
NOTES = (
    "torch uses nn.BCEWithLogitsLoss on the logits; the scratch side evaluates the same "
    "(1 - y) z - log_sigmoid(z) and backpropagates dZ[L] = A[L] - Y, the course's dA[L] times sigma'(Z[L]) "
    "simplified, so neither side divides by a saturated A[L]. The course carries dA and dZ for the summed "
    "loss and divides by m in dW and db; autograd carries the 1/m of the mean from the logits down. Same "
    "numbers up to rounding. ReLU'(0) = 0 and leaky ReLU'(0) = 0.01 on both sides; the input gradient dA0 "
    "is not computed (torch skips it too). Biases are (n, 1) columns in scratch and (n,) vectors in torch."
)


def _register(variant: str, summary: str, make_problem: Callable[[int, np.dtype], Problem]) -> None:
    register(Case(
        concept="deep_net",
        variant=variant,
        summary=summary,
        make_problem=make_problem,
        scratch=ScratchDeepNet,
        torch=TorchDeepNet,
        gradient_check=check_gradients,
        equations=EQUATIONS,
        notes=NOTES,
        scratch_source=(dn.linear_forward, dn.linear_activation_forward, dn.L_model_forward, dn.linear_backward,
                        dn.linear_activation_backward, dn.L_model_backward, dn.loss_and_grads,
                        dn.update_parameters),
        torch_source=(tdn.DeepNet, tdn.make_training, tdn.train_step),
    ))


def _blobs_variant(activation: str, depth: int, width: int = 16, m: int = 128, n_x: int = 8,
                   learning_rate: float = 0.1) -> None:
    dims = [n_x] + [width] * (depth - 1) + [1]
    init = "he" if activation in ("relu", "leaky_relu") else "xavier"

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        return deep_problem(seed, dtype, layer_dims=dims, m=m, hidden_activation=activation, init=init,
                            learning_rate=learning_rate)

    _register(f"{activation}_depth{depth}" + (f"_width{width}" if width != 16 else ""),
              f"L={depth} {dims} {activation} hidden, {init} init, SGD on {m} x {n_x} blobs", make_problem)


for _activation in dn.HIDDEN_ACTIVATIONS:
    _blobs_variant(_activation, 4)
_blobs_variant("relu", 2)
_blobs_variant("relu", 8)
_blobs_variant("tanh", 8)
_blobs_variant("relu", 2, width=512, m=64)


def _breast_cancer_problem(seed: int, dtype: np.dtype) -> Problem:
    return deep_problem(seed, dtype, layer_dims=[30, 16, 8, 1], dataset=breast_cancer_train(seed),
                        hidden_activation="relu", init="he", learning_rate=0.1)


def _flower_problem(seed: int, dtype: np.dtype) -> Problem:
    return deep_problem(seed, dtype, layer_dims=[2, 8, 8, 1], dataset=datasets.planar_flower(m=400, seed=seed),
                        hidden_activation="tanh", init="xavier", learning_rate=0.5)


def _kinks_problem(seed: int, dtype: np.dtype) -> Problem:
    """Blobs in which every other class-0 example is blank (all features 0, like a row of sparse data with
    no active feature), ReLU [8, 16, 16, 1], He weights and the initialization's zero biases.

    A blank example gives ``Z = W 0 + 0 = 0`` exactly in every hidden layer on the first step, so ReLU's
    derivative *at its kink* decides ``dZ`` there (and so ``db``). The other variants never hit ``Z = 0``
    exactly (continuous data, continuous weights); this one checks ReLU'(0) = 0 against torch and is what
    catches a ``z >= 0`` derivative (tests/test_mutants.py). The blanks share one label on purpose: all
    blanks have the same activations and output 1/2, so their ``dZ[L] = 1/2 - y`` would cancel in ``db``
    if the labels were balanced. After the first update the biases move and the kinks are left behind.
    """
    blobs = datasets.make_blobs(m=128, n_x=8, seed=seed)
    X = blobs.X.copy()
    negatives = np.flatnonzero(blobs.Y[0] == 0)
    X[:, negatives[::2]] = 0.0
    return deep_problem(seed, dtype, layer_dims=[8, 16, 16, 1], dataset=datasets.Dataset("blobs, blank rows", X,
                        blobs.Y), hidden_activation="relu", init="he", learning_rate=0.1)


_register("relu_kinks", "L=3 [8, 16, 16, 1] relu on blobs with blank examples: Z = 0 exactly (ReLU'(0) = 0), SGD",
          _kinks_problem)
_register("breast_cancer", "L=3 [30, 16, 8, 1] relu, he init, SGD on breast cancer (455 x 30, standardized)",
          _breast_cancer_problem)
_register("planar_flower", "L=3 [2, 8, 8, 1] tanh, xavier init, SGD on the planar flower (400 x 2)",
          _flower_problem)
