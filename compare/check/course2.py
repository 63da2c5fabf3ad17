"""Course 2 (weeks 1-2): initialization, regularization, dropout, mini-batches, momentum, Adam, decay.

The regularization assignment's network is LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID with the
course's flat caches ``(Z1, A1, W1, b1, ..., Z3, A3, W3, b3)`` (with ``D1``, ``D2`` after ``Z1``, ``Z2``
under dropout). Dropout masks are handed over: the forward is checked against the course's own draws
(``np.random.seed(1)``, then ``rand(...) < keep_prob`` for D1 and D2), the backward against torch's
autograd through the masks given in the cache.
"""

from __future__ import annotations

import numpy as np
import torch

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
from compare.check.course1 import init_spec, legacy_draws, read_params, update_cases, update_expected

THREE = ("relu", "relu", "sigmoid")
GRAD_KEYS = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")

# --- week 1: initialization ---------------------------------------------------------------------------

DIMS = [[3, 2, 1], [3, 1, 2], [2, 4, 1], [5, 20, 10, 1]]


def _he(n_in: int, n_out: int) -> float:
    """``torch.nn.init.kaiming_normal_``'s std for ReLU: ``gain / sqrt(fan_in)`` with gain ``sqrt(2)``."""
    return torch.nn.init.calculate_gain("relu") / np.sqrt(n_in)


register(
    Spec("initialize_parameters_zeros", "c2w1", ("layers_dims",),
         lambda: [Case(f"layers_dims {d}", (d,)) for d in DIMS],
         lambda ret, c: dict_entries(ret, [f"{p}{k}" for k in range(1, len(c.args[0])) for p in "Wb"]),
         lambda c: legacy_draws(0, c.args[0], lambda n_in, n_out: 0.0)),
    init_spec("initialize_parameters_random", "c2w1", 3, 0, DIMS, lambda n_in, n_out: 10.0, split=False),
    init_spec("initialize_parameters_he", "c2w1", 3, 0, DIMS, _he, split=False,
               hypotheses=(Hypothesis("he_fan_out", lambda c: legacy_draws(3, c.args[0],
                                                                           lambda n_in, n_out: _he(n_out, 0))),)),
)

# --- week 1: L2 regularization and dropout ---------------------------------------------------------------


def _three_layer_inputs() -> list[tuple[str, np.ndarray, dict, np.ndarray]]:
    legacy = np.random.RandomState(1)
    X = legacy.randn(3, 5)
    published = {k: legacy.randn(*s) for k, s in (("W1", (2, 3)), ("b1", (2, 1)), ("W2", (3, 2)), ("b2", (3, 1)),
                                                  ("W3", (1, 3)), ("b3", (1, 1)))}
    inputs = [("published", X, published, np.array([[1, 1, 0, 1, 0]]))]
    for index, (label, dims, m) in enumerate((("m = 1", [3, 2, 3, 1], 1), ("one hidden unit", [3, 1, 1, 1], 4),
                                              ("wide", [5, 20, 10, 1], 7))):
        gen = rng(80 + index)
        inputs.append((label, gen.standard_normal((dims[0], m)), random_params(gen, dims), labels(gen, m)))
    gen = rng(84)
    X, params = zero_example(gen.standard_normal((4, 6)), random_params(gen, [4, 3, 3, 1]))
    inputs.append(("Z = 0 exactly", X, params, labels(gen, 6)))
    return inputs


def network_values(X: np.ndarray, params: dict, masks: dict | None = None, keep_prob: float = 1.0) -> dict:
    """The 3-layer network's ``Z{l}``, ``A{l}`` (and ``G{l}`` under dropout) as arrays, by torch."""
    _, values = tx.forward(X, params, THREE, masks, keep_prob)
    return {k: tx.array(v) for k, v in values.items()}


