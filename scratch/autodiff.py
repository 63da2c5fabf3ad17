"""A small reverse-mode automatic differentiation engine, on scalars and NumPy arrays.

Each operation builds its output :class:`Value` and attaches a closure, its *local backward rule*, that
receives the output's gradient ``g = dL/d(out)`` and **adds** ``g * d(out)/d(input)`` into each input's
``.grad`` (the chain rule, one node at a time, as on the lecture slides). ``backward()`` sorts the graph
topologically (iteratively, so a graph 10,000 nodes deep needs no recursion) and runs the closures from
the output back to the leaves. A node used several times receives one contribution per use, which add up.

Local rules (``g`` is the output's gradient, ``y`` the output's value)::

    a + b: da += g, db += g              a * b: da += g b,  db += g a
    a - b: da += g, db -= g              a / b: da += g / b, db += -g (a / b) / b
    x ** p (constant p): dx += g p x^(p-1)            -x: dx -= g
    exp: dx += g y      log: dx += g / x      tanh: dx += g (1 - y^2)
    sigmoid: dx += g (1 - y) y       relu: dx += g [x > 0]   (0 at the kink, as torch)
    A @ B: dA += G B^T, dB += A^T G  sum, mean: g broadcast back over the reduced axes (/ n for the mean)

On arrays the operations are elementwise with NumPy broadcasting; a gradient flowing into an input that
was broadcast is summed back over the broadcast axes to the input's shape. Python numbers and plain
arrays mix in on either side (``2 * x``, ``x + 1``, ``Y * z``) as constants: they get no gradient.
``.data`` keeps the dtype it was given (a float32 array stays float32; Python numbers are weak scalars).

Zeroing rule (the same as ``torch.autograd`` with ``retain_graph=True``):

- ``out.backward()`` first resets the ``.grad`` of every *intermediate* node of ``out``'s graph to zero,
  then fills it with this pass's gradients. So intermediate gradients always describe the latest pass.
- *Leaves* (values built directly from numbers or arrays) **accumulate**: a second ``backward()`` adds
  the same gradient again, which is what lets several losses contribute to one parameter. Clear them with
  :func:`zero_grad` between training steps, as ``optimizer.zero_grad()`` does in torch.
- Changing a node's ``.data`` after an expression was built from it makes that expression stale: its
  ``backward()`` raises ``RuntimeError`` instead of mixing old and new values (torch raises for the same
  reason when a tensor saved for backward was modified in place). Rebuild the expression (re-run the
  forward pass) at the new values. Mutating ``.data`` in place (``x.data[0] = 1``) bypasses this check.

Domain errors are raised at the operation, naming it (``ValueError``): ``log`` of a value <= 0, division
by zero, ``exp`` that would overflow, negative base with a fractional exponent, zero to a negative power.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Union

import numpy as np

from scratch.activations import sigmoid as _stable_sigmoid
from scratch.validation import as_float_array

Number = int | float | np.floating | np.ndarray
Operand = Union["Value", Number]  # noqa: UP007  (a forward reference cannot use |)
BackwardRule = Callable[[np.ndarray], None]


def _as_float_array(data: Number) -> np.ndarray:
    """``data`` under the project's dtype policy (:func:`scratch.validation.as_float_array`)."""
    return as_float_array("data", data)


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes NumPy broadcast when an input of ``shape`` met a larger operand."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, length in enumerate(shape):
        if length == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


