"""Dense networks shared by the network cases (deep_net, shallow_net, softmax, optim, regularization).

- :func:`deep_problem` draws data and initial weights for any ``layer_dims`` / activation / initializer;
- :func:`deep_param_map` says which ``nn.Linear`` parameter is which scratch parameter;
- :class:`ScratchDeepNet` (override ``update`` or ``loss_and_grads``) and :class:`TorchDeepNet` (pass
  ``make_optimizer``) are the two trainers, full-batch, on the problem's data; both are kink-watched when
  the hidden units are ReLU or leaky ReLU;
- :func:`gradient_check_point`, :func:`check_logit_model_gradients` and :func:`check_gradients` run the
  course's gradient check;
- :func:`training_stages` pairs a scratch training step with ``torch_ref.training.train_step``, stage by stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch

import scratch.deep_net as dn
import torch_ref.deep_net as tdn
from compare.core.devices import to_torch, torch_dtype
from compare.core.kinks import Preactivation, preactivation
from compare.core.problem import Problem, initial_parameters_rng
from compare.core.registry import Excerpt, Stage
from compare.core.trainers import ParamMap, ScratchTrainer, TorchTrainer, load_parameters
from compare.data import datasets
from scratch.gradient_check import gradient_check_n
from scratch.initialization import check_layer_dims, initialize_parameters
from torch_ref.training import train_step

#: The lines of ``train_step`` that are the cost, the backward pass and the update of every torch side using it.
TORCH_COST = Excerpt(train_step, ("loss = loss_fn(model(x), y)",))
TORCH_BACKWARD = Excerpt(train_step, ("loss.backward()",))
TORCH_UPDATE = Excerpt(train_step, ("optimizer.zero_grad()", "optimizer.step()"))


def training_stages(*, forward: Sequence[object], cost: Sequence[object], backward: Sequence[object],
                    update: Sequence[object], torch_model: Sequence[object], torch_training: Sequence[object] = ()
                    ) -> tuple[Stage, ...]:
    """Forward, cost, backward and update of a scratch step beside ``train_step``'s lines: the torch model's
    ``forward`` (``torch_model``), the loss and optimizer it is trained with (``torch_training``, e.g.
    ``make_training``), ``loss.backward()`` and ``optimizer.step()``."""
    return (Stage("forward", tuple(forward), tuple(torch_model)),
            Stage("cost", tuple(cost), (*torch_training, TORCH_COST)),
            Stage("backward", tuple(backward), (TORCH_BACKWARD,)),
            Stage("update", tuple(update), (*torch_training, TORCH_UPDATE)))


#: Hidden activations with a kink at 0.
PIECEWISE_LINEAR = ("relu", "leaky_relu")


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
    params = initialize_parameters(dims, method=init, rng=initial_parameters_rng(seed), dtype=dtype)
    data = {"X": np.ascontiguousarray(dataset.X, dtype=dtype), "Y": np.ascontiguousarray(dataset.Y, dtype=dtype)}
    hyper = {"learning_rate": learning_rate, "hidden_activation": hidden_activation, "layer_dims": dims,
             "init": init}
    return Problem(seed, np.dtype(dtype), data, params, hyper)


def deep_param_map(model: torch.nn.Module) -> list[ParamMap]:
    """``W{l}`` <-> ``linears[l-1].weight`` (same shape), ``b{l}`` ``(n_l, 1)`` <-> ``linears[l-1].bias`` ``(n_l,)``."""
    mapping = []
    for l, linear in enumerate(model.linears, start=1):  # noqa: E741
        mapping.append(ParamMap(f"W{l}", linear.weight))
        mapping.append(ParamMap(f"b{l}", linear.bias, to_scratch=column, from_scratch=np.ravel))
    return mapping


def column(vector: np.ndarray) -> np.ndarray:
    """A bias vector ``(n,)`` as the course's column ``(n, 1)``."""
    return vector.reshape(-1, 1)


def hidden_preactivations(caches: list[dn.LayerCache]) -> list[Preactivation]:
    """The hidden layers' ``Z`` and scale ``|W| |A_prev| + |b|`` from ``L_model_logits``' caches."""
    return [preactivation(Z, W, A_prev, b) for (A_prev, W, b), Z in caches[:-1]]


class ScratchDeepNet(ScratchTrainer):
    """Full-batch training of :mod:`scratch.deep_net`'s L-layer net; ``update`` is gradient descent.

    Inputs are validated once here; ``step`` runs the unchecked path: ``L_model_logits`` (whose caches
    give the kink watch its pre-activations), the cost from the logits and ``L_model_backward``, as
    :func:`scratch.deep_net.loss_and_grads` composes them.
    """

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.X, self.Y = problem.data["X"], problem.data["Y"]
        self.hidden_activation = problem.hyper["hidden_activation"]
        self.learning_rate = problem.hyper["learning_rate"]
        self.has_kinks = self.hidden_activation in PIECEWISE_LINEAR
        self.check_inputs()

    def check_inputs(self) -> None:
        """Validate data and parameters once (``step`` runs unchecked)."""
        dn.check_inputs(self.X, self.params, self.hidden_activation, self.Y)

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        ZL, caches = dn.L_model_logits(self.X, self.params, hidden_activation=self.hidden_activation, check=False)
        self.capture_preactivations(lambda: hidden_preactivations(caches))
        grads = dn.L_model_backward(dn.sigmoid(ZL), self.Y, caches, hidden_activation=self.hidden_activation)
        return dn.cost_from_logits(ZL, self.Y), grads

    def update(self) -> None:
        dn.update_parameters(self.params, self.grads, self.learning_rate)


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
    rng = initial_parameters_rng(problem.seed, 1)
    return {name: (rng.normal(0.0, 0.1, value.shape) if name.startswith("b") else value.astype(np.float64))
            for name, value in problem.params.items()}


def check_logit_model_gradients(problem: Problem, X: np.ndarray, Y: np.ndarray, loss_and_grads: Callable,
                                cost_from_logits: Callable[[np.ndarray, np.ndarray], float]) -> float:
    """Course relative error of ``loss_and_grads(params, X, Y)`` against the two-sided differences of
    ``cost_from_logits(L_model_logits(X, params), Y)``, at :func:`gradient_check_point` (float64)."""
    params = gradient_check_point(problem)
    activation = problem.hyper["hidden_activation"]
    _, grads = loss_and_grads(params, X, Y, hidden_activation=activation)

    def cost(point: dict[str, np.ndarray]) -> float:
        ZL, _ = dn.L_model_logits(X, point, hidden_activation=activation, check=False)
        return float(cost_from_logits(ZL, Y))

    return gradient_check_n(cost, params, grads)


def check_gradients(problem: Problem) -> float:
    """Course relative error of the scratch deep net's backward pass with the sigmoid cross-entropy cost."""
    X, Y = problem.data["X"].astype(np.float64), problem.data["Y"].astype(np.float64)
    return check_logit_model_gradients(problem, X, Y, dn.loss_and_grads, dn.cost_from_logits)


def breast_cancer_train(seed: int) -> datasets.Dataset:
    """The standardized 80% training split of breast cancer (455 x 30)."""
    train, _ = datasets.train_test_split(datasets.breast_cancer(), seed=seed)
    return datasets.standardize(train)[0]
