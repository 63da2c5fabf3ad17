"""Activation functions and their derivatives, elementwise on arrays of any shape.

Derivative conventions at the kink follow ``torch.autograd`` so gradients agree bit for bit:
ReLU'(0) = 0 (torch's ``threshold_backward`` passes the gradient only where ``z > 0``) and
leaky ReLU'(0) = ``negative_slope`` (torch's ``leaky_relu_backward`` uses ``z > 0 ? 1 : slope``).
"""

from __future__ import annotations

import numpy as np

from scratch.validation import ELEMENTWISE, float_inputs


@float_inputs(z=ELEMENTWISE)
def sigmoid(z: np.ndarray) -> np.ndarray:
    """sigma(z) = 1 / (1 + e^-z), evaluated without overflow for any |z|.

    For z >= 0 it uses 1 / (1 + e^-z); for z < 0 the equal form e^z / (1 + e^z), so ``exp`` only ever sees
    non-positive arguments. Same shape and dtype as ``z``.
    """
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    # One division for both forms (the same quotients as dividing each): the LSTM calls this on every gate.
    return (np.where(z >= 0, 1, e) / (1 + e)).astype(z.dtype, copy=False)


@float_inputs(z=ELEMENTWISE)
def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    """sigma'(z) = sigma(z) (1 - sigma(z))."""
    s = sigmoid(z)
    return s * (1 - s)


@float_inputs(z=ELEMENTWISE)
def tanh(z: np.ndarray) -> np.ndarray:
    """tanh(z) = (e^z - e^-z) / (e^z + e^-z); NumPy's ``tanh`` is already overflow-free."""
    return np.tanh(z)


@float_inputs(z=ELEMENTWISE)
def tanh_derivative(z: np.ndarray) -> np.ndarray:
    """tanh'(z) = 1 - tanh(z)^2."""
    t = np.tanh(z)
    return 1 - t * t


@float_inputs(z=ELEMENTWISE)
def relu(z: np.ndarray) -> np.ndarray:
    """relu(z) = max(0, z)."""
    return np.maximum(z, 0)


@float_inputs(z=ELEMENTWISE)
def relu_derivative(z: np.ndarray) -> np.ndarray:
    """relu'(z) = 1 if z > 0 else 0 (0 at z = 0, as torch)."""
    return (z > 0).astype(np.asarray(z).dtype)


@float_inputs(z=ELEMENTWISE)
def leaky_relu(z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """leaky_relu(z) = z if z > 0 else negative_slope * z (torch's default slope 0.01)."""
    return np.where(z > 0, z, z * np.asarray(negative_slope, dtype=np.asarray(z).dtype))


@float_inputs(z=ELEMENTWISE)
def leaky_relu_derivative(z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """leaky_relu'(z) = 1 if z > 0 else negative_slope (``negative_slope`` at z = 0, as torch)."""
    dtype = np.asarray(z).dtype
    return np.where(z > 0, np.asarray(1, dtype=dtype), np.asarray(negative_slope, dtype=dtype))
