"""Course 2, week 1, gradient checking: the 1-D ``gradient_check``, the network's ``forward_propagation_n`` /
``backward_propagation_n``, the vector helpers and ``gradient_check_n``.

The assignment's network is LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID with 4 inputs and layers of
5, 3 and 1 units (``vector_to_dictionary`` hard-codes these shapes); ``theta`` is the column of ``W1, b1, W2,
b2, W3, b3``, each raveled row by row (``np.reshape(W, (-1, 1))``).

What ``gradient_check_n`` is checked against. The course's ``gradient_check_n(parameters, gradients, X, Y,
epsilon)`` calls the notebook's own ``forward_propagation_n`` and the vector helpers, so the learner's function
runs with the learner's namespace, as in the notebook (a file without ``forward_propagation_n`` raises a
``NameError``, reported as such). The expected ``difference`` is computed in torch from the reference forward
(the cost ``F.binary_cross_entropy`` of the torch network): the same centred differences
``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` at the same float64 points, then
``||grad - gradapprox|| / (||grad|| + ||gradapprox||)``. A learner whose ``forward_propagation_n`` is wrong
therefore fails ``gradient_check_n`` as well; ``forward_propagation_n``'s own result names the cause.

A correct gradient gives a ``difference`` of finite-difference rounding noise at the course's ``epsilon =
1e-7`` (the published 1.19e-7 changes in its third digit with the order of the cost's operations), which no
tolerance can check. The inputs are therefore chosen so that the number is signal, not noise: the
notebook's published input with its two planted gradient bugs (``dW2 * 2``, ``4 / m`` in ``db1``; torch gives
0.2850931567206388, the published 0.2850931567761623 to 2e-10 relative, and two correct solutions, scratch's
and an independent one, agree with torch to 2e-16 and 2e-10 there), and gradients with one wrong entry at
``epsilon`` 1e-4 ... 1e-2, where the truncation error of the centred difference (a deterministic number)
dominates the rounding (agreement 1e-13 or better).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from compare.check import expected as tx
from compare.check.catalogue import (
    Case,
    Hypothesis,
    Spec,
    WrongReturn,
    dict_entries,
    labels,
    random_params,
    read_tuple,
    read_value,
    register,
    rng,
    zero_example,
)
from compare.check.course2 import GRAD_KEYS, THREE, flat_cache, network_values, params_of, read_grads, relu_zeros

KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
SHAPES = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}
DIMS = [4, 5, 3, 1]

# --- the 1-D gradient check (J = theta x) -----------------------------------------------------------------


def _scalar_check_cases() -> list[Case]:
    return [Case("published x = 3, theta = 4", (3, 4)), Case("published 2017/18 x = 2, theta = 4", (2, 4)),
            Case("negative x", (-1.5, 0.25)),
            Case("theta = 1000 (theta + epsilon rounded)", (3.0, 1000.0)),
            Case("epsilon = 1e-3", (0.7, -2.0, 1e-3))]


def _scalar_check_expected(case: Case, denominator: bool = True, span: float = 2.0) -> dict:
    """``gradapprox`` from ``J = theta x`` at ``theta +- epsilon``, ``grad`` by autograd, their relative
    difference; ``span = 1`` is the epsilon-not-doubled hypothesis, ``denominator=False`` the bare norm."""
    x, theta = tx.tensor(case.args[0]), tx.tensor(case.args[1], grad=True)
    epsilon = case.args[2] if len(case.args) > 2 else 1e-7
    (grad,) = torch.autograd.grad(theta * x, theta)
    with torch.no_grad():
        gradapprox = ((theta + epsilon) * x - (theta - epsilon) * x) / (span * epsilon)
        difference = _difference(grad.reshape(1, 1), gradapprox.reshape(1, 1), "relative" if denominator else "none")
    return {"difference": tx.array(difference)}


def _difference(grad: torch.Tensor, gradapprox: torch.Tensor, denominator: str = "relative") -> torch.Tensor:
    """``||grad - gradapprox||`` over ``||grad|| + ||gradapprox||`` (the course's), over ``||grad + gradapprox||``
    (``"norm_of_sum"``) or over nothing (``"none"``)."""
    numerator = torch.linalg.norm(grad - gradapprox)
    if denominator == "none":
        return numerator
    if denominator == "norm_of_sum":
        return numerator / torch.linalg.norm(grad + gradapprox)
    return numerator / (torch.linalg.norm(grad) + torch.linalg.norm(gradapprox))


# --- the network and its vectors ----------------------------------------------------------------------


def _published() -> tuple[np.ndarray, np.ndarray, dict]:
    """The notebook's input: ``np.random.seed(1)``, then X (4, 3), W1, b1, W2, b2, W3, b3; ``Y`` is 1-D."""
    legacy = np.random.RandomState(1)
    X = legacy.randn(4, 3)
    params = {k: legacy.randn(*SHAPES[k]) for k in KEYS}
    return X, np.array([1, 1, 0]), params


def _network_inputs(with_zero: bool = False) -> list[tuple[str, np.ndarray, np.ndarray, dict]]:
    X, Y, params = _published()
    inputs = [("published", X, Y, params)]
    for index, m in enumerate((1, 7)):
        gen = rng(120 + index)
        inputs.append((f"m = {m}", gen.standard_normal((4, m)), labels(gen, m), random_params(gen, DIMS, 0.8)))
    if with_zero:
        gen = rng(123)
        X, params = zero_example(gen.standard_normal((4, 6)), random_params(gen, DIMS, 0.8))
        inputs.append(("Z = 0 exactly", X, labels(gen, 6), params))
    return inputs


def _course_gradients(X: np.ndarray, Y: np.ndarray, params: dict) -> dict:
    """``backward_propagation_n``'s dict, by autograd, in the course's key order (dZ3, dW3, db3, dA2, ...)."""
    grads = tx.network_grads(X, Y, params, THREE)
    return {k: grads[k] for k in GRAD_KEYS}


def _forward_n_expected(case: Case) -> dict:
    X, Y, params = case.args
    leaves, values = tx.forward(X, params, THREE)
    cost = tx.bce(values["A3"], Y)
    return {"cost": tx.array(cost)} | {f"cache {k}": tx.array(values[k]) for k in ("Z1", "A1", "Z2", "A2", "Z3", "A3")}


def _read_forward_n(ret: object, case: Case) -> dict:
    cost, cache = read_tuple("cost", "cache")(ret, case).values()
    if not isinstance(cache, (tuple, list)) or len(cache) != 12:
        raise WrongReturn("cache must be the 12-tuple (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)")
    picks = {"Z1": 0, "A1": 1, "Z2": 4, "A2": 5, "Z3": 8, "A3": 9}
    return {"cost": cost} | {f"cache {k}": cache[i] for k, i in picks.items()}


def _backward_n_cases() -> list[Case]:
    cases = []
    for label, X, Y, params in _network_inputs(with_zero=True):
        values = network_values(X, params)
        cases.append(Case(label, (X, Y, flat_cache(values, params)), m=X.shape[1], zeros=relu_zeros(values)))
    return cases


def _flatten(arrays: dict, keys: tuple[str, ...], order: str = "C") -> np.ndarray:
    """The column ``(n, 1)`` of ``arrays[k]`` for ``k`` in ``keys``, each raveled row by row (torch's
    ``reshape``) or, for ``order="F"``, column by column (the transpose's rows)."""
    blocks = [tx.tensor(arrays[k]) for k in keys]
    return tx.array(torch.cat([(b.T if order == "F" else b).reshape(-1, 1) for b in blocks]))


def _vector_cases() -> list[Case]:
    X, Y, params = _published()
    gen = rng(125)
    other = random_params(gen, DIMS)
    return [Case("published", (params,)), Case("random", (other,)),
            Case("keys given in another order (sorted)", ({k: other[k] for k in sorted(other)},))]


def _read_dict_to_vector(ret: object, case: Case) -> dict:
    theta, keys = read_tuple("theta", "keys")(ret, case).values()
    if isinstance(keys, (list, tuple, np.ndarray)) and all(isinstance(k, str) for k in keys):
        keys = np.array([KEYS.index(k) if k in KEYS else -1 for k in keys], dtype=float)  # names as positions
    return {"theta": theta, "keys (as positions in W1, b1, ..., b3)": keys}


def _dict_to_vector_expected(case: Case, keys: Callable[[dict], tuple[str, ...]] = lambda p: KEYS,
                             order: str = "C") -> dict:
    (params,) = case.args
    names = keys(params)
    positions = np.concatenate([np.full(np.size(params[k]), KEYS.index(k), dtype=float) for k in names])
    return {"theta": _flatten(params, names, order), "keys (as positions in W1, b1, ..., b3)": positions}


def _unflatten(theta: torch.Tensor, order: str = "C") -> dict[str, torch.Tensor]:
    """``vector_to_dictionary`` in torch: consecutive slices of ``theta`` reshaped to the course's shapes."""
    out, start = {}, 0
    for key in KEYS:
        rows, cols = SHAPES[key]
        block = theta.reshape(-1)[start:start + rows * cols]
        out[key] = block.reshape(rows, cols) if order == "C" else block.reshape(cols, rows).T
        start += rows * cols
    return out


def _vector_to_dict_cases() -> list[Case]:
    gen = rng(126)
    return [Case("published", (_flatten(_published()[2], KEYS),)), Case("random", (gen.standard_normal((47, 1)),)),
            Case("0, 1, ..., 46", (np.arange(47.0).reshape(47, 1),))]


def _vector_to_dict_expected(case: Case, order: str = "C") -> dict:
    return {k: tx.array(v) for k, v in _unflatten(tx.tensor(case.args[0]), order).items()}


def _gradients_to_vector_cases() -> list[Case]:
    return [Case(label, (_course_gradients(X, Y, params),)) for label, X, Y, params in _network_inputs()]


def _gradients_to_vector_expected(case: Case, keys: Callable[[dict], tuple[str, ...]] | None = None,
                                  order: str = "C") -> dict:
    (gradients,) = case.args
    names = keys(gradients) if keys else tuple(f"d{k}" for k in KEYS)
    return {"theta": _flatten(gradients, names, order)}


def _dict_order(arrays: dict) -> tuple[str, ...]:
    """The parameters' (or gradients') own order, as ``for key in parameters`` walks it."""
    return tuple(k for k in arrays if k[-2:-1] in ("W", "b"))


# --- gradient_check_n ---------------------------------------------------------------------------------


def _cost_at(X: np.ndarray, Y: np.ndarray) -> Callable[[torch.Tensor], float]:
    """``J(theta)``: the torch network's mean cross-entropy at the parameters the column ``theta`` holds."""
    inputs = tx.tensor(X)

    def cost(theta: torch.Tensor) -> torch.Tensor:
        params = _unflatten(theta)
        A = inputs
        for layer, activation in enumerate(THREE, start=1):
            A = tx.ACTIVATIONS[activation](tx.linear(A, params[f"W{layer}"], params[f"b{layer}"]))
        return F.binary_cross_entropy(A, tx.tensor(Y).expand_as(A))

    return cost


@torch.no_grad()
def gradapprox(cost: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, epsilon: float,
               scheme: str = "centred") -> torch.Tensor:
    """The course's loop over the entries of ``theta``, each point computed as the numpy code computes it.

    ``scheme``: ``"centred"`` (the course's); the bug hypotheses ``"one_sided"`` (``(J_plus - J) / epsilon``),
    ``"eps_not_doubled"`` (centred over ``epsilon``), ``"plus_not_copied"`` (``theta_plus = parameters_values``:
    every ``+ epsilon`` stays in ``parameters_values`` and in the later points), ``"minus_not_copied"`` and
    ``"none_copied"`` (both aliases: ``J_minus`` is taken back at ``theta``).
    """
    base = theta.clone()
    J = cost(base) if scheme == "one_sided" else None
    approx = torch.zeros_like(theta)
    for i in range(theta.shape[0]):
        plus = base if scheme in ("plus_not_copied", "none_copied") else base.clone()
        plus[i, 0] = plus[i, 0] + epsilon
        J_plus = cost(plus)
        if scheme == "one_sided":
            approx[i, 0] = (J_plus - J) / epsilon
            continue
        minus = base if scheme in ("minus_not_copied", "none_copied") else base.clone()
        minus[i, 0] = minus[i, 0] - epsilon
        J_minus = cost(minus)
        approx[i, 0] = (J_plus - J_minus) / ((1 if scheme == "eps_not_doubled" else 2) * epsilon)
    return approx


def _gradient_check_n_cases() -> list[Case]:
    inputs = _network_inputs()
    _, X, Y, params = inputs[0]
    planted = _course_gradients(X, Y, params)
    planted = planted | {"dW2": planted["dW2"] * 2, "db1": planted["db1"] * 4}  # the notebook's two bugs
    cases = [Case("published, with the notebook's two gradient bugs (dW2 * 2, 4 / m in db1)",
                  (params, planted, X, Y, 1e-7))]
    for (label, X, Y, params), epsilon, (wrong, by) in zip(inputs, (1e-3, 1e-4, 1e-2),
                                                           (("dW3", 1e-3), ("db3", 0.05), ("dW1", 0.05)), strict=True):
        gradients = _course_gradients(X, Y, params)
        changed = gradients[wrong].copy()
        changed.flat[0] += by  # one wrong entry: the difference is then signal, not rounding noise
        cases.append(Case(f"{label}, {wrong}[0] off by {by:g}, epsilon = {epsilon:g}",
                          (params, gradients | {wrong: changed}, X, Y, epsilon)))
    return cases


def _gradient_check_n_expected(case: Case, scheme: str = "centred", denominator: str = "relative") -> dict:
    params, gradients, X, Y, epsilon = case.args
    theta = tx.tensor(_flatten(params, KEYS))
    approx = gradapprox(_cost_at(X, Y), theta, epsilon, scheme)
    grad = tx.tensor(_flatten(gradients, tuple(f"d{k}" for k in KEYS)))
    return {"difference": tx.array(_difference(grad, approx, denominator))}


register(
    Spec("gradient_check", "c2w1", ("x", "theta", "epsilon"), _scalar_check_cases, read_value("difference"),
         _scalar_check_expected,
         (Hypothesis("gradcheck_eps_not_doubled", lambda c: _scalar_check_expected(c, span=1.0)),
          Hypothesis("gradcheck_no_denominator", lambda c: _scalar_check_expected(c, denominator=False)))),
    Spec("forward_propagation_n", "c2w1", ("X", "Y", "parameters"),
         lambda: [Case(label, (X, Y, params), m=X.shape[1]) for label, X, Y, params in _network_inputs(True)],
         _read_forward_n, _forward_n_expected),
    Spec("backward_propagation_n", "c2w1", ("X", "Y", "cache"), _backward_n_cases, read_grads,
         lambda c: tx.network_grads(c.args[0], c.args[1], params_of(c.args[2]), THREE)),
    Spec("dictionary_to_vector", "c2w1", ("parameters",), _vector_cases, _read_dict_to_vector,
         _dict_to_vector_expected,
         (Hypothesis("gradcheck_key_order", lambda c: {"theta": _dict_to_vector_expected(c, _dict_order)["theta"]}),
          Hypothesis("gradcheck_column_major", lambda c: {"theta": _dict_to_vector_expected(c, order="F")["theta"]}))),
    Spec("vector_to_dictionary", "c2w1", ("theta",), _vector_to_dict_cases,
         lambda ret, c: dict_entries(ret, list(KEYS)), _vector_to_dict_expected,
         (Hypothesis("gradcheck_column_major", lambda c: _vector_to_dict_expected(c, "F")),)),
    Spec("gradients_to_vector", "c2w1", ("gradients",), _gradients_to_vector_cases, read_value("theta"),
         _gradients_to_vector_expected,
         (Hypothesis("gradcheck_key_order", lambda c: _gradients_to_vector_expected(c, _dict_order)),
          Hypothesis("gradcheck_key_order", lambda c: _gradients_to_vector_expected(c, lambda g: tuple(
              sorted(k for k in g if k[:2] in ("dW", "db"))))),
          Hypothesis("gradcheck_column_major", lambda c: _gradients_to_vector_expected(c, order="F")))),
    Spec("gradient_check_n", "c2w1", ("parameters", "gradients", "X", "Y", "epsilon"), _gradient_check_n_cases,
         read_value("difference"), _gradient_check_n_expected,
         (*(Hypothesis(f"gradcheck_{bug}", lambda c, scheme=scheme: _gradient_check_n_expected(c, scheme))
            for bug, scheme in (("one_sided", "one_sided"), ("eps_not_doubled", "eps_not_doubled"),
                                ("no_copy", "plus_not_copied"), ("no_copy", "minus_not_copied"),
                                ("no_copy", "none_copied"))),
          Hypothesis("gradcheck_no_denominator", lambda c: _gradient_check_n_expected(c, denominator="none")),
          Hypothesis("gradcheck_denominator_norm_of_sum",
                     lambda c: _gradient_check_n_expected(c, denominator="norm_of_sum")))),
)