def flat_cache(values: dict, params: dict, masks: dict | None = None) -> tuple:
    """The course's flat cache ``(Z1, [D1,] A1, W1, b1, ..., Z3, A3, W3, b3)``."""
    cache = []
    for layer in (1, 2, 3):
        mask = (masks[f"D{layer}"],) if masks and f"D{layer}" in masks else ()
        cache += [values[f"Z{layer}"], *mask, values[f"A{layer}"], params[f"W{layer}"], params[f"b{layer}"]]
    return tuple(cache)


def relu_zeros(values: dict) -> dict:
    """Where the hidden ``Z`` are exactly 0, keyed by the ``dZ`` they mark (relu'(0) diagnosis)."""
    return {"dZ2": values["Z2"] == 0, "dZ1": values["Z1"] == 0}


def _cost_reg_cases() -> list[Case]:
    cases = []
    for index, (label, X, params, Y) in enumerate(_three_layer_inputs()):
        A3 = network_values(X, params)["A3"]
        cases.append(Case(label, (A3, Y, params, 0.1 + 0.3 * index), m=X.shape[1]))
    return cases


def _cost_reg_expected(case: Case, scale: float = 0.5, with_biases: bool = False) -> dict:
    A3, Y, params, lambd = case.args
    leaves = {k: tx.tensor(v) for k, v in params.items()}
    cost = tx.bce(tx.tensor(A3), Y) + tx.l2_penalty(leaves, lambd, A3.shape[1], scale, with_biases)
    return {"cost": tx.array(cost)}


def _backward_reg_cases() -> list[Case]:
    cases = []
    for index, (label, X, params, Y) in enumerate(_three_layer_inputs()):
        values = network_values(X, params)
        cases.append(Case(label, (X, Y, flat_cache(values, params), 0.7 + 0.1 * index), m=X.shape[1],
                          zeros=relu_zeros(values)))
    return cases


#: Where W{l} sits in the course's flat caches (b{l} follows it).
_W_INDEX = {False: {1: 2, 2: 6, 3: 10}, True: {1: 3, 2: 8, 3: 12}}


def params_of(cache: tuple, with_masks: bool = False) -> dict:
    """``W{l}``, ``b{l}`` read back from a flat cache (with masks: the dropout layout)."""
    index = _W_INDEX[with_masks]
    return {f"{p}{k}": np.asarray(cache[index[k] + i], float) for k in (1, 2, 3) for i, p in enumerate("Wb")}


def _masks_of(cache: tuple) -> dict:
    return {"D1": np.asarray(cache[1], float), "D2": np.asarray(cache[6], float)}


def _backward_reg_expected(case: Case, lambd_scale: float = 1.0, with_biases: bool = False) -> dict:
    X, Y, cache, lambd = case.args
    params = params_of(cache)
    if with_biases:
        grads = tx.network_grads(X, Y, params, THREE, lambd=lambd)
        m = X.shape[1]
        return grads | {f"db{k}": grads[f"db{k}"] + lambd / m * params[f"b{k}"] for k in (1, 2, 3)}
    if lambd_scale != 1.0:
        grads = tx.network_grads(X, Y, params, THREE)
        m = X.shape[1]
        return grads | {f"dW{k}": grads[f"dW{k}"] + lambd_scale * lambd / m * params[f"W{k}"] for k in (1, 2, 3)}
    return tx.network_grads(X, Y, params, THREE, lambd=lambd)


def read_grads(ret: object, case: Case) -> dict:
    """The course's gradient dict of the 3-layer network (``dZ3``, ``dW3``, ..., ``db1``)."""
    return dict_entries(ret, list(GRAD_KEYS), what="gradients")


def _dropout_forward_cases() -> list[Case]:
    return [Case(label, (X, params, keep_prob)) for (label, X, params, _), keep_prob in
            zip(_three_layer_inputs(), (0.7, 0.8, 0.5, 0.9, 0.6), strict=True)]


