"""What each course function must return, computed with PyTorch in float64 (never with ``scratch``).

Gradients come from ``torch.autograd``, updates from ``torch.optim``, dropout from the masks handed over.
The course's conventions, stated once:

- layout: examples are columns (``X`` is ``(n_x, m)``); a layer is ``torch.nn.functional.linear`` on the
  transposed activations, ``W`` has ``nn.Linear.weight``'s shape and ``b`` is ``(n, 1)``;
- ``dW``, ``db`` are gradients of the mean cost ``J``; the course's ``dA``, ``dZ`` are gradients of the
  summed loss ``m J`` (its ``dA_prev = W^T dZ`` carries no ``1/m``), so they are ``m`` times autograd's;
- a layer's backward follows its cache: ``dZ`` is the vector-Jacobian product of the activation at the
  cached ``Z``, and ``dW``, ``dA_prev`` that of ``Z = W A_prev + b`` at the cached ``A_prev`` and ``W``.

The functions named ``*_variant`` compute what a specific, common bug would return; the diagnosis
compares a failing function's numbers with them. They are hypotheses, not references.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

Arrays = dict[str, np.ndarray]
DTYPE = torch.float64


def tensor(x: object, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=DTYPE, requires_grad=grad)


def array(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy().copy()


ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


def linear(A: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``Z = W A + b`` in the course's column layout, through ``F.linear`` (examples as rows)."""
    return F.linear(A.T, W, b[:, 0]).T


# --- elementwise functions and losses (course 1, week 2) ------------------------------------------------

def sigmoid(x: np.ndarray) -> Arrays:
    return {"s": array(torch.sigmoid(tensor(x)))}


def sigmoid_derivative(x: np.ndarray) -> Arrays:
    z = tensor(x, grad=True)
    (grad,) = torch.autograd.grad(torch.sigmoid(z).sum(), z)
    return {"ds": array(grad)}


def sigmoid_derivative_variant(x: np.ndarray, bug: str) -> Arrays:
    z = tensor(x)
    if bug == "derivative_of_input":  # s = x; ds = s * (1 - s)
        return {"ds": array(z * (1 - z))}
    raise KeyError(bug)


def normalize_rows(x: np.ndarray, dim: int = 1) -> Arrays:
    return {"x": array(F.normalize(tensor(x), p=2.0, dim=dim))}


def softmax_rows(x: np.ndarray, dim: int = 1) -> Arrays:
    return {"s": array(torch.softmax(tensor(x), dim=dim))}


def l1_loss(yhat: np.ndarray, y: np.ndarray, reduction: str = "sum") -> Arrays:
    return {"loss": array(F.l1_loss(tensor(yhat), tensor(y), reduction=reduction))}


def l2_loss(yhat: np.ndarray, y: np.ndarray, reduction: str = "sum") -> Arrays:
    return {"loss": array(F.mse_loss(tensor(yhat), tensor(y), reduction=reduction))}


# --- logistic regression (course 1, week 2) -------------------------------------------------------------

def _logistic_cost(w: torch.Tensor, b: torch.Tensor, X: np.ndarray, Y: np.ndarray) -> torch.Tensor:
    Z = F.linear(tensor(X).T, w.T, b.reshape(1)).T
    return F.binary_cross_entropy_with_logits(Z, tensor(Y))


def propagate(w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray) -> Arrays:
    w_t, b_t = tensor(w, grad=True), tensor(b, grad=True)
    cost = _logistic_cost(w_t, b_t, X, Y)
    dw, db = torch.autograd.grad(cost, (w_t, b_t))
    return {"dw": array(dw), "db": array(db), "cost": array(cost)}