class Value:
    """A node of the computation graph: ``data`` (forward value), ``grad`` (dL/d this node), parents.

    ``Value(data, label="x")`` makes a leaf; ``requires_grad=False`` makes a constant (no ``.grad``).
    """

    __array_ufunc__ = None  # makes ``ndarray * Value`` call Value.__rmul__ instead of looping over the array

    def __init__(self, data: Number, *, label: str = "", requires_grad: bool = True,
                 _parents: tuple[Value, ...] = (), _op: str = ""):
        self._data = _as_float_array(data)
        self._version = 0
        self.label = label
        self.op = _op
        self.requires_grad = requires_grad
        self.grad = np.zeros_like(self._data) if requires_grad else None
        self._parents = _parents
        self._parent_versions = tuple(p._version for p in _parents)
        self._backward: BackwardRule | None = None

    # -- data, with a version counter so a stale graph is detected ------------------------------------
    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value: Number) -> None:
        self._data = _as_float_array(value)
        self._version += 1

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def is_leaf(self) -> bool:
        return not self._parents

    def item(self) -> float:
        return self._data.item()

    def __repr__(self) -> str:
        name = f"{self.label}, " if self.label else ""
        return f"Value({name}data={self._data!r}, grad={self.grad!r})"

    # -- building nodes ------------------------------------------------------------------------------
    def _result(self, data: np.ndarray, parents: tuple[Value, ...], op: str,
                rule: Callable[[np.ndarray], None]) -> Value:
        """The output node of an operation on ``parents``; ``rule(g)`` adds into the parents' grads."""
        needs_grad = any(p.requires_grad for p in parents)
        out = Value(data, requires_grad=needs_grad, _parents=parents, _op=op)
        if needs_grad:
            out._backward = rule
        return out

    @staticmethod
    def _accumulate(node: Value, contribution: np.ndarray) -> None:
        if node.requires_grad:
            contribution = _unbroadcast(np.asarray(contribution), node.shape)
            node.grad = node.grad + contribution.astype(node.grad.dtype, copy=False)

    # -- arithmetic; a non-Value operand is a constant -----------------------------------------------
    def __add__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            return self._result(self._data + other, (self,), _constant_label("+", other),
                                lambda g: Value._accumulate(self, g))

        def rule(g: np.ndarray) -> None:
            Value._accumulate(self, g)
            Value._accumulate(other, g)

        return self._result(self._data + other._data, (self, other), "+", rule)

    def __radd__(self, other: Number) -> Value:
        return self + other

    def __neg__(self) -> Value:
        return self._result(-self._data, (self,), "neg", lambda g: Value._accumulate(self, -g))

    def __sub__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            return self._result(self._data - other, (self,), _constant_label("-", other),
                                lambda g: Value._accumulate(self, g))

        def rule(g: np.ndarray) -> None:
            Value._accumulate(self, g)
            Value._accumulate(other, -g)

        return self._result(self._data - other._data, (self, other), "-", rule)

    def __rsub__(self, other: Number) -> Value:
        return self._result(other - self._data, (self,), f"{_constant_text(other)}-x",
                            lambda g: Value._accumulate(self, -g))

    def __mul__(self, other: Operand) -> Value:
        a = self._data
        if not isinstance(other, Value):
            return self._result(a * other, (self,), _constant_label("*", other),
                                lambda g: Value._accumulate(self, g * other))
        b = other._data

        def rule(g: np.ndarray) -> None:
            if self.requires_grad:
                Value._accumulate(self, g * b)
            if other.requires_grad:
                Value._accumulate(other, g * a)

        return self._result(a * b, (self, other), "*", rule)

    def __rmul__(self, other: Number) -> Value:
        return self * other

    def __truediv__(self, other: Operand) -> Value:
        a = self._data
        if not isinstance(other, Value):
            _check_nonzero("division", "divisor", np.asarray(other))
            return self._result(a / other, (self,), _constant_label("/", other),
                                lambda g: Value._accumulate(self, g / other))
        b = other._data
        _check_nonzero("division", "divisor", b)
        quotient = a / b

        def rule(g: np.ndarray) -> None:
            if self.requires_grad:
                Value._accumulate(self, g / b)
            if other.requires_grad:
                Value._accumulate(other, -g * (quotient / b))

        return self._result(quotient, (self, other), "/", rule)

    def __rtruediv__(self, other: Number) -> Value:
        """``c / x`` as ``(1 / x) * c``: d/dx = -c / x^2 (the lecture's d(1/x) = -1/x^2 for c = 1)."""
        x = self._data
        _check_nonzero("division", "divisor", x)
        reciprocal = 1 / x
        return self._result(reciprocal * other, (self,), f"{_constant_text(other)}/x",
                            lambda g: Value._accumulate(self, -(g * other) * (reciprocal * reciprocal)))

    def __pow__(self, exponent: float) -> Value:
        """``x ** p`` for a constant ``p``: d/dx = p x^(p-1)."""
        if isinstance(exponent, Value) or np.ndim(exponent) != 0:
            raise TypeError("** supports a constant scalar exponent only (int or float), "
                            f"got {type(exponent).__name__}")
        x = self._data
        if float(exponent) != int(exponent) and (x < 0).any():
            raise ValueError(f"power: base must be >= 0 for the fractional exponent {exponent}, "
                             f"got minimum {x.min()}")
        if exponent < 0:
            _check_nonzero("power", f"base (exponent {exponent} is negative)", x)

        def rule(g: np.ndarray) -> None:
            if exponent != 0:
                with np.errstate(divide="ignore"):  # 0 ** (p - 1) with 0 < p < 1 is inf, as in torch
                    Value._accumulate(self, g * (exponent * x ** (exponent - 1)))

        return self._result(x ** exponent, (self,), f"**{_constant_text(exponent)}", rule)

    def __rpow__(self, base: Number) -> Value:
        raise TypeError("a Value as exponent is not supported; write exp(x * log(c)) for c ** x")

    # -- elementwise functions ------------------------------------------------------------------------
    def exp(self) -> Value:
        x = self._data
        limit = np.log(np.finfo(x.dtype).max)
        if (x > limit).any():
            raise ValueError(f"exp: argument {x.max()} overflows {x.dtype} (limit {limit:.2f}); "
                             "for 1 / (1 + exp(-z)) use .sigmoid(), which is stable for any z")
        y = np.exp(x)
        return self._result(y, (self,), "exp", lambda g: Value._accumulate(self, g * y))

    def log(self) -> Value:
        x = self._data
        if (x <= 0).any():
            raise ValueError(f"log: argument must be > 0, got minimum {x.min()}")
        return self._result(np.log(x), (self,), "log", lambda g: Value._accumulate(self, g / x))

    def tanh(self) -> Value:
        y = np.tanh(self._data)
        return self._result(y, (self,), "tanh", lambda g: Value._accumulate(self, g * (1 - y * y)))

    def sigmoid(self) -> Value:
        y = _stable_sigmoid(self._data)
        return self._result(y, (self,), "sigmoid", lambda g: Value._accumulate(self, g * (1 - y) * y))

    def relu(self) -> Value:
        x = self._data
        return self._result(np.maximum(x, 0), (self,), "relu",
                            lambda g: Value._accumulate(self, g * (x > 0)))

    # -- array operations -----------------------------------------------------------------------------
    def __matmul__(self, other: Operand) -> Value:
        """``A @ B`` for 2-D ``A`` (n, k) and ``B`` (k, p): dA = G B^T, dB = A^T G, G is (n, p)."""
        b_value = other if isinstance(other, Value) else Value(other, requires_grad=False)
        a, b = self._data, b_value._data
        if a.ndim != 2 or b.ndim != 2:
            raise ValueError(f"matmul: both operands must be 2-D, got shapes {a.shape} and {b.shape}")

        def rule(g: np.ndarray) -> None:
            if self.requires_grad:
                Value._accumulate(self, g @ b.T)
            if b_value.requires_grad:
                Value._accumulate(b_value, a.T @ g)

        return self._result(a @ b, (self, b_value), "@", rule)

    def __rmatmul__(self, other: Number) -> Value:
        return Value(other, requires_grad=False) @ self

    @property
    def T(self) -> Value:  # noqa: N802  (numpy's and torch's name)
        return self._result(self._data.T, (self,), "T", lambda g: Value._accumulate(self, g.T))

    def sum(self, axis: int | None = None, keepdims: bool = False) -> Value:
        """Sum over ``axis`` (all axes when None); the gradient is ``g`` broadcast back to the input."""
        shape = self.shape

        def rule(g: np.ndarray) -> None:
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            Value._accumulate(self, np.broadcast_to(g, shape))

        return self._result(self._data.sum(axis=axis, keepdims=keepdims), (self,), "sum", rule)

    def mean(self, axis: int | None = None, keepdims: bool = False) -> Value:
        """Mean over ``axis``: the sum divided by the number of entries reduced."""
        count = self._data.size if axis is None else self.shape[axis]
        return self.sum(axis=axis, keepdims=keepdims) / count

    # -- backward ----------------------------------------------------------------------------------------
    def topological_order(self) -> list[Value]:
        """Every node this one depends on, each after all of its parents (iterative depth-first search)."""
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in reversed(node._parents) if id(parent) not in visited)
        return order

    def backward(self, grad: Number | None = None) -> None:
        """Gradients of this node with respect to every node of its graph (zeroing rule: module docstring).

        ``grad`` is dL/d(this node); it may be omitted for a scalar (one-element) output, where it is 1.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a value that depends on no leaf requiring a gradient")
        if grad is None:
            if self._data.size != 1:
                raise ValueError(f"grad must be given for a non-scalar output of shape {self.shape}")
            grad = np.ones_like(self._data)
        grad = np.asarray(grad, dtype=self._data.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"grad must have the output's shape {self.shape}, got {grad.shape}")
        order = self.topological_order()
        earlier: dict[int, np.ndarray] = {}  # leaves' gradients from previous passes
        for node in order:
            if any(p._version != v for p, v in zip(node._parents, node._parent_versions, strict=True)):
                raise RuntimeError("a value's .data changed after this expression was built from it; "
                                   "rebuild the expression (run the forward pass again) before backward()")
            if node.requires_grad:
                if node.is_leaf:
                    earlier[id(node)] = node.grad
                node.grad = np.zeros_like(node._data)
        self.grad = grad
        for node in reversed(order):
            if node._backward is not None:
                node._backward(node.grad)
        # Sum this pass first, then add it to what the leaf held: old + new, as torch accumulates .grad.
        for node in order:
            if id(node) in earlier:
                node.grad = earlier[id(node)] + node.grad


def zero_grad(values: Iterable[Value]) -> None:
    """Set the gradient of each value to zero (call between training steps: leaves accumulate)."""
    for value in values:
        if value.requires_grad:
            value.grad = np.zeros_like(value.data)


def _constant_text(constant: Number) -> str:
    return f"{float(constant):g}" if np.ndim(constant) == 0 else "c"


def _constant_label(op: str, constant: Number) -> str:
    """Node label for an operation with a constant, e.g. ``+1`` or ``*-1`` as on the slides."""
    return f"{op}{_constant_text(constant)}"


def _check_nonzero(operation: str, name: str, array: np.ndarray) -> None:
    if (array == 0).any():
        raise ValueError(f"{operation}: {name} must be nonzero, got {int(np.count_nonzero(array == 0))} zero(s)")


# -- the lectures' expressions and a training loss, written with the engine ----------------------------
def add_multiply(x: Value, y: Value, z: Value) -> Value:
    """f(x, y, z) = (x + y) z, the lectures' first graph."""
    return (x + y) * z


