"""Course 1 (weeks 2-4): the functions a learner writes, their inputs and torch's answers.

Published inputs are the course's own (rebuilt with ``np.random.RandomState(seed)``, which draws what the
course's ``np.random.seed(seed)`` does); the random ones come from a fixed ``np.random.Generator``.
"""

from __future__ import annotations

import numpy as np
import torch

from compare.check import expected as tx
from compare.check.catalogue import (
    DEEP,
    NETWORK_SHAPES,
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

# --- week 2: Python basics ---------------------------------------------------------------------------


def _elementwise_cases() -> list[Case]:
    gen = rng(1)
    return [Case("published", (np.array([1, 2, 3]),), integer_inputs=True),
            Case("random (3, 4)", (gen.standard_normal((3, 4)) * 3,)),
            Case("one value", (np.array([0.25]),)),
            Case("large |z|", (np.array([-800.0, -40.0, 0.0, 40.0, 800.0]),))]


def _row_cases(integer: np.ndarray) -> list[Case]:
    gen = rng(2)
    return [Case("published", (integer,), integer_inputs=True),
            Case("random (4, 6)", (gen.standard_normal((4, 6)),)),
            Case("one row", (gen.standard_normal((1, 5)),))]


def _loss_cases() -> list[Case]:
    gen = rng(3)
    yhat, y = np.array([0.9, 0.2, 0.1, 0.4, 0.9]), np.array([1, 0, 0, 1, 1])
    random = gen.random(8)
    return [Case("published", (yhat, y), m=5), Case("random m = 8", (random, labels(gen, 8)[0]), m=8),
            Case("m = 1", (np.array([0.3]), np.array([1.0])), m=1)]


register(
    Spec("sigmoid", "c1w2", ("x",), _elementwise_cases, read_value("s"), lambda c: tx.sigmoid(*c.args)),
    Spec("sigmoid_derivative", "c1w2", ("x",), _elementwise_cases, read_value("ds"),
         lambda c: tx.sigmoid_derivative(*c.args),
         (Hypothesis("sigmoid_derivative_of_input",
                     lambda c: tx.sigmoid_derivative_variant(*c.args, "derivative_of_input")),)),
    Spec("image2vector", "c1w2", ("image",),
         lambda: [Case("random (3, 3, 2)", (rng(4).standard_normal((3, 3, 2)),)),
                  Case("one pixel", (np.array([[[0.5]]]),)),
                  Case("random (5, 4, 3)", (rng(5).standard_normal((5, 4, 3)),))],
         read_value("v"), lambda c: {"v": tx.array(tx.tensor(c.args[0]).reshape(-1, 1))}),
    Spec("normalizeRows", "c1w2", ("x",), lambda: _row_cases(np.array([[0, 3, 4], [2, 6, 4]])), read_value("x"),
         lambda c: tx.normalize_rows(*c.args),
         (Hypothesis("wrong_axis", lambda c: tx.normalize_rows(*c.args, dim=0)),)),
    Spec("softmax", "c1w2", ("x",), lambda: _row_cases(np.array([[9, 2, 5, 0, 0], [7, 5, 0, 0, 0]])),
         read_value("s"), lambda c: tx.softmax_rows(*c.args),
         (Hypothesis("wrong_axis", lambda c: tx.softmax_rows(*c.args, dim=0)),)),
    Spec("L1", "c1w2", ("yhat", "y"), _loss_cases, read_value("loss"), lambda c: tx.l1_loss(*c.args)),
    Spec("L2", "c1w2", ("yhat", "y"), _loss_cases, read_value("loss"), lambda c: tx.l2_loss(*c.args)),
)

# --- week 2: logistic regression -----------------------------------------------------------------------


def _logistic_cases(with_integers: bool = True) -> list[Case]:
    gen = rng(6)
    cases = [Case("published", (np.array([[1.0], [2.0], [-1]]), 2.5,
                                np.array([[1.0, 2.0, -1.0, 0], [3.0, 4.0, -3.2, 1], [3.0, 4.0, -3.2, -3.5]]),
                                np.array([[1, 1, 0, 0]])), m=4)]
    for label, n_x, m in (("random", 4, 5), ("m = 1", 3, 1), ("wide", 30, 8)):
        cases.append(Case(label, (gen.standard_normal((n_x, 1)) * 0.3, float(gen.standard_normal()),
                                  gen.standard_normal((n_x, m)), labels(gen, m)), m=m))
    if with_integers:
        cases.append(Case("integer inputs (2017 test)", (np.array([[1], [2]]), 2, np.array([[1, 2], [3, 4]]),
                                                         np.array([[1, 0]])), m=2, integer_inputs=True))
    return cases


def _read_propagate(ret: object, case: Case) -> dict:
    grads, cost = read_tuple("grads", "cost")(ret, case).values()
    return dict_entries(grads, ["dw", "db"], what="grads") | {"cost": cost}


def _optimize_cases() -> list[Case]:
    return [Case(c.label, c.args, {"num_iterations": 101 + 50 * i, "learning_rate": 0.1}, m=c.m)
            for i, c in enumerate(_logistic_cases(with_integers=False))]


def _read_optimize(ret: object, case: Case) -> dict:
    params, grads, costs = read_tuple("params", "grads", "costs")(ret, case).values()
    return (dict_entries(params, ["w", "b"], what="params") | dict_entries(grads, ["dw", "db"], what="grads")
            | {"costs": costs})


def _predict_cases() -> list[Case]:
    gen = rng(7)
    edge_X = np.array([[2.0, 1.0, -3.0], [2.0, 0.5, 1.0]])  # the first example has w^T x + b = 0 exactly
    return [Case("published", (np.array([[0.3], [0.5], [-0.2]]), -0.33333,
                               np.array([[1.0, -0.3, 1.5], [2, 0, 1], [0, -1.5, 2]]))),
            Case("random", (gen.standard_normal((4, 1)), 0.1, gen.standard_normal((4, 9)))),
            Case("A = 0.5 exactly", (np.array([[1.0], [-1.0]]), 0.0, edge_X))]


register(
    Spec("initialize_with_zeros", "c1w2", ("dim",),
         lambda: [Case("dim = 2", (2,)), Case("dim = 1", (1,)), Case("dim = 7", (7,))],
         read_tuple("w", "b"), lambda c: {"w": tx.array(torch.zeros(c.args[0], 1, dtype=tx.DTYPE)), "b": 0.0}),
    Spec("propagate", "c1w2", ("w", "b", "X", "Y"), _logistic_cases, _read_propagate,
         lambda c: tx.propagate(*c.args)),
    Spec("optimize", "c1w2", ("w", "b", "X", "Y", "num_iterations", "learning_rate"), _optimize_cases,
         _read_optimize, lambda c: tx.optimize(*c.args, **c.kwargs),
         # the ascent's costs run into log(0) in the course's formula: the parameters are the evidence
         (Hypothesis("gradient_ascent", lambda c: {k: v for k, v in tx.optimize(*c.args, **c.kwargs, ascent=True)
                                                   .items() if k != "costs"}),)),
    Spec("predict", "c1w2", ("w", "b", "X"), _predict_cases, read_value("Y_prediction"),
         lambda c: tx.predict_logistic(*c.args),
         (Hypothesis("threshold_inclusive", lambda c: tx.predict_logistic(*c.args, at_half=1.0)),)),
)

# --- week 3: one hidden layer --------------------------------------------------------------------------

SHALLOW = ("tanh", "sigmoid")


def _shallow_inputs() -> list[tuple[str, np.ndarray, dict, np.ndarray]]:
    """(label, X, parameters, Y): the notebook's published input, then the random shapes."""
    legacy = np.random.RandomState(1)
    X = legacy.randn(2, 3)
    published = {"W1": np.array([[-0.00416758, -0.00056267], [-0.02136196, 0.01640271],
                                 [-0.01793436, -0.00841747], [0.00502881, -0.01245288]]),
                 "b1": legacy.randn(4, 1), "W2": np.array([[-0.01057952, -0.00909008, 0.00551454, 0.02292208]]),
                 "b2": np.array([[-1.3]])}
    inputs = [("published", X, published, np.array([[1.0, 0.0, 1.0]]))]
    for index, (label, dims, m) in enumerate(NETWORK_SHAPES):
        gen = rng(10 + index)
        inputs.append((label, gen.standard_normal((dims[0], m)), random_params(gen, dims), labels(gen, m)))
    return inputs


def _shallow_forward(X: np.ndarray, params: dict, activations=SHALLOW) -> dict:
    _, values = tx.forward(X, params, activations)
    return {name: tx.array(value) for name, value in values.items()}


def _read_forward(ret: object, case: Case) -> dict:
    A2, cache = read_tuple("A2", "cache")(ret, case).values()
    return {"A2": A2} | dict_entries(cache, ["Z1", "A1", "Z2", "A2"], prefix="cache ", what="cache")


def _forward_expected(case: Case, activations=SHALLOW) -> dict:
    values = _shallow_forward(*case.args, activations)
    return {"A2": values["A2"]} | {f"cache {k}": v for k, v in values.items()}


def _cost_cases() -> list[Case]:
    legacy = np.random.RandomState(1)
    cases = [Case("published", (np.array([[0.5002307, 0.49985831, 0.50023963]]), legacy.randn(1, 3) > 0), m=3)]
    for label, m in (("random", 6), ("m = 1", 1), ("m = 50", 50)):
        gen = rng(20 + m)
        cases.append(Case(label, (gen.uniform(0.02, 0.98, (1, m)), labels(gen, m)), m=m))
    return cases


def _shallow_backward_cases() -> list[Case]:
    cases = []
    for label, X, params, Y in _shallow_inputs():
        values = _shallow_forward(X, params)
        cache = {k: values[k] for k in ("Z1", "A1", "Z2", "A2")}
        cases.append(Case(label, (params, cache, X, Y), m=X.shape[1]))
    return cases


def _shallow_backward_variant(case: Case, bug: str) -> dict:
    """The course's formulas written out with one step changed (torch tensors)."""
    params, cache, X, Y = (case.args[0], case.args[1], tx.tensor(case.args[2]), tx.tensor(case.args[3]))
    A1, A2, Z1, Z2 = (tx.tensor(cache[k]) for k in ("A1", "A2", "Z1", "Z2"))
    m = X.shape[1]
    dZ2 = A2 - Y
    if bug == "sigmoid_prime_on_fused":
        dZ2 = dZ2 * A2 * (1 - A2)
    derivative = {"tanh_derivative_from_Z": 1 - Z1**2, "wrong_activation_derivative": (Z1 > 0).to(tx.DTYPE)}
    dZ1 = tx.tensor(params["W2"]).T @ dZ2 * derivative.get(bug, 1 - A1**2)
    return {"dW1": tx.array(dZ1 @ X.T / m), "db1": tx.array(dZ1.sum(1, keepdims=True) / m),
            "dW2": tx.array(dZ2 @ A1.T / m), "db2": tx.array(dZ2.sum(1, keepdims=True) / m)}


def update_cases(deep: bool, with_default: bool) -> list[Case]:
    shapes = [*NETWORK_SHAPES, DEEP] if deep else NETWORK_SHAPES
    cases = []
    for index, (label, dims, _) in enumerate(shapes):
        gen = rng(30 + index)
        params = random_params(gen, dims)
        grads = {f"d{k}": gen.standard_normal(v.shape) for k, v in params.items()}
        if with_default and index == 0:
            cases.append(Case(f"{label}, default learning_rate", (params, grads)))
        else:
            cases.append(Case(label, (params, grads, 0.3)))
    return cases


def update_expected(case: Case, default_lr: float, ascent: bool = False) -> dict:
    params, grads = case.args[:2]
    lr = case.args[2] if len(case.args) > 2 else default_lr
    return tx.sgd_step(params, grads, lr, ascent=ascent)


def read_params():
    """The updated parameters, keyed like the input ``parameters`` (the first argument)."""
    def read(ret: object, case: Case) -> dict:
        return dict_entries(ret, list(case.args[0]), what="parameters")
    return read


def legacy_draws(seed: int, dims: list[int], scale) -> dict:
    """The course's initializer: ``np.random.seed(seed)``, then ``randn(n_l, n_{l-1}) * scale(n_{l-1})``."""
    legacy = np.random.RandomState(seed)
    params = {}
    for layer in range(1, len(dims)):
        params[f"W{layer}"] = legacy.randn(dims[layer], dims[layer - 1]) * scale(dims[layer - 1], dims[layer])
        params[f"b{layer}"] = np.zeros((dims[layer], 1))
    return params


def init_spec(name: str, week: str, seed: int | None, caller_seed: int, dims_list: list[list[int]],
               scale, hypotheses=(), split: bool = True) -> Spec:
    """An initializer: the course's legacy draws (``seed`` inside, or ``caller_seed`` before the call)."""
    def cases() -> list[Case]:
        return [Case(f"layer_dims {dims}", tuple(dims) if split else (dims,), legacy_seed=caller_seed)
                for dims in dims_list]

    def dims_of(case: Case) -> list[int]:
        return list(case.args) if split else list(case.args[0])

    def read(ret: object, case: Case) -> dict:
        dims = dims_of(case)
        return dict_entries(ret, [f"{p}{k}" for k in range(1, len(dims)) for p in "Wb"], what="parameters")

    not_seeded = Hypothesis("not_seeded", lambda c: legacy_draws(c.legacy_seed, dims_of(c), scale))
    return Spec(name, week, ("n_x", "n_h", "n_y") if split else ("layer_dims",), cases, read,
                lambda c: legacy_draws(caller_seed if seed is None else seed, dims_of(c), scale),
                (*hypotheses, not_seeded) if seed is not None else tuple(hypotheses))


register(
    Spec("layer_sizes", "c1w3", ("X", "Y"),
         lambda: [Case("published", (np.zeros((5, 3)), np.zeros((2, 3)))),
                  Case("m = 1", (np.zeros((7, 1)), np.zeros((1, 1))))],
         read_tuple("n_x", "n_h", "n_y"),
         lambda c: {"n_x": c.args[0].shape[0], "n_h": 4, "n_y": c.args[1].shape[0]}),
    init_spec("initialize_parameters", "c1w3", None, 2, [[3, 5, 2], [2, 4, 1], [4, 1, 1]],
               lambda n_in, n_out: 0.01),
    Spec("forward_propagation", "c1w3", ("X", "parameters"),
         lambda: [Case(label, (X, p)) for label, X, p, _ in _shallow_inputs()], _read_forward, _forward_expected,
         (Hypothesis("wrong_activation", lambda c: _forward_expected(c, ("relu", "sigmoid"))),
          Hypothesis("wrong_activation", lambda c: _forward_expected(c, ("sigmoid", "sigmoid"))))),
    Spec("compute_cost", "c1w3", ("A2", "Y"), _cost_cases, read_value("cost"),
         lambda c: {"cost": tx.array(tx.bce(tx.tensor(c.args[0]), c.args[1]))}),
    Spec("backward_propagation", "c1w3", ("parameters", "cache", "X", "Y"), _shallow_backward_cases,
         lambda ret, c: dict_entries(ret, ["dW1", "db1", "dW2", "db2"], what="grads"),
         lambda c: tx.network_grads(c.args[2], c.args[3], c.args[0], SHALLOW, with_activation_grads=False),
         tuple(Hypothesis(bug, lambda c, bug=bug: _shallow_backward_variant(c, bug))
               for bug in ("tanh_derivative_from_Z", "sigmoid_prime_on_fused", "wrong_activation_derivative"))),
    Spec("update_parameters", "c1w3", ("parameters", "grads", "learning_rate"),
         lambda: update_cases(deep=False, with_default=True), read_params(), lambda c: update_expected(c, 1.2),
         (Hypothesis("gradient_ascent", lambda c: update_expected(c, 1.2, ascent=True)),)),
    Spec("predict", "c1w3", ("parameters", "X"),
         lambda: [Case(label, (p, X)) for label, X, p, _ in _shallow_inputs()], read_value("predictions"),
         lambda c: {"predictions": (_shallow_forward(c.args[1], c.args[0])["A2"] > 0.5).astype(float)}),
)

# --- week 4: deep network step by step -------------------------------------------------------------------


def _layer_cases(with_activation: bool) -> list[Case]:
    cases = []
    legacy = np.random.RandomState(1)
    if not with_activation:
        A, W, b = legacy.randn(3, 2), legacy.randn(1, 3), legacy.randn(1, 1)
        cases.append(Case("published", (A, W, b), m=2))
    for index, (label, dims, m) in enumerate(NETWORK_SHAPES):
        gen = rng(40 + index)
        A = gen.standard_normal((dims[0], m))
        W, b = gen.standard_normal((dims[1], dims[0])), gen.standard_normal((dims[1], 1))
        for activation in ("sigmoid", "relu") if with_activation else (None,):
            extra = (activation,) if activation else ()
            cases.append(Case(f"{label}{', ' + activation if activation else ''}", (A, W, b, *extra), m=m))
    if with_activation:
        big = np.array([[40.0, -40.0], [1.0, 1.0]])
        cases.append(Case("large |z|, sigmoid", (big, np.array([[20.0, 0.0]]), np.array([[0.0]]), "sigmoid"), m=2))
    return cases


def _read_linear_cache(cache: object, prefix: str) -> dict:
    if not isinstance(cache, (tuple, list)) or len(cache) != 3:
        raise WrongReturn(f"{prefix.strip()} must be the tuple (A_prev, W, b)")
    return {f"{prefix}A_prev": cache[0], f"{prefix}W": cache[1], f"{prefix}b": cache[2]}


def _read_linear_forward(ret: object, case: Case) -> dict:
    Z, cache = read_tuple("Z", "cache")(ret, case).values()
    return {"Z": Z} | _read_linear_cache(cache, "cache ")


def _read_layer_forward(ret: object, case: Case) -> dict:
    A, cache = read_tuple("A", "cache")(ret, case).values()
    if not isinstance(cache, (tuple, list)) or len(cache) != 2:
        raise WrongReturn("cache must be (linear_cache, activation_cache)")
    return {"A": A, "cache Z": cache[1]} | _read_linear_cache(cache[0], "cache ")


def _layer_forward_expected(case: Case, swap: bool = False) -> dict:
    A_prev, W, b, activation = case.args
    if swap:
        activation = {"relu": "sigmoid", "sigmoid": "relu"}[activation]
    Z = tx.linear(tx.tensor(A_prev), tx.tensor(W), tx.tensor(b))
    return {"A": tx.array(tx.ACTIVATIONS[activation](Z)), "cache Z": tx.array(Z), "cache A_prev": A_prev,
            "cache W": W, "cache b": b}


def _deep_inputs() -> list[tuple[str, np.ndarray, dict, np.ndarray]]:
    legacy = np.random.RandomState(6)
    X = legacy.randn(5, 4)
    published = {k: legacy.randn(*shape) for k, shape in
                 (("W1", (4, 5)), ("b1", (4, 1)), ("W2", (3, 4)), ("b2", (3, 1)), ("W3", (1, 3)), ("b3", (1, 1)))}
    inputs = [("published", X, published, np.array([[1.0, 0.0, 1.0, 0.0]]))]
    for index, (label, dims, m) in enumerate([*NETWORK_SHAPES, DEEP]):
        gen = rng(50 + index)
        inputs.append((label, gen.standard_normal((dims[0], m)), random_params(gen, dims), labels(gen, m)))
    label, X, params, Y = inputs[-1]
    inputs.append(("deep, Z = 0 exactly", *zero_example(X, params), Y))
    return inputs


def _relu_stack(params: dict) -> tuple[str, ...]:
    L = len(params) // 2
    return ("relu",) * (L - 1) + ("sigmoid",)


def _deep_caches(X: np.ndarray, params: dict) -> tuple[np.ndarray, list]:
    _, values = tx.forward(X, params, _relu_stack(params))
    L = len(params) // 2
    caches, A_prev = [], X
    for layer in range(1, L + 1):
        caches.append(((A_prev, params[f"W{layer}"], params[f"b{layer}"]), tx.array(values[f"Z{layer}"])))
        A_prev = tx.array(values[f"A{layer}"])
    return A_prev, caches


def _read_L_forward(ret: object, case: Case) -> dict:
    AL, caches = read_tuple("AL", "caches")(ret, case).values()
    L = len(case.args[1]) // 2
    if not isinstance(caches, (tuple, list)) or len(caches) != L:
        raise WrongReturn(f"caches must be a list of {L} layer caches, got {type(caches).__name__}"
                          f"{' of ' + str(len(caches)) if isinstance(caches, (tuple, list)) else ''}")
    out = {"AL": AL}
    for layer, cache in enumerate(caches, start=1):
        if not isinstance(cache, (tuple, list)) or len(cache) != 2:
            raise WrongReturn(f"caches[{layer - 1}] must be (linear_cache, Z)")
        out |= {f"Z{layer}": cache[1]} | _read_linear_cache(cache[0], f"caches[{layer - 1}] ")
    return out


def _L_forward_expected(case: Case) -> dict:
    X, params = case.args
    AL, caches = _deep_caches(X, params)
    out = {"AL": AL}
    for layer, ((A_prev, W, b), Z) in enumerate(caches, start=1):
        out |= {f"Z{layer}": Z, f"caches[{layer - 1}] A_prev": A_prev, f"caches[{layer - 1}] W": W,
                f"caches[{layer - 1}] b": b}
    return out


def _L_forward_with(case: Case, activation: str) -> dict:
    """The hypothesis "the same activation in every layer": its ``AL``."""
    X, params = case.args
    _, values = tx.forward(X, params, (activation,) * (len(params) // 2))
    return {"AL": tx.array(values[f"A{len(params) // 2}"])}


def _linear_backward_cases(with_activation: bool) -> list[Case]:
    cases = []
    if not with_activation:
        legacy = np.random.RandomState(1)
        dZ, A, W, b = legacy.randn(3, 4), legacy.randn(5, 4), legacy.randn(3, 5), legacy.randn(3, 1)
        cases.append(Case("published", (dZ, (A, W, b)), m=4))
    for index, (label, dims, m) in enumerate(NETWORK_SHAPES):
        gen = rng(60 + index)
        A = gen.standard_normal((dims[0], m))
        W, b = gen.standard_normal((dims[1], dims[0])), gen.standard_normal((dims[1], 1))
        dA = gen.standard_normal((dims[1], m))
        Z = tx.array(tx.linear(tx.tensor(A), tx.tensor(W), tx.tensor(b)))
        if with_activation:
            for activation in ("sigmoid", "relu"):
                cases.append(Case(f"{label}, {activation}", (dA, ((A, W, b), Z), activation), m=m))
        else:
            cases.append(Case(label, (dA, (A, W, b)), m=m))
    return cases


def _layer_backward_expected(case: Case, swap: bool = False) -> dict:
    if len(case.args) == 2:
        dZ, (A, W, b) = case.args
        out = tx.layer_backward(dZ, A, W, b, None, None)
    else:
        dA, ((A, W, b), Z), activation = case.args
        if swap:
            activation = {"relu": "sigmoid", "sigmoid": "relu"}[activation]
        out = tx.layer_backward(dA, A, W, b, Z, activation)
    return out


#: The net of L_model_backward's square input: ``[4, 4, 4, 4]``, three layers of four units.
SQUARE_DIMS = [4, 4, 4, 4]


def _L_backward_cases() -> list[Case]:
    legacy = np.random.RandomState(3)
    AL, Y = legacy.randn(1, 2), np.array([[1, 0]])
    first = [legacy.randn(*s) for s in ((4, 2), (3, 4), (3, 1), (3, 2))]
    second = [legacy.randn(*s) for s in ((3, 2), (1, 3), (1, 1), (1, 2))]
    cases = [Case("published", (AL, Y, [((first[0], first[1], first[2]), first[3]),
                                         ((second[0], second[1], second[2]), second[3])]), m=2)]
    for label, X, params, Y in _deep_inputs()[1:]:
        AL, caches = _deep_caches(X, params)
        cases.append(Case(label, (AL, Y, caches), m=X.shape[1]))
    # Every layer 4 wide, 4 sigmoid outputs (the course's dAL is elementwise): a cache indexed off by one layer
    # fits every shape here, so it shows in the numbers instead of raising.
    gen = rng(58)
    X, params = gen.standard_normal((4, 6)), random_params(gen, SQUARE_DIMS)
    Y = (gen.random((4, 6)) < 0.5).astype(float)
    AL, caches = _deep_caches(X, params)
    cases.append(Case("all layers 4 wide, 4 outputs", (AL, Y, caches), m=6))
    return cases


def _L_backward_read(ret: object, case: Case) -> dict:
    L = len(case.args[2])
    keys = [f"{p}{k}" for k in range(L, 0, -1) for p in ("dW", "db")] + [f"dA{k}" for k in range(L - 1, -1, -1)]
    return dict_entries(ret, keys, what="grads")


def _activation_backward_cases() -> list[Case]:
    gen = rng(70)
    Z = gen.standard_normal((3, 5))
    Z[0, :2] = 0.0
    Z[2, 4] = 0.0
    dA = gen.standard_normal((3, 5))
    return [Case("Z with exact zeros", (dA, Z), zeros={"dZ": Z == 0}),
            Case("m = 1", (gen.standard_normal((2, 1)), gen.standard_normal((2, 1)))),
            Case("large |z|", (np.ones((1, 4)), np.array([[-40.0, -3.0, 3.0, 40.0]])))]


def _activation_backward_expected(case: Case, activation: str) -> dict:
    dA, Z = case.args
    Z_t = tx.tensor(Z, grad=True)
    (dZ,) = torch.autograd.grad(tx.ACTIVATIONS[activation](Z_t), Z_t, grad_outputs=tx.tensor(dA))
    return {"dZ": tx.array(dZ)}


register(
    init_spec("initialize_parameters", "c1w4", 1, 0, [[3, 2, 1], [4, 3, 2]], lambda n_in, n_out: 0.01),
    init_spec("initialize_parameters_deep", "c1w4", 3, 0, [[5, 4, 3], [4, 3, 2], [6, 4, 4, 4, 1]],
               lambda n_in, n_out: 0.01, split=False),
    Spec("linear_forward", "c1w4", ("A", "W", "b"), lambda: _layer_cases(False), _read_linear_forward,
         lambda c: {"Z": tx.array(tx.linear(*(tx.tensor(a) for a in c.args))), "cache A_prev": c.args[0],
                    "cache W": c.args[1], "cache b": c.args[2]}),
    Spec("linear_activation_forward", "c1w4", ("A_prev", "W", "b", "activation"), lambda: _layer_cases(True),
         _read_layer_forward, _layer_forward_expected,
         (Hypothesis("wrong_activation", lambda c: _layer_forward_expected(c, swap=True)),)),
    Spec("L_model_forward", "c1w4", ("X", "parameters"),
         lambda: [Case(label, (X, p)) for label, X, p, _ in _deep_inputs()], _read_L_forward, _L_forward_expected,
         (Hypothesis("wrong_activation", lambda c: _L_forward_with(c, "sigmoid")),
          Hypothesis("wrong_activation", lambda c: _L_forward_with(c, "relu")))),
    Spec("compute_cost", "c1w4", ("AL", "Y"), _cost_cases, read_value("cost"),
         lambda c: {"cost": tx.array(tx.bce(tx.tensor(c.args[0]), c.args[1]))}),
    Spec("linear_backward", "c1w4", ("dZ", "cache"), lambda: _linear_backward_cases(False),
         read_tuple("dA_prev", "dW", "db"), _layer_backward_expected),
    Spec("linear_activation_backward", "c1w4", ("dA", "cache", "activation"),
         lambda: _linear_backward_cases(True), read_tuple("dA_prev", "dW", "db"), _layer_backward_expected,
         (Hypothesis("wrong_activation_derivative", lambda c: _layer_backward_expected(c, swap=True)),)),
    Spec("L_model_backward", "c1w4", ("AL", "Y", "caches"), _L_backward_cases, _L_backward_read,
         lambda c: tx.L_model_backward(*c.args),
         (Hypothesis("sigmoid_prime_on_fused", lambda c: tx.L_model_backward(*c.args, bug="sigmoid_prime_on_fused")),
          Hypothesis("wrong_activation_derivative",
                     lambda c: tx.L_model_backward(*c.args, bug="hidden_sigmoid_derivative")),
          Hypothesis("cache_off_by_one", lambda c: tx.L_model_backward(*c.args, bug="cache_next_layer")),
          Hypothesis("cache_off_by_one", lambda c: tx.L_model_backward(*c.args, bug="cache_previous_layer")))),
    Spec("update_parameters", "c1w4", ("parameters", "grads", "learning_rate"),
         lambda: update_cases(deep=True, with_default=False), read_params(), lambda c: update_expected(c, 0.0),
         (Hypothesis("gradient_ascent", lambda c: update_expected(c, 0.0, ascent=True)),)),
    Spec("predict", "c1w4", ("X", "y", "parameters"),
         lambda: [Case(label, (X, Y, p)) for label, X, p, Y in _deep_inputs()], read_value("p"),
         lambda c: {"p": (_deep_caches(c.args[0], c.args[2])[0] > 0.5).astype(float)}),
    Spec("relu_backward", "c1w4", ("dA", "cache"), _activation_backward_cases, read_value("dZ"),
         lambda c: _activation_backward_expected(c, "relu")),
    Spec("sigmoid_backward", "c1w4", ("dA", "cache"), _activation_backward_cases, read_value("dZ"),
         lambda c: _activation_backward_expected(c, "sigmoid")),
)