def _course_masks(case: Case, draw: str = "rand<") -> dict:
    """The course's masks: ``np.random.seed(1)``, then ``rand(n_1, m) < keep_prob`` (D1), then D2."""
    X, params, keep_prob = case.args
    legacy = np.random.RandomState(1)
    masks = {}
    for layer in (1, 2):
        shape = (params[f"W{layer}"].shape[0], X.shape[1])
        draws = legacy.randn(*shape) if draw == "randn<" else legacy.rand(*shape)
        masks[f"D{layer}"] = (draws > keep_prob if draw == "rand>" else draws < keep_prob).astype(float)
    return masks


def _dropout_forward_expected(case: Case, draw: str = "rand<", inverted: bool = True) -> dict:
    X, params, keep_prob = case.args
    masks = _course_masks(case, draw)
    _, values = tx.forward(X, params, THREE, masks, keep_prob, inverted)
    v = {k: tx.array(value) for k, value in values.items()}
    return {"A3": v["A3"], "cache Z1": v["Z1"], "cache D1": masks["D1"], "cache A1": v["A1"], "cache Z2": v["Z2"],
            "cache D2": masks["D2"], "cache A2": v["A2"], "cache Z3": v["Z3"]}


def _read_dropout_forward(ret: object, case: Case) -> dict:
    A3, cache = read_tuple("A3", "cache")(ret, case).values()
    if not isinstance(cache, (tuple, list)) or len(cache) != 14:
        raise WrongReturn("cache must be the 14-tuple (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)")
    picks = {"Z1": 0, "D1": 1, "A1": 2, "Z2": 5, "D2": 6, "A2": 7, "Z3": 10}
    return {"A3": A3} | {f"cache {k}": cache[i] for k, i in picks.items()}


def _dropout_backward_cases() -> list[Case]:
    cases = []
    for index, (label, X, params, Y) in enumerate(_three_layer_inputs()):
        keep_prob = (0.8, 0.7, 0.5, 0.9, 0.6)[index]
        gen = rng(90 + index)
        masks = {f"D{k}": (gen.random((params[f"W{k}"].shape[0], X.shape[1])) < keep_prob).astype(float)
                 for k in (1, 2)}
        values = network_values(X, params, masks, keep_prob)
        cases.append(Case(label, (X, Y, flat_cache(values, params, masks), keep_prob), m=X.shape[1],
                          zeros=relu_zeros(values)))
    return cases


def _dropout_backward_expected(case: Case) -> dict:
    X, Y, cache, keep_prob = case.args
    return tx.network_grads(X, Y, params_of(cache, True), THREE, masks=_masks_of(cache), keep_prob=keep_prob)


def _dropout_backward_variant(case: Case, bug: str, relu_from: str) -> dict:
    """Layer-by-layer autograd with the mask (or its scale) left out of the backward pass; relu' taken as the
    course writes it (``A > 0`` with the cached, dropped-out ``A``) or from ``Z > 0``."""
    X, Y, cache, keep_prob = case.args
    params, masks = params_of(cache, True), _masks_of(cache)
    A = {1: np.asarray(cache[2], float), 2: np.asarray(cache[7], float), 0: X}
    Z = {1: cache[0], 2: cache[5]}
    grads = {"dZ3": np.asarray(cache[11], float) - Y}
    dZ = grads["dZ3"]
    for layer in (3, 2, 1):
        out = tx.layer_backward(dZ, A[layer - 1], params[f"W{layer}"], params[f"b{layer}"], None, None)
        grads |= {f"dW{layer}": out["dW"], f"db{layer}": out["db"]}
        if layer > 1:
            dA = out["dA_prev"]
            dA = dA / keep_prob if bug == "dropout_no_mask_backward" else dA * masks[f"D{layer - 1}"]
            grads[f"dA{layer - 1}"] = dA
            active = (A if relu_from == "A" else Z)[layer - 1] > 0
            dZ = grads[f"dZ{layer - 1}"] = dA * active
    return grads


#: The initialization and regularization notebooks give their 3-layer network under the names the gradient
#: checking notebook uses for its scalar ``J = theta * x`` (init_utils.py, reg_utils.py).
THREE_LAYER_FORWARD = ("X", "parameters")
THREE_LAYER_BACKWARD = ("X", "Y", "cache")