def optimize(w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray, num_iterations: int, learning_rate: float,
             ascent: bool = False) -> Arrays:
    """``torch.optim.SGD`` for ``num_iterations`` steps; the cost of every 100th iteration (before its step).

    ``ascent=True`` is the bug hypothesis ``w = w + learning_rate * dw`` (``SGD(maximize=True)``).
    """
    w_t, b_t = tensor(w, grad=True), tensor(b, grad=True)
    optimizer = torch.optim.SGD([w_t, b_t], lr=learning_rate, maximize=ascent)
    costs, grads = [], None
    for i in range(num_iterations):
        optimizer.zero_grad()
        cost = _logistic_cost(w_t, b_t, X, Y)
        cost.backward()
        grads = (array(w_t.grad), array(b_t.grad))
        optimizer.step()
        if i % 100 == 0:
            costs.append(float(cost.detach()))
    return {"w": array(w_t), "b": array(b_t), "dw": grads[0], "db": grads[1], "costs": np.array(costs)}


def predict_logistic(w: np.ndarray, b: float, X: np.ndarray, at_half: float = 0.0) -> Arrays:
    """Labels where ``sigmoid(w^T X + b) > 0.5``; ``at_half=1`` is the ``>= 0.5`` hypothesis."""
    A = torch.sigmoid(F.linear(tensor(X).T, tensor(w).T, tensor(b).reshape(1)).T)
    labels = (A > 0.5).to(DTYPE) + at_half * (A == 0.5).to(DTYPE)
    return {"Y_prediction": array(labels)}


# --- networks in the course's layout (course 1, weeks 3-4; course 2) ------------------------------------

