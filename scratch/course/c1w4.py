"""Course 1, week 4: a deep network step by step, and the two-layer and L-layer models.

Wrappers over :mod:`scratch.deep_net` with the course's contracts: ``sigmoid``/``relu`` return
``(A, cache=Z)``, ``relu_backward``/``sigmoid_backward`` take ``(dA, cache=Z)``, a layer's cache is
``((A_prev, W, b), Z)``, and :func:`L_model_backward` starts from the course's
``dAL = -(Y / AL - (1 - Y) / (1 - AL))`` pushed through the sigmoid's derivative at the cached ``ZL``
(the same ``dZL = AL - Y`` as the fused form when ``AL = sigmoid(ZL)``; the course's test also feeds an
``AL`` unrelated to ``ZL``, and this reproduces it). ``dAL`` divides by ``AL`` and ``1 - AL``: a saturated
output (exactly 0 or 1) gives inf, as in the course; the project's :func:`scratch.deep_net.L_model_backward`
avoids that with the fused form.

Seeding (see :mod:`scratch.course`): ``initialize_parameters`` seeds 1 and ``initialize_parameters_deep``
seeds 3 inside, as the course does; both scale the weights by 0.01.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import scratch.activations as act
import scratch.deep_net as dn
from scratch.course._compat import as_float, as_labels, check_iterations, copy_params, legacy_stream
from scratch.initialization import initialize_parameters as initialize_layers
from scratch.validation import ANY_SHAPE, ELEMENTWISE, float_inputs

LayerCache = tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@float_inputs(Z=ELEMENTWISE)
def sigmoid(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sigma(Z), Z)``."""
    Z = as_float("Z", Z)
    return act.sigmoid(Z), Z