def _scalar_cases() -> list[Case]:
    return [Case("published", (2, 4)), Case("published", (3, 4)), Case("negative", (-1.5, 0.25))]


def _scalar_grad(case: Case) -> dict:
    x, theta = case.args
    theta_t = tx.tensor(theta, grad=True)
    (grad,) = torch.autograd.grad(theta_t * x, theta_t)
    return {"dtheta": tx.array(grad)}


register(
    Spec("forward_propagation", "c2w1", ("x", "theta"), _scalar_cases, read_value("J"),
         lambda c: {"J": tx.array(tx.tensor(c.args[1]) * c.args[0])},
         helpers_named_alike=(THREE_LAYER_FORWARD,)),
    Spec("backward_propagation", "c2w1", ("x", "theta"), _scalar_cases, read_value("dtheta"), _scalar_grad,
         helpers_named_alike=(THREE_LAYER_BACKWARD,)),
    Spec("compute_cost_with_regularization", "c2w1", ("A3", "Y", "parameters", "lambd"), _cost_reg_cases,
         read_value("cost"), _cost_reg_expected,
         (Hypothesis("l2_missing", lambda c: _cost_reg_expected(c, scale=0.0)),
          Hypothesis("l2_double", lambda c: _cost_reg_expected(c, scale=1.0)),
          Hypothesis("l2_on_biases", lambda c: _cost_reg_expected(c, with_biases=True)))),
    Spec("backward_propagation_with_regularization", "c2w1", ("X", "Y", "cache", "lambd"), _backward_reg_cases,
         read_grads, _backward_reg_expected,
         (Hypothesis("l2_missing", lambda c: _backward_reg_expected(c, lambd_scale=0.0)),
          Hypothesis("l2_half", lambda c: _backward_reg_expected(c, lambd_scale=0.5)),
          Hypothesis("l2_on_biases", lambda c: _backward_reg_expected(c, with_biases=True)))),
    Spec("forward_propagation_with_dropout", "c2w1", ("X", "parameters", "keep_prob"), _dropout_forward_cases,
         _read_dropout_forward, _dropout_forward_expected,
         (Hypothesis("dropout_not_inverted", lambda c: _dropout_forward_expected(c, inverted=False)),
          Hypothesis("dropout_mask_inverted", lambda c: _dropout_forward_expected(c, draw="rand>")),
          Hypothesis("dropout_mask_randn", lambda c: _dropout_forward_expected(c, draw="randn<")))),
    Spec("backward_propagation_with_dropout", "c2w1", ("X", "Y", "cache", "keep_prob"), _dropout_backward_cases,
         read_grads, _dropout_backward_expected,
         tuple(Hypothesis(bug, lambda c, bug=bug, relu_from=relu_from: _dropout_backward_variant(c, bug, relu_from))
               for bug in ("dropout_no_mask_backward", "dropout_no_scale_backward") for relu_from in "AZ")),
)

# --- week 2: optimization ------------------------------------------------------------------------------


def _minibatch_cases() -> list[Case]:
    legacy = np.random.RandomState(1)
    X, Y = legacy.randn(5, 7), legacy.randn(1, 7) < 0.5
    cases = [Case("published", (X, Y, 2))]
    for index, (m, size, seed) in enumerate(((8, 4, 0), (1, 64, 0), (10, 3, 5), (148, 64, 0))):
        gen = rng(100 + index)
        args = (gen.standard_normal((3, m)), labels(gen, m), size) + ((seed,) if seed else ())
        cases.append(Case(f"m = {m}, mini_batch_size = {size}" + (f", seed = {seed}" if seed else ""), args))
    return cases


