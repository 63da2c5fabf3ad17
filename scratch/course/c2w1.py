"""Course 2, week 1: initialization, regularization (L2 and inverted dropout) and gradient checking.

The regularization assignment's network is LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID with
the course's flat caches::

    forward_propagation:              (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    forward_propagation_with_dropout: (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)

built from :func:`scratch.deep_net.linear_forward` / ``linear_backward`` and the L2 and dropout pieces
of :mod:`scratch.regularization`. The initializers seed 3 inside and the dropout forward seeds 1 inside,
as the course does (see :mod:`scratch.course` for ``seed`` and ``rng``).

The gradient-checking assignment's ``forward_propagation(x, theta)`` is the one-parameter ``J = theta x``
and ``forward_propagation_n`` / ``backward_propagation_n`` are the 3-layer network above; its
``gradient_check_n`` perturbs each parameter by ``+-epsilon`` (centered differences) and returns
``||grad - gradapprox|| / (||grad|| + ||gradapprox||)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import scratch.deep_net as dn
import scratch.gradient_check as gc
import scratch.regularization as reg
from scratch.activations import relu, relu_derivative, sigmoid
from scratch.course._compat import as_float, as_labels, copy_params, legacy_stream
from scratch.initialization import initialize_parameters as initialize_layers
from scratch.validation import ANY_SHAPE, float_inputs

#: The gradient-checking assignment's parameter shapes (X has 4 features; layers of 5, 3 and 1 units).
COURSE_SHAPES = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}


# --- initialization ---------------------------------------------------------------------------------

def initialize_parameters_zeros(layers_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """All weights and biases 0 (the assignment's example of what fails to break symmetry)."""
    return initialize_layers(layers_dims, method="zeros", rng=np.random.RandomState(0))


def initialize_parameters_random(layers_dims: Sequence[int], *, seed: int | None = 3,
                                 rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """``W{l} = randn(n_l, n_{l-1}) * 10`` (the assignment's too-large start), zero biases.

    Drawn as the project's ``small`` start (``randn * 0.01``) scaled by 1000: the same standard normals,
    equal to the course's ``randn * 10`` up to one rounding.
    """
    parameters = _small_start(layers_dims, seed, rng)
    return {name: value * 1000 if name.startswith("W") else value for name, value in parameters.items()}


def initialize_parameters_he(layers_dims: Sequence[int], *, seed: int | None = 3,
                             rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """``W{l} = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})`` (He et al.), zero biases."""
    with legacy_stream(seed, rng) as stream:
        return initialize_layers(layers_dims, method="he", rng=stream)


def _small_start(layers_dims: Sequence[int], seed: int | None,
                                     rng: np.random.Generator | None) -> dict[str, np.ndarray]:
    with legacy_stream(seed, rng) as stream:
        return initialize_layers(layers_dims, method="small", rng=stream)


# --- L2 regularization --------------------------------------------------------------------------------

@float_inputs(a3=2, Y=ANY_SHAPE)
def compute_cost(a3: np.ndarray, Y: np.ndarray) -> float:
    """The cross-entropy part (mean over the m examples)."""
    a3 = as_float("a3", a3)
    return float(dn.compute_cost(a3, as_labels(Y, a3.shape[-1])))


@float_inputs(A3=2, Y=ANY_SHAPE, parameters=2)
def compute_cost_with_regularization(A3: np.ndarray, Y: np.ndarray, parameters: dict[str, np.ndarray],
                                     lambd: float) -> float:
    """``J + lambd / (2 m) * (||W1||^2 + ||W2||^2 + ||W3||^2)`` (biases not regularized)."""
    A3 = as_float("A3", A3)
    return compute_cost(A3, Y) + reg.l2_cost(copy_params(parameters), lambd, A3.shape[-1])


def _backward(X: np.ndarray, Y: np.ndarray, layers: list[dict[str, np.ndarray]], lambd: float = 0.0,
              keep_prob: float = 1.0) -> dict[str, np.ndarray]:
    """The 3-layer backward pass over per-layer dicts ``{"Z", "A", "W", "b"}`` (plus ``"D"`` with dropout)."""
    X = as_float("X", X)
    Y = as_labels(Y, X.shape[1])
    m = X.shape[1]
    grads: dict[str, np.ndarray] = {}
    dZ = layers[-1]["A"] - Y
    for index in range(len(layers), 0, -1):
        layer = layers[index - 1]
        A_prev = X if index == 1 else layers[index - 2]["A"]
        grads[f"dZ{index}"] = dZ
        dA_prev, dW, db = dn.linear_backward(dZ, (A_prev, layer["W"], layer["b"]))
        if lambd:
            dW = dW + reg.l2_grads({"W1": layer["W"]}, lambd, m)["dW1"]
        grads[f"dW{index}"], grads[f"db{index}"] = dW, db
        if index > 1:
            previous = layers[index - 2]
            if "D" in previous:
                dA_prev = reg.dropout_backward(dA_prev, previous["D"], keep_prob)
            grads[f"dA{index - 1}"] = dA_prev
            dZ = dA_prev * relu_derivative(previous["Z"])
    return grads


def _layers(cache: Sequence[np.ndarray], names: str) -> list[dict[str, np.ndarray]]:
    values = [as_float(f"cache[{i}]", value) for i, value in enumerate(cache)]
    width = len(names)
    if len(values) != 3 * width:
        raise ValueError(f"cache must hold {3 * width} arrays (3 layers of {', '.join(names)}), got {len(values)}")
    return [dict(zip(names, values[i * width:(i + 1) * width], strict=True)) for i in range(3)]


@float_inputs(X=2, Y=ANY_SHAPE, cache=2)
def backward_propagation_with_regularization(X: np.ndarray, Y: np.ndarray, cache: Sequence[np.ndarray],
                                             lambd: float) -> dict[str, np.ndarray]:
    """Gradients of the L2-regularized cost: ``dW{l} = dZ{l} A{l-1}^T / m + lambd / m * W{l}``."""
    return _backward(X, Y, [{k: layer[k] for k in "ZAWb"} for layer in _layers(cache, "ZAWb")], lambd=lambd)


# --- inverted dropout ---------------------------------------------------------------------------------

@float_inputs(X=2, parameters=2)
def forward_propagation_with_dropout(X: np.ndarray, parameters: dict[str, np.ndarray], keep_prob: float = 0.5, *,
                                     seed: int | None = 1, rng: np.random.Generator | None = None
                                     ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """``(A3, cache)`` with inverted dropout on the two hidden layers: ``A{l} = relu(Z{l}) * D{l} / keep_prob``.

    ``D{l} = rand(n_l, m) < keep_prob``, D1 drawn before D2 (the course seeds 1 inside).
    """
    X = as_float("X", X)
    params = copy_params(parameters)
    cache: list[np.ndarray] = []
    A = X
    with legacy_stream(seed, rng) as stream:
        for layer in (1, 2):
            W, b = params[f"W{layer}"], params[f"b{layer}"]
            Z, _ = dn.linear_forward(A, W, b)
            D = reg.dropout_mask(stream, Z.shape, keep_prob, np.float64)
            A = reg.dropout_forward(relu(Z), D, keep_prob)
            cache += [Z, D, A, W, b]
    Z3, _ = dn.linear_forward(A, params["W3"], params["b3"])
    A3 = sigmoid(Z3)
    return A3, (*cache, Z3, A3, params["W3"], params["b3"])


@float_inputs(X=2, Y=ANY_SHAPE, cache=2)
def backward_propagation_with_dropout(X: np.ndarray, Y: np.ndarray, cache: Sequence[np.ndarray],
                                      keep_prob: float) -> dict[str, np.ndarray]:
    """Gradients with the forward's masks applied again: ``dA{l} = dA{l} * D{l} / keep_prob``."""
    values = list(cache)
    hidden = [dict(zip("ZDAWb", values[i * 5:(i + 1) * 5], strict=True)) for i in range(2)]
    output = dict(zip("ZAWb", values[10:14], strict=True))
    layers = [{k: as_float(k, v) for k, v in layer.items()} for layer in (*hidden, output)]
    return _backward(X, Y, layers, keep_prob=keep_prob)


# --- gradient checking --------------------------------------------------------------------------------

@float_inputs(x=0, theta=0)
def forward_propagation(x: float, theta: float) -> float:
    """``J = theta x``."""
    return theta * x


@float_inputs(x=0, theta=0)
def backward_propagation(x: float, theta: float) -> float:
    """``dJ/dtheta = x``."""
    return x


@float_inputs(x=0, theta=0)
def gradient_check(x: float, theta: float, epsilon: float = 1e-7, print_msg: bool = False) -> float:
    """Centered difference ``(J(theta + eps) - J(theta - eps)) / (2 eps)`` against :func:`backward_propagation`."""
    gradapprox = (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
    difference = gc.relative_difference(np.asarray(backward_propagation(x, theta), float), np.asarray(gradapprox))
    if print_msg:
        print("The gradient is correct!" if difference < 1e-7 else "The gradient is wrong!")
    return difference


@float_inputs(parameters=2)
def dictionary_to_vector(parameters: dict[str, np.ndarray],
                         keys: Sequence[str] = ("W1", "b1", "W2", "b2", "W3", "b3")
                         ) -> tuple[np.ndarray, list[str]]:
    """Every parameter flattened (row-major) and stacked into one column ``(n, 1)``; and each entry's key."""
    return gc.dictionary_to_vector({key: as_float(key, parameters[key]) for key in keys})


@float_inputs(theta=2)
def vector_to_dictionary(theta: np.ndarray, shapes: dict[str, tuple[int, int]] = COURSE_SHAPES
                         ) -> dict[str, np.ndarray]:
    """The inverse of :func:`dictionary_to_vector` for the given shapes (the course's by default)."""
    return gc.vector_to_dictionary(as_float("theta", theta), shapes)


@float_inputs(gradients=2)
def gradients_to_vector(gradients: dict[str, np.ndarray]) -> np.ndarray:
    """``dW1, db1, dW2, db2, dW3, db3`` stacked into one column, in :func:`dictionary_to_vector`'s order."""
    return dictionary_to_vector(gradients, ("dW1", "db1", "dW2", "db2", "dW3", "db3"))[0]


@float_inputs(X=2, Y=ANY_SHAPE, parameters=2)
def forward_propagation_n(X: np.ndarray, Y: np.ndarray, parameters: dict[str, np.ndarray]
                          ) -> tuple[float, tuple[np.ndarray, ...]]:
    """``(cost, cache)`` of the 3-layer network without regularization; cache as the regularization one."""
    X = as_float("X", X)
    params = copy_params(parameters)
    cache: list[np.ndarray] = []
    A = X
    for layer in (1, 2, 3):
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        Z, _ = dn.linear_forward(A, W, b)
        A = relu(Z) if layer < 3 else sigmoid(Z)
        cache += [Z, A, W, b]
    return compute_cost(A, Y), tuple(cache)


@float_inputs(X=2, Y=ANY_SHAPE, cache=2)
def backward_propagation_n(X: np.ndarray, Y: np.ndarray, cache: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Gradients of :func:`forward_propagation_n`'s cost (with the course's ``dZ``, ``dA`` entries)."""
    return _backward(X, Y, _layers(cache, "ZAWb"))


@float_inputs(parameters=2, gradients=2, X=2, Y=ANY_SHAPE)
def gradient_check_n(parameters: dict[str, np.ndarray], gradients: dict[str, np.ndarray], X: np.ndarray,
                     Y: np.ndarray, epsilon: float = 1e-7, print_msg: bool = False) -> float:
    """Relative difference between ``gradients`` and centered differences of :func:`forward_propagation_n`."""
    course_parameters = {key: as_float(key, parameters[key]) for key in COURSE_SHAPES}
    difference = gc.gradient_check_n(lambda point: forward_propagation_n(X, Y, point)[0], course_parameters,
                                     gradients, epsilon)
    if print_msg:
        verdict = "a mistake in the backward propagation" if difference > 2e-7 else "works perfectly fine"
        print(f"Your backward propagation {verdict}! difference = {difference}")
    return difference