def forward(X: np.ndarray, params: dict[str, np.ndarray], activations: Sequence[str],
            masks: dict[str, np.ndarray] | None = None, keep_prob: float = 1.0, inverted: bool = True
            ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Leaf parameters and ``{"Z1", "A1", ..., "ZL", "AL"}``, layer ``l`` using ``activations[l - 1]``.

    ``masks["D{l}"]`` applies inverted dropout to ``A{l}`` (``A * D / keep_prob``; ``inverted=False`` is the
    bug hypothesis without the division); the activation before dropout is then kept as ``G{l}``, since the
    course's ``dA{l}`` is the gradient there. Intermediates keep their gradients (``retain_grad``).
    """
    leaves = {name: tensor(value, grad=True) for name, value in params.items()}
    values: dict[str, torch.Tensor] = {}
    A = tensor(X)
    for layer, activation in enumerate(activations, start=1):
        Z = linear(A, leaves[f"W{layer}"], leaves[f"b{layer}"])
        A = ACTIVATIONS[activation](Z)
        if masks and f"D{layer}" in masks:
            A.retain_grad()
            values[f"G{layer}"] = A
            A = A * tensor(masks[f"D{layer}"])
            A = A / keep_prob if inverted else A
        for name, value in ((f"Z{layer}", Z), (f"A{layer}", A)):
            value.retain_grad()
            values[name] = value
    return leaves, values


def bce(AL: torch.Tensor, Y: np.ndarray) -> torch.Tensor:
    """Mean binary cross-entropy of probabilities (``F.binary_cross_entropy``, logs clamped at -100)."""
    return F.binary_cross_entropy(AL, tensor(Y).expand_as(AL))


def l2_penalty(params: dict[str, torch.Tensor], lambd: float, m: int, scale: float = 0.5,
               with_biases: bool = False) -> torch.Tensor:
    """``scale * lambd / m * sum ||W||^2`` (the course's ``lambd / (2 m)`` at ``scale = 0.5``)."""
    names = [k for k in params if k.startswith("W") or (with_biases and k.startswith("b"))]
    return scale * lambd / m * sum((params[k] ** 2).sum() for k in names)


def network_grads(X: np.ndarray, Y: np.ndarray, params: dict[str, np.ndarray], activations: Sequence[str], *,
                  lambd: float = 0.0, masks: dict[str, np.ndarray] | None = None, keep_prob: float = 1.0,
                  with_activation_grads: bool = True) -> Arrays:
    """Autograd of the mean cost (plus the L2 term): ``dW{l}``, ``db{l}``, and the course's ``dZ{l}``,
    ``dA{l}`` (``m`` times autograd's, see the module docstring)."""
    leaves, values = forward(X, params, activations, masks, keep_prob)
    L, m = len(activations), X.shape[1]
    cost = bce(values[f"A{L}"], Y) + (l2_penalty(leaves, lambd, m) if lambd else 0.0)
    cost.backward()
    grads = {f"d{k}": array(v.grad) for k, v in leaves.items()}
    if with_activation_grads:
        grads |= {f"d{k}": m * array(v.grad) for k, v in values.items() if k[0] == "Z" or k[0] == "A" and k != f"A{L}"}
        grads |= {f"dA{k[1:]}": m * array(v.grad) for k, v in values.items() if k[0] == "G"}
    return grads


def layer_backward(dA: np.ndarray, A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, Z: np.ndarray | None,
                   activation: str | None) -> Arrays:
    """One layer's ``(dA_prev, dW, db)`` by vector-Jacobian products at the cached values.

    ``Z``/``activation`` ``None``: ``dA`` is already ``dZ`` (the course's ``linear_backward``).
    """
    if activation is None:
        dZ = tensor(dA)
    else:
        Z_t = tensor(Z, grad=True)
        (dZ,) = torch.autograd.grad(ACTIVATIONS[activation](Z_t), Z_t, grad_outputs=tensor(dA))
    A_t, W_t, b_t = tensor(A_prev, grad=True), tensor(W, grad=True), tensor(b, grad=True)
    dA_prev, dW, db = torch.autograd.grad(linear(A_t, W_t, b_t), (A_t, W_t, b_t), grad_outputs=dZ)
    m = A_prev.shape[1]
    return {"dA_prev": array(dA_prev), "dW": array(dW) / m, "db": array(db) / m}


def course_dAL(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``d(m J)/dAL`` by autograd of the summed cross-entropy, with ``AL`` a leaf (the course's ``dAL``)."""
    AL_t = tensor(AL, grad=True)
    Y_t = tensor(Y)
    loss = -(Y_t * torch.log(AL_t) + (1 - Y_t) * torch.log(1 - AL_t)).sum()
    (dAL,) = torch.autograd.grad(loss, AL_t)
    return array(dAL)


def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: Sequence, bug: str | None = None) -> Arrays:
    """``dA{l-1}``, ``dW{l}``, ``db{l}`` chained layer by layer from the course's ``dAL``.

    ``bug`` hypotheses: ``"sigmoid_prime_on_fused"`` starts from ``dAL = AL - Y`` and still multiplies by
    sigmoid'; ``"hidden_sigmoid_derivative"`` uses sigmoid' in the hidden layers instead of relu';
    ``"cache_next_layer"`` / ``"cache_previous_layer"``: the hidden layers' loop reads ``caches[l + 1]`` /
    ``caches[l - 1]`` where the course reads ``caches[l]`` (Python's ``caches[-1]`` for ``l = 0``).
    """
    dA = np.asarray(AL, float) - np.asarray(Y, float) if bug == "sigmoid_prime_on_fused" else course_dAL(AL, Y)
    grads: Arrays = {}
    shift = {"cache_next_layer": 1, "cache_previous_layer": -1}.get(bug or "", 0)
    for layer in range(len(caches), 0, -1):
        (A_prev, W, b), Z = caches[layer - 1 + (shift if layer < len(caches) else 0)]
        activation = "sigmoid" if layer == len(caches) or bug == "hidden_sigmoid_derivative" else "relu"
        out = layer_backward(dA, A_prev, W, b, Z, activation)
        grads[f"dA{layer - 1}"], grads[f"dW{layer}"], grads[f"db{layer}"] = out["dA_prev"], out["dW"], out["db"]
        dA = out["dA_prev"]
    return grads


def sgd_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float, ascent: bool = False
             ) -> Arrays:
    """One ``torch.optim.SGD`` step with the given gradients (``maximize=True``: the ``+`` bug)."""
    leaves = {k: tensor(v, grad=True) for k, v in params.items()}
    for name, leaf in leaves.items():
        leaf.grad = tensor(grads[f"d{name}"])
    torch.optim.SGD(list(leaves.values()), lr=lr, maximize=ascent).step()
    return {k: array(v) for k, v in leaves.items()}


def momentum_step(params: Arrays, grads: Arrays, v: Arrays, beta: float, lr: float, bug: str | None = None
                  ) -> Arrays:
    """The course's momentum as ``torch.optim.SGD(lr=lr (1 - beta), momentum=beta)``, buffer ``v / (1 - beta)``.

    ``bug="no_dampening"``: ``v = beta v + dW`` (``SGD(lr, momentum=beta)`` with buffer ``v``).
    """
    scale = 1.0 if bug == "no_dampening" else 1 - beta
    leaves = {k: tensor(p, grad=True) for k, p in params.items()}
    optimizer = torch.optim.SGD(list(leaves.values()), lr=lr * scale, momentum=beta)
    for name, leaf in leaves.items():
        leaf.grad = tensor(grads[f"d{name}"])
        optimizer.state[leaf]["momentum_buffer"] = tensor(v[f"d{name}"]) / scale
    optimizer.step()
    out = {k: array(p) for k, p in leaves.items()}
    return out | {f"v_d{k}": array(optimizer.state[p]["momentum_buffer"]) * scale for k, p in leaves.items()}


def adam_step(params: Arrays, grads: Arrays, v: Arrays, s: Arrays, t: int, lr: float, beta1: float, beta2: float,
              eps: float) -> Arrays:
    """The course's Adam step ``t`` as ``torch.optim.Adam`` resumed with ``step = t - 1``, ``exp_avg = v``,
    ``exp_avg_sq = s``; ``v_corrected``/``s_corrected`` are the state's moments over ``1 - beta^t``."""
    leaves = {k: tensor(p, grad=True) for k, p in params.items()}
    optimizer = torch.optim.Adam(list(leaves.values()), lr=lr, betas=(beta1, beta2), eps=eps)
    for name, leaf in leaves.items():
        leaf.grad = tensor(grads[f"d{name}"])
        optimizer.state[leaf] = {"step": torch.tensor(float(t - 1)), "exp_avg": tensor(v[f"d{name}"]),
                                 "exp_avg_sq": tensor(s[f"d{name}"])}
    optimizer.step()
    out = {k: array(p) for k, p in leaves.items()}
    for name, leaf in leaves.items():
        state = optimizer.state[leaf]
        out |= {f"v_d{name}": array(state["exp_avg"]), f"s_d{name}": array(state["exp_avg_sq"]),
                f"v_corrected_d{name}": array(state["exp_avg"]) / (1 - beta1**t),
                f"s_corrected_d{name}": array(state["exp_avg_sq"]) / (1 - beta2**t)}
    return out


def adam_variant(params: Arrays, grads: Arrays, v: Arrays, s: Arrays, t: int, lr: float, beta1: float,
                 beta2: float, eps: float, bug: str) -> Arrays | None:
    """A buggy Adam step, written out: ``no_bias_correction``, ``eps_inside_sqrt``, ``t_plus_one``."""
    if bug == "t_plus_one":
        return adam_step(params, grads, v, s, t + 1, lr, beta1, beta2, eps)
    out: Arrays = {}
    for name, p in params.items():
        g = tensor(grads[f"d{name}"])
        v_new = beta1 * tensor(v[f"d{name}"]) + (1 - beta1) * g
        s_new = beta2 * tensor(s[f"d{name}"]) + (1 - beta2) * g * g
        if bug == "no_bias_correction":
            v_c, s_c = v_new, s_new
        else:
            v_c, s_c = v_new / (1 - beta1**t), s_new / (1 - beta2**t)
        denom = torch.sqrt(s_c + eps) if bug == "eps_inside_sqrt" else torch.sqrt(s_c) + eps
        out |= {name: array(tensor(p) - lr * v_c / denom), f"v_d{name}": array(v_new), f"s_d{name}": array(s_new),
                f"v_corrected_d{name}": array(v_c), f"s_corrected_d{name}": array(s_c)}
    return out


def lr_after(learning_rate0: float, epoch_num: int, factor) -> float:
    """The learning rate of ``torch.optim.lr_scheduler.LambdaLR(factor)`` after ``epoch_num`` epochs."""
    param = torch.zeros(1, dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=learning_rate0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    for _ in range(epoch_num):
        optimizer.step()
        scheduler.step()
    return float(optimizer.param_groups[0]["lr"])