def _minibatch_expected(case: Case, bug: str | None = None) -> dict:
    X, Y, size = case.args[:3]
    seed = case.args[3] if len(case.args) > 3 else 0
    m = X.shape[1]
    permutation = np.random.RandomState(case.legacy_seed if bug == "not_seeded" else seed).permutation(m)
    X_batches = torch.split(tx.tensor(X)[:, permutation], size, dim=1)
    Y_batches = torch.split(tx.tensor(Y)[:, permutation if bug != "minibatch_y_not_shuffled" else slice(None)],
                            size, dim=1)
    if bug == "minibatch_last_dropped" and m % size:
        X_batches, Y_batches = X_batches[:-1], Y_batches[:-1]
    out: dict = {"number of mini-batches": len(X_batches)}
    for k, (Xb, Yb) in enumerate(zip(X_batches, Y_batches, strict=True)):
        out |= {f"mini_batch_X {k}": tx.array(Xb), f"mini_batch_Y {k}": tx.array(Yb)}
    return out


def _read_minibatches(ret: object, case: Case) -> dict:
    if not isinstance(ret, (list, tuple)):
        raise WrongReturn(f"expected a list of (mini_batch_X, mini_batch_Y), got {type(ret).__name__}")
    out: dict = {"number of mini-batches": len(ret)}
    for k, batch in enumerate(ret):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise WrongReturn(f"mini-batch {k} must be a pair (mini_batch_X, mini_batch_Y)")
        out |= {f"mini_batch_X {k}": batch[0], f"mini_batch_Y {k}": batch[1]}
    return out


def _optimizer_cases(zero_state: bool, with_t: bool = False) -> list[Case]:
    legacy = np.random.RandomState(1)
    shapes = (("W1", (2, 3)), ("b1", (2, 1)), ("W2", (3, 2)), ("b2", (3, 1)))
    params = {k: legacy.randn(*s) for k, s in shapes}
    grads = {f"d{k}": legacy.randn(*s) for k, s in shapes}
    v, s = ({f"d{k}": np.zeros(shape) for k, shape in shapes} for _ in range(2))
    hyper = (2, 0.02, 0.8, 0.888, 1e-2) if with_t else (0.9, 0.01)
    cases = [Case("published", (params, grads, v, s, *hyper) if with_t else (params, grads, v, *hyper))]
    for index, (label, dims, t) in enumerate((("random", [4, 3, 1], 1), ("deep", [3, 3, 3, 3, 1], 7),
                                              ("one hidden unit", [2, 1, 1], 3))):
        gen = rng(110 + index)
        params = random_params(gen, dims)
        grads = {f"d{k}": gen.standard_normal(v.shape) for k, v in params.items()}
        state = [{f"d{k}": (0 if zero_state else 0.1) * gen.standard_normal(v.shape) ** power
                  for k, v in params.items()} for power in (1, 2)]
        if with_t:
            cases.append(Case(label, (params, grads, state[0], state[1], t, 0.01, 0.9, 0.999, 1e-8)))
        else:
            cases.append(Case(label, (params, grads, state[0], 0.9, 0.05)))
    return cases


def _read_momentum(ret: object, case: Case) -> dict:
    params, v = read_tuple("parameters", "v")(ret, case).values()
    keys = list(case.args[0])
    return (dict_entries(params, keys, what="parameters")
            | dict_entries(v, [f"d{k}" for k in keys], prefix="v_", what="v"))


def _read_adam(ret: object, case: Case) -> dict:
    names = ("parameters", "v", "s", "v_corrected", "s_corrected")
    values = read_tuple(*names)(ret, case)
    keys = list(case.args[0])
    out = dict_entries(values["parameters"], keys, what="parameters")
    for name in names[1:]:
        out |= dict_entries(values[name], [f"d{k}" for k in keys], prefix=f"{name}_", what=name)
    return out


def _zeros_like_grads(case: Case, prefix: str = "") -> dict:
    return {f"{prefix}d{k}": tx.array(torch.zeros_like(tx.tensor(v))) for k, v in case.args[0].items()}


