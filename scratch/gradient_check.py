"""Gradient checking, as the course does it: every parameter in one vector, two-sided differences.

The course's helpers, made generic over the parameter names and shapes:

- :func:`dictionary_to_vector` stacks the parameters into one column ``theta`` ``(n, 1)`` (in the
  dictionary's order, ``W1, b1, W2, ...`` for the course's dictionaries) and
  :func:`vector_to_dictionary` turns such a column back into arrays of the original shapes;
- :func:`gradients_to_vector` stacks the gradients ``dW1, db1, ...`` in the same order;
- :func:`gradient_check_n` compares them with the two-sided differences of the cost::

      gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
      difference   = ||grad - gradapprox||_2 / (||grad||_2 + ||gradapprox||_2)

With float64 and ``eps = 1e-7`` a correct backward pass gives about 1e-9 or less; above 1e-7 is suspicious,
above 1e-5 is a bug (the course's rule of thumb). The cost is evaluated in float64 whatever the
parameters' dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from scratch.validation import ANY_SHAPE, check_positive, float_inputs

#: The course's thresholds: below is a correct backward pass, above ``SUSPICIOUS`` is worth a look.
SUSPICIOUS = 1e-7
WRONG = 1e-5


@float_inputs(parameters=ANY_SHAPE)
def dictionary_to_vector(parameters: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """``theta`` ``(n, 1)`` float64, every parameter raveled in order, and ``keys[i]``: the name of entry ``i``."""
    if not parameters:
        raise ValueError("parameters must hold at least one array")
    columns, keys = [], []
    for name, value in parameters.items():
        flat = np.asarray(value, dtype=np.float64).reshape(-1, 1)
        columns.append(flat)
        keys += [name] * flat.shape[0]
    return np.concatenate(columns, axis=0), keys


@float_inputs(theta=ANY_SHAPE)
def vector_to_dictionary(theta: np.ndarray, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The arrays of ``theta`` ``(n, 1)`` under the names and ``shapes`` given (the inverse of the above)."""
    theta = np.asarray(theta)
    sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes.values()]
    if theta.size != sum(sizes):
        raise ValueError(f"theta has {theta.size} entries but the parameters have {sum(sizes)}")
    flat = theta.reshape(-1)
    parameters, start = {}, 0
    for (name, shape), size in zip(shapes.items(), sizes, strict=True):
        parameters[name] = flat[start:start + size].reshape(shape)
        start += size
    return parameters


@float_inputs(gradients=ANY_SHAPE, parameters=ANY_SHAPE)
def gradients_to_vector(gradients: Mapping[str, np.ndarray], parameters: Mapping[str, np.ndarray]
                        ) -> np.ndarray:
    """``grad`` ``(n, 1)``: ``gradients["d" + name]`` for each parameter name, in the parameters' order."""
    missing = [f"d{name}" for name in parameters if f"d{name}" not in gradients]
    if missing:
        raise ValueError(f"gradients has no {missing}; it has {sorted(gradients)}")
    for name, value in parameters.items():
        if np.shape(gradients[f"d{name}"]) != np.shape(value):
            raise ValueError(f"d{name} has shape {np.shape(gradients[f'd{name}'])}, but {name} has "
                             f"{np.shape(value)}")
    return dictionary_to_vector({name: gradients[f"d{name}"] for name in parameters})[0]


def numerical_gradient(cost: Callable[[dict[str, np.ndarray]], float], parameters: Mapping[str, np.ndarray],
                       epsilon: float = 1e-7) -> np.ndarray:
    """``gradapprox`` ``(n, 1)``: two-sided differences of ``cost`` for every entry of ``theta``."""
    check_positive("epsilon", epsilon)
    theta, _ = dictionary_to_vector(parameters)
    shapes = {name: np.shape(value) for name, value in parameters.items()}
    gradapprox = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        theta_plus = np.copy(theta)
        theta_plus[i, 0] += epsilon
        J_plus = cost(vector_to_dictionary(theta_plus, shapes))
        theta_minus = np.copy(theta)
        theta_minus[i, 0] -= epsilon
        J_minus = cost(vector_to_dictionary(theta_minus, shapes))
        gradapprox[i, 0] = (J_plus - J_minus) / (2 * epsilon)
    return gradapprox


@float_inputs(grad=ANY_SHAPE, gradapprox=ANY_SHAPE)
def relative_difference(grad: np.ndarray, gradapprox: np.ndarray) -> float:
    """``||grad - gradapprox|| / (||grad|| + ||gradapprox||)``; 0 when both are zero."""
    if np.shape(grad) != np.shape(gradapprox):
        raise ValueError(f"grad {np.shape(grad)} and gradapprox {np.shape(gradapprox)} differ in shape")
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return float(np.linalg.norm(grad - gradapprox) / denominator) if denominator > 0 else 0.0


def gradient_check_n(cost: Callable[[dict[str, np.ndarray]], float], parameters: Mapping[str, np.ndarray],
                     gradients: Mapping[str, np.ndarray], epsilon: float = 1e-7) -> float:
    """The course's ``difference`` between ``gradients`` (``d<name>``) and the differences of ``cost``.

    ``cost(parameters) -> float`` evaluates J at a dictionary like ``parameters`` (float64 arrays).
    """
    grad = gradients_to_vector(gradients, parameters)
    return relative_difference(grad, numerical_gradient(cost, parameters, epsilon))