@float_inputs(Z=ELEMENTWISE)
def relu(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(max(0, Z), Z)``."""
    Z = as_float("Z", Z)
    return act.relu(Z), Z


@float_inputs(dA=ANY_SHAPE, cache=ANY_SHAPE)
def sigmoid_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dZ = dA * sigma'(Z)`` with ``Z = cache``."""
    return dn.activation_backward(as_float("dA", dA), as_float("cache", cache), "sigmoid")


@float_inputs(dA=ANY_SHAPE, cache=ANY_SHAPE)
def relu_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dZ = dA * 1[Z > 0]`` with ``Z = cache`` (0 at ``Z = 0``, as torch)."""
    return dn.activation_backward(as_float("dA", dA), as_float("cache", cache), "relu")


def initialize_parameters(n_x: int, n_h: int, n_y: int, *, seed: int | None = 1,
                          rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Two layers, ``W = randn * 0.01`` (W1 then W2), zero biases; the course seeds 1 inside."""
    return initialize_parameters_deep([n_x, n_h, n_y], seed=seed, rng=rng)


def initialize_parameters_deep(layer_dims: Sequence[int], *, seed: int | None = 3,
                               rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """``W{l} = randn(n_l, n_{l-1}) * 0.01`` for l = 1..L in order, zero biases; the course seeds 3 inside."""
    with legacy_stream(seed, rng) as stream:
        return initialize_layers(layer_dims, method="small", rng=stream)


@float_inputs(A=2, W=2, b=2)
def linear_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray
                   ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(Z = W A + b, (A, W, b))``."""
    return dn.linear_forward(as_float("A", A), as_float("W", W), as_float("b", b))


@float_inputs(A_prev=2, W=2, b=2)
def linear_activation_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str
                              ) -> tuple[np.ndarray, LayerCache]:
    """``(g(W A_prev + b), ((A_prev, W, b), Z))`` for ``activation`` "sigmoid" or "relu"."""
    dn.check_activation("activation", activation)
    return dn.linear_activation_forward(as_float("A_prev", A_prev), as_float("W", W), as_float("b", b), activation)


@float_inputs(X=2, parameters=2)
def L_model_forward(X: np.ndarray, parameters: dict[str, np.ndarray]) -> tuple[np.ndarray, list[LayerCache]]:
    """``[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID``: ``(AL, caches)`` with one cache per layer."""
    return dn.L_model_forward(as_float("X", X), copy_params(parameters), hidden_activation="relu")


@float_inputs(AL=2, Y=ANY_SHAPE)
def compute_cost(AL: np.ndarray, Y: np.ndarray) -> np.floating:
    """Mean cross-entropy of ``AL`` ``(1, m)`` against ``Y`` ``(1, m)``."""
    AL = as_float("AL", AL)
    return dn.compute_cost(AL, as_labels(Y, AL.shape[-1]))


@float_inputs(dZ=2, cache=2)
def linear_backward(dZ: np.ndarray, cache: tuple[np.ndarray, np.ndarray, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev = W^T dZ, dW = dZ A_prev^T / m, db = sum_i dZ / m)``."""
    A_prev, W, b = (as_float(name, value) for name, value in zip(("A_prev", "W", "b"), cache, strict=True))
    return dn.linear_backward(as_float("dZ", dZ), (A_prev, W, b))


@float_inputs(dA=2, cache=2)
def linear_activation_backward(dA: np.ndarray, cache: LayerCache, activation: str
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev, dW, db)`` of one layer from ``dA`` and its cache ``((A_prev, W, b), Z)``."""
    dn.check_activation("activation", activation)
    (A_prev, W, b), Z = cache
    linear_cache = tuple(as_float(name, value) for name, value in zip(("A_prev", "W", "b"), (A_prev, W, b),
                                                                       strict=True))
    return dn.linear_activation_backward(as_float("dA", dA), (linear_cache, as_float("Z", Z)), activation)


@float_inputs(AL=2, Y=ANY_SHAPE, caches=2)
def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: Sequence[LayerCache]) -> dict[str, np.ndarray]:
    """``{"dA{l-1}", "dW{l}", "db{l}"}`` for l = L..1, from ``dAL = -(Y / AL - (1 - Y) / (1 - AL))``.

    ``dA{l}`` and ``dZ{l}`` are gradients of the summed loss ``m J`` (not divided by m); ``dW``, ``db``
    are gradients of the mean ``J`` (see :mod:`scratch.deep_net`).
    """
    AL = as_float("AL", AL)
    if ((AL == 0) | (AL == 1)).any():  # the course's dAL divides by AL and by 1 - AL
        raise ValueError("AL must not contain exactly 0 or 1: dAL = -(Y / AL - (1 - Y) / (1 - AL)) divides by both")
    Y = as_labels(Y, AL.shape[-1])
    L = len(caches)
    grads: dict[str, np.ndarray] = {}
    dA = -(Y / AL - (1 - Y) / (1 - AL))
    for layer in range(L, 0, -1):
        activation = "sigmoid" if layer == L else "relu"
        dA, grads[f"dW{layer}"], grads[f"db{layer}"] = linear_activation_backward(dA, caches[layer - 1], activation)
        grads[f"dA{layer - 1}"] = dA
    return grads


@float_inputs(params=2, grads=2)
def update_parameters(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], learning_rate: float
                      ) -> dict[str, np.ndarray]:
    """A new dict ``P - learning_rate * dP``; ``params`` is not modified (the 2021 course copies it)."""
    return dn.update_parameters(copy_params(params), grads, learning_rate)


@float_inputs(X=2, y=ANY_SHAPE, parameters=2)
def predict(X: np.ndarray, y: np.ndarray, parameters: dict[str, np.ndarray]) -> np.ndarray:
    """Labels ``(1, m)`` in float64: 1 where ``AL > 0.5``; ``y`` is the course's, for its printed accuracy."""
    AL, _ = L_model_forward(X, parameters)
    p = (AL > 0.5).astype(np.float64)
    print(f"Accuracy: {np.mean(p == as_labels(y, p.shape[1]))}")
    return p


def _train(X: np.ndarray, Y: np.ndarray, parameters: dict[str, np.ndarray], learning_rate: float,
           num_iterations: int, print_cost: bool) -> tuple[dict[str, np.ndarray], list[float]]:
    """Batch gradient descent with the course's step functions; the cost of every 100th iteration is kept
    (and printed with ``print_cost``, also at the last iteration, as the course does)."""
    check_iterations(num_iterations)
    X = as_float("X", X)
    Y = as_labels(Y, X.shape[1])
    costs = []
    for i in range(num_iterations):
        AL, caches = L_model_forward(X, parameters)
        cost = float(compute_cost(AL, Y))
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)
        if print_cost and (i % 100 == 0 or i == num_iterations - 1):
            print(f"Cost after iteration {i}: {cost}")
        if i % 100 == 0:
            costs.append(cost)
    return parameters, costs


@float_inputs(X=2, Y=ANY_SHAPE)
def two_layer_model(X: np.ndarray, Y: np.ndarray, layers_dims: tuple[int, int, int], learning_rate: float = 0.0075,
                    num_iterations: int = 3000, print_cost: bool = False, *, seed: int | None = 1,
                    rng: np.random.Generator | None = None) -> tuple[dict[str, np.ndarray], list[float]]:
    """LINEAR -> RELU -> LINEAR -> SIGMOID from :func:`initialize_parameters`: ``(parameters, costs)``."""
    n_x, n_h, n_y = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y, seed=seed, rng=rng)
    return _train(X, Y, parameters, learning_rate, num_iterations, print_cost)


@float_inputs(X=2, Y=ANY_SHAPE)
def L_layer_model(X: np.ndarray, Y: np.ndarray, layers_dims: Sequence[int], learning_rate: float = 0.0075,
                  num_iterations: int = 3000, print_cost: bool = False, *, seed: int | None = 3,
                  rng: np.random.Generator | None = None) -> tuple[dict[str, np.ndarray], list[float]]:
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID from :func:`initialize_parameters_deep`.

    The application notebook's own helper scales the start by ``1 / sqrt(n_{l-1})`` instead of 0.01; pass
    any start through :func:`scratch.deep_net` directly if you need that one.
    """
    parameters = initialize_parameters_deep(layers_dims, seed=seed, rng=rng)
    return _train(X, Y, parameters, learning_rate, num_iterations, print_cost)