def logistic_neuron(w0: Value, x0: Value, w1: Value, x1: Value, w2: Value) -> Value:
    """f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))), node by node as on the slides (``*-1``, ``exp``,
    ``+1``, ``1/x``)."""
    return 1 / (1 + (-1 * (w0 * x0 + w1 * x1 + w2)).exp())


def logistic_regression_cost(w: Value, b: Value, X: Value | np.ndarray, Y: np.ndarray) -> Value:
    """J = mean((1 - Y) Z - log(sigmoid(Z))), Z = w^T X + b: ``w`` (n_x, 1), ``b`` (), ``X`` (n_x, m), ``Y`` (1, m).

    The binary cross-entropy -[y log a + (1 - y) log(1 - a)] rewritten with log(1 - a) = log(a) - z, so
    only log(sigmoid(z)) is taken; sigmoid is the stable primitive. Raises at ``log`` if sigmoid(z)
    underflows to 0 (z < -745 in float64), where the fused torch loss would still be finite.
    """
    Z = w.T @ X + b
    return ((1 - Y) * Z - Z.sigmoid().log()).mean()


def value_and_grad(expression: Callable[..., Value], inputs: dict[str, Number]
                   ) -> tuple[Value, dict[str, np.ndarray]]:
    """``expression(**leaves)`` and its gradient with respect to every leaf (scalar output).

    Each input becomes a fresh leaf ``Value`` labelled with its name; returns the output node (whose graph
    can be drawn) and ``{name: leaf.grad}``.
    """
    leaves = {name: Value(value, label=name) for name, value in inputs.items()}
    out = expression(**leaves)
    out.backward()
    return out, {name: leaf.grad for name, leaf in leaves.items()}