def _read_zero_dicts(*names: str):
    def read(ret: object, case: Case) -> dict:
        values = read_tuple(*names)(ret, case).values() if len(names) > 1 else (ret,)
        keys = [f"d{k}" for k in case.args[0]]
        out = {}
        for name, value in zip(names, values, strict=True):
            out |= dict_entries(value, keys, prefix=f"{name}_", what=name)
        return out
    return read


def _param_cases() -> list[Case]:
    return [Case(c.label, (c.args[0],)) for c in _optimizer_cases(zero_state=True)]


def _schedule_cases() -> list[Case]:
    published = [(0.5, 100, 1, 100), (0.5, 10, 1, 100), (0.3, 1000, 0.25, 100), (0.3, 100, 0.25, 100),
                 (0.5, 10, 0.3, 100), (0.5, 100, 0.3, 100)]
    return [Case(f"published {args}", args) for args in published]


def _schedule_expected(case: Case, floor: bool = True) -> dict:
    lr0, epoch, decay, interval = case.args
    factor = (lambda e: 1 / (1 + decay * (e // interval))) if floor else (lambda e: 1 / (1 + decay * e / interval))
    return {"learning_rate": tx.lr_after(lr0, epoch, factor)}


register(
    Spec("update_parameters_with_gd", "c2w2", ("parameters", "grads", "learning_rate"),
         lambda: update_cases(deep=True, with_default=False), read_params(), lambda c: update_expected(c, 0.0),
         (Hypothesis("gradient_ascent", lambda c: update_expected(c, 0.0, ascent=True)),)),
    Spec("random_mini_batches", "c2w2", ("X", "Y", "mini_batch_size", "seed"), _minibatch_cases, _read_minibatches,
         _minibatch_expected,
         tuple(Hypothesis(bug, lambda c, bug=bug: _minibatch_expected(c, bug))
               for bug in ("minibatch_last_dropped", "minibatch_y_not_shuffled", "not_seeded"))),
    Spec("initialize_velocity", "c2w2", ("parameters",), _param_cases, _read_zero_dicts("v"),
         lambda c: _zeros_like_grads(c, "v_")),
    Spec("initialize_adam", "c2w2", ("parameters",), _param_cases, _read_zero_dicts("v", "s"),
         lambda c: _zeros_like_grads(c, "v_") | _zeros_like_grads(c, "s_")),
    Spec("update_parameters_with_momentum", "c2w2", ("parameters", "grads", "v", "beta", "learning_rate"),
         lambda: _optimizer_cases(zero_state=False), _read_momentum, lambda c: tx.momentum_step(*c.args),
         (Hypothesis("momentum_no_dampening", lambda c: tx.momentum_step(*c.args, bug="no_dampening")),)),
    Spec("update_parameters_with_adam", "c2w2",
         ("parameters", "grads", "v", "s", "t", "learning_rate", "beta1", "beta2", "epsilon"),
         lambda: _optimizer_cases(zero_state=False, with_t=True), _read_adam, lambda c: tx.adam_step(*c.args),
         tuple(Hypothesis(f"adam_{bug}" if bug != "t_plus_one" else "adam_t_off_by_one",
                          lambda c, bug=bug: tx.adam_variant(*c.args, bug=bug))
               for bug in ("no_bias_correction", "eps_inside_sqrt", "t_plus_one"))),
    Spec("update_lr", "c2w2", ("learning_rate0", "epoch_num", "decay_rate"),
         lambda: [Case("published", (0.5, 2, 1)), Case("epoch 0", (0.1, 0, 0.3)), Case("random", (0.2, 10, 0.5))],
         read_value("learning_rate"),
         lambda c: {"learning_rate": tx.lr_after(c.args[0], c.args[1], lambda e: 1 / (1 + c.args[2] * e))}),
    Spec("schedule_lr_decay", "c2w2", ("learning_rate0", "epoch_num", "decay_rate", "time_interval"),
         _schedule_cases, read_value("learning_rate"), _schedule_expected,
         (Hypothesis("lr_decay_not_floored", lambda c: _schedule_expected(c, floor=False)),)),
)
