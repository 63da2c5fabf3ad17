"""Convolutions: the three scratch implementations vs torch.nn.functional.conv2d and autograd, pooling (with
torch's tie routing), the flatten layout change, LeNet and the residual block vs torch_ref.conv, gradient checks,
property tests and bad inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratch.conv as sc
from compare.cases.conv import lenet_param_map, resnet_param_map
from compare.core.parity import relative_difference
from compare.core.registry import select
from compare.core.runner import run_case
from compare.core.trainers import ParamMap, load_parameters
from scratch.gradient_check import gradient_check_n
from torch_ref.conv import LeNet, SmallResNet

DTYPES = ["float64", "float32"]
IMPLS = list(sc.CONV_IMPLEMENTATIONS)
# One layer: a few ulps of the largest value (measured: float64 <= 7.5e-16, float32 <= 1e-6).
LAYER_TOL = {"float64": 1e-13, "float32": 1e-5}
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# (m, C_in, H, W, C_out, kernel, stride, padding, dilation, groups)
GEOMETRIES = [
    (2, 3, 7, 6, 4, 3, 1, 0, 1, 1),
    (2, 4, 9, 8, 6, 3, 2, 1, 1, 2),
    (1, 2, 10, 11, 3, 2, 3, 2, 2, 1),
    (3, 6, 8, 8, 6, 3, 1, 1, 2, 3),
    (2, 1, 5, 5, 2, 5, 1, 2, 1, 1),
    (2, 3, 8, 7, 4, (3, 2), (2, 1), (1, 0), (1, 2), 1),
    (2, 2, 6, 6, 3, 1, 2, 0, 1, 1),
    (1, 3, 3, 3, 2, 3, 1, 0, 1, 1),
]


def rel(scratch: np.ndarray, torch_value: torch.Tensor) -> float:
    return relative_difference(scratch, torch_value.detach().numpy())[1]


def _conv_case(geometry: tuple, dtype: str, seed: int, bias: bool = True):
    m, C, H, W, C_out, kernel, stride, padding, dilation, groups = geometry
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, C, H, W)).astype(dtype)
    Wt = rng.standard_normal((C_out, C // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(C_out).astype(dtype) if bias else None
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    x = torch.from_numpy(X).requires_grad_()
    w = torch.from_numpy(Wt).requires_grad_()
    tb = torch.from_numpy(b).requires_grad_() if bias else None
    y = F.conv2d(x, w, tb, **kwargs)
    dZ = rng.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(torch.from_numpy(dZ))
    return (X, Wt, b, kwargs, dZ), (y, x.grad, w.grad, None if tb is None else tb.grad)


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[f"g{i}" for i in range(len(GEOMETRIES))])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_matches_torch_forward_and_autograd(dtype: str, impl: str, geometry: tuple) -> None:
    (X, Wt, b, kwargs, dZ), (y, dx, dw, db) = _conv_case(geometry, dtype, seed=len(str(geometry)))
    forward, backward = sc.CONV_IMPLEMENTATIONS[impl]
    Z, cache = forward(X, Wt, b, **kwargs)
    dX, dW, dbias = backward(dZ, cache)
    for name, ours, theirs in (("Z", Z, y), ("dX", dX, dx), ("dW", dW, dw), ("db", dbias, db)):
        assert ours.shape == tuple(theirs.shape) and ours.dtype == np.dtype(dtype), name
        assert rel(ours, theirs) < LAYER_TOL[dtype], (name, rel(ours, theirs))


@pytest.mark.parametrize("impl", IMPLS)
def test_conv_without_bias_and_without_input_gradient(impl: str) -> None:
    (X, Wt, _, kwargs, dZ), (y, dx, dw, _) = _conv_case(GEOMETRIES[1], "float64", seed=5, bias=False)
    forward, backward = sc.CONV_IMPLEMENTATIONS[impl]
    Z, cache = forward(X, Wt, None, **kwargs)
    dX, dW, db = backward(dZ, cache)
    assert db is None and rel(Z, y) < 1e-13 and rel(dX, dx) < 1e-13 and rel(dW, dw) < 1e-13
    no_dX, dW_again, _ = backward(dZ, cache, input_grad=False)
    assert no_dX is None
    np.testing.assert_array_equal(dW_again, dW)


@settings(max_examples=30, **SETTINGS)
@given(m=st.integers(1, 2), groups=st.integers(1, 2), c_per_group=st.integers(1, 2), out_per_group=st.integers(1, 2),
       size=st.tuples(st.integers(1, 7), st.integers(1, 7)), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), impl=st.sampled_from(IMPLS),
       seed=st.integers(0, 2**16))
def test_property_conv_any_geometry_matches_torch(m, groups, c_per_group, out_per_group, size, kernel, stride,
                                                  padding, dilation, impl, seed) -> None:
    span = [d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True)]
    if any(n + 2 * p < s for n, p, s in zip(size, padding, span, strict=True)):
        with pytest.raises(ValueError, match="smaller than the dilated kernel"):
            sc.CONV_IMPLEMENTATIONS[impl][0](np.zeros((m, groups * c_per_group, *size)),
                                             np.zeros((groups * out_per_group, c_per_group, *kernel)), None,
                                             stride=stride, padding=padding, dilation=dilation, groups=groups)
        return
    geometry = (m, groups * c_per_group, *size, groups * out_per_group, kernel, stride, padding, dilation, groups)
    (X, Wt, b, kwargs, dZ), (y, dx, dw, db) = _conv_case(geometry, "float64", seed)
    forward, backward = sc.CONV_IMPLEMENTATIONS[impl]
    Z, cache = forward(X, Wt, b, **kwargs)
    for ours, theirs in zip((Z, *backward(dZ, cache)), (y, dx, dw, db), strict=True):
        assert rel(ours, theirs) < 1e-13


# --- pooling -------------------------------------------------------------------------------------------

POOLS = [(2, 2, 8, 8, 2, None, 0), (2, 2, 7, 9, 3, 2, 1), (1, 2, 6, 5, (3, 2), (1, 2), (1, 1)), (2, 1, 5, 5, 3, 1, 1)]


@pytest.mark.parametrize("pool", POOLS, ids=[f"p{i}" for i in range(len(POOLS))])
@pytest.mark.parametrize("values", ["random", "ties"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_matches_torch_including_ties(dtype: str, values: str, pool: tuple) -> None:
    """With many equal maxima (integers 0..2) the gradient lands on exactly the entries torch picks."""
    m, C, H, W, k, s, p = pool
    rng = np.random.default_rng(H * W)
    X = (rng.integers(0, 3, (m, C, H, W)) if values == "ties" else rng.standard_normal((m, C, H, W))).astype(dtype)
    x = torch.from_numpy(X).requires_grad_()
    y = F.max_pool2d(x, k, s, p)
    dout = rng.integers(1, 5, tuple(y.shape)).astype(dtype)  # integers: the sums are exact on both sides
    y.backward(torch.from_numpy(dout))
    out, cache = sc.max_pool_forward(X, kernel_size=k, stride=s, padding=p)
    np.testing.assert_array_equal(out, y.detach().numpy())
    np.testing.assert_array_equal(sc.max_pool_backward(dout, cache), x.grad.numpy())


def test_max_pool_tie_goes_to_the_first_maximum_in_row_major_order() -> None:
    X = np.array([[[[0.0, 5.0, 5.0, 1.0], [5.0, 5.0, 1.0, 5.0]]]])
    out, cache = sc.max_pool_forward(X, kernel_size=2)
    np.testing.assert_array_equal(out, [[[[5.0, 5.0]]]])
    dX = sc.max_pool_backward(np.array([[[[1.0, 2.0]]]]), cache)
    np.testing.assert_array_equal(dX, [[[[0.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])
    x = torch.from_numpy(X).requires_grad_()
    F.max_pool2d(x, 2).backward(torch.tensor([[[[1.0, 2.0]]]], dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.numpy(), dX)


@pytest.mark.parametrize("pool", POOLS, ids=[f"p{i}" for i in range(len(POOLS))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool_matches_torch(dtype: str, pool: tuple) -> None:
    m, C, H, W, k, s, p = pool
    rng = np.random.default_rng(H + W)
    X = rng.standard_normal((m, C, H, W)).astype(dtype)
    x = torch.from_numpy(X).requires_grad_()
    y = F.avg_pool2d(x, k, s, p)
    dout = rng.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(torch.from_numpy(dout))
    out, cache = sc.avg_pool_forward(X, kernel_size=k, stride=s, padding=p)
    dX = sc.avg_pool_backward(dout, cache)
    assert out.dtype == dX.dtype == np.dtype(dtype)
    assert rel(out, y) < LAYER_TOL[dtype] and rel(dX, x.grad) < LAYER_TOL[dtype]


def test_images_to_columns_is_nn_flatten_transposed_and_round_trips() -> None:
    A = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    columns = sc.images_to_columns(A)
    np.testing.assert_array_equal(columns, torch.nn.Flatten()(torch.from_numpy(A)).numpy().T)
    np.testing.assert_array_equal(sc.columns_to_images(columns, A.shape), A)


# --- networks ------------------------------------------------------------------------------------------

def _load(params: dict[str, np.ndarray], mapping: list[ParamMap]) -> dict[str, torch.nn.Parameter]:
    """Scratch parameters into the mapped torch parameters; returns scratch name -> torch parameter."""
    load_parameters(mapping, params)
    return {entry.scratch_name: entry.parameter for entry in mapping}


def _digits(m: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    digits = load_digits()
    return (digits.images[:m] / 16.0).reshape(m, 1, 8, 8).astype(dtype), digits.target[:m]


def _perturbed(params: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Non-zero biases and BN parameters, so every gradient path carries signal."""
    rng = np.random.default_rng(seed)
    return {k: v + (0.1 * rng.standard_normal(v.shape)).astype(v.dtype) if not k.startswith("W") else v
            for k, v in params.items()}


@pytest.mark.parametrize(("impl", "dtype"), [("fast", "float64"), ("im2col", "float64"), ("loops", "float64"),
                                             ("fast", "float32"), ("im2col", "float32")])
def test_lenet_loss_and_gradients_match_torch(impl: str, dtype: str) -> None:
    X, labels = _digits(6 if impl == "loops" else 32, dtype)
    params = _perturbed(sc.initialize_lenet(rng=np.random.default_rng(0), dtype=dtype), 1)
    model = LeNet(dtype=getattr(torch, dtype))
    torch_params = _load(params, lenet_param_map(model))
    loss = F.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(labels))
    loss.backward()
    cost, grads = sc.lenet_loss_and_grads(params, X, labels, impl=impl)
    assert abs(cost - loss.item()) <= LAYER_TOL[dtype] * loss.item()
    for name, parameter in torch_params.items():
        assert rel(grads[f"d{name}"], parameter.grad.reshape(params[name].shape)) < LAYER_TOL[dtype], name


@pytest.mark.parametrize("dtype", DTYPES)
def test_resnet_block_matches_torch_train_then_eval(dtype: str) -> None:
    X, labels = _digits(16, dtype)
    params = _perturbed(sc.initialize_resnet(rng=np.random.default_rng(0), dtype=dtype), 2)
    states = sc.make_resnet_states(dtype=dtype)
    model = SmallResNet(dtype=getattr(torch, dtype))
    torch_params = _load(params, resnet_param_map(model))
    for training in (True, True, False):
        model.train(training)
        model.zero_grad()
        loss = F.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(labels))
        loss.backward()
        cost, grads = sc.resnet_loss_and_grads(params, states, X, labels, training=training)
        assert abs(cost - loss.item()) <= LAYER_TOL[dtype] * loss.item()
        for name, parameter in torch_params.items():
            assert rel(grads[f"d{name}"], parameter.grad.reshape(params[name].shape)) < LAYER_TOL[dtype], name
        for state, norm in zip(states, (model.block.bn1, model.block.bn2), strict=True):
            assert rel(state.running_mean[:, 0], norm.running_mean) < LAYER_TOL[dtype]
            assert rel(state.running_var[:, 0], norm.running_var) < LAYER_TOL[dtype]
            assert state.num_batches_tracked == int(norm.num_batches_tracked)


def test_lenet_gradient_check() -> None:
    X, labels = _digits(4, "float64")
    params = _perturbed(sc.initialize_lenet(rng=np.random.default_rng(3), channels=(2, 3), hidden=5), 4)
    _, grads = sc.lenet_loss_and_grads(params, X, labels)
    cost = lambda point: float(sc.lenet_loss_and_grads(point, X, labels)[0])  # noqa: E731
    assert gradient_check_n(cost, params, grads) < 1e-7


@pytest.mark.parametrize("training", [True, False])
def test_resnet_gradient_check(training: bool) -> None:
    X, labels = _digits(4, "float64")
    labels = labels % 3  # three classes keep the dense layer (and the check's 2 costs per entry) small
    params = _perturbed(sc.initialize_resnet(rng=np.random.default_rng(5), width=2, n_classes=3), 6)
    states = sc.make_resnet_states(2)
    if not training:
        sc.resnet_loss_and_grads(params, states, X, labels, training=True)  # running statistics of their own
    _, grads = sc.resnet_loss_and_grads(params, copy.deepcopy(states), X, labels, training=training)

    def cost(point: dict[str, np.ndarray]) -> float:
        return float(sc.resnet_loss_and_grads(point, copy.deepcopy(states), X, labels, training=training)[0])

    assert gradient_check_n(cost, params, grads) < 1e-7


# --- the registered cases (compare/cases/conv.py) ------------------------------------------------------

CONV_CASES = [case.variant for case in select(["conv"])]


@pytest.mark.parametrize("variant", CONV_CASES)
def test_registered_case_matches_torch(variant: str) -> None:
    """The first 10 steps of every variant in float64 (the full runs: the slow test below, ``python -m compare``)."""
    (case,) = select([f"conv/{variant}"])
    run = run_case(case, seed=0, dtype="float64", steps=10)
    assert run.parity.passed, run.parity.summary()
    assert {"loss", "grad", "param"} <= run.parity.max_rel.keys()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", CONV_CASES)
def test_registered_case_full_run(variant: str, dtype: str, seed: int) -> None:
    (case,) = select([f"conv/{variant}"])
    run = run_case(case, seed=seed, dtype=dtype)
    assert run.steps >= 100
    assert run.parity.passed, run.parity.summary()


@pytest.mark.slow
@pytest.mark.parametrize("variant", CONV_CASES)
def test_registered_case_gradient_check(variant: str) -> None:
    (case,) = select([f"conv/{variant}"])
    assert case.gradient_check(case.make_problem(0, np.dtype(np.float64))) < 1e-7


def test_pool_ties_case_has_tied_maxima_that_route_a_gradient() -> None:
    """The max-pool tie mutant is only catchable where windows hold equal *positive* maxima: keep it so."""
    (case,) = select(["conv/lenet_pool_ties"])
    problem = case.make_problem(0, np.dtype(np.float64))
    Z1, _ = sc.conv_forward(problem.data["X"], problem.params["W1"], problem.params["b1"], padding=1)
    windows = sc.conv_windows(np.maximum(Z1, 0), (2, 2), sc.ConvGeometry.of(stride=2), (4, 4))
    windows = windows.reshape(*windows.shape[:4], 4)
    top = windows.max(axis=-1)
    assert np.count_nonzero(((windows == top[..., None]).sum(axis=-1) > 1) & (top > 0)) > 100


# --- bad input -----------------------------------------------------------------------------------------

X4 = np.zeros((2, 4, 6, 6))
W4 = np.zeros((6, 2, 3, 3))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sc.conv_forward(X4[0], W4, None), "X must have 4 dimensions"),
    (lambda: sc.conv_forward(X4, W4, None), r"W must have shape \(\*, 4, \*, \*\)"),
    (lambda: sc.conv_forward(X4, W4, None, groups=4), "groups=4 must divide"),
    (lambda: sc.conv_forward(X4, W4, None, groups=0), "groups must be an int >= 1"),
    (lambda: sc.conv_forward(X4, W4.astype(np.float32), None, groups=2), "W must have X's dtype"),
    (lambda: sc.conv_forward(X4, W4, np.zeros(5), groups=2), r"b must have shape \(6,\)"),
    (lambda: sc.conv_forward(X4, W4, None, groups=2, stride=0), "stride must be an int >= 1"),
    (lambda: sc.conv_forward(X4, W4, None, groups=2, padding=-1), "padding must be an int >= 0"),
    (lambda: sc.conv_forward(X4, W4, None, groups=2, dilation=(1, 2, 3)), "dilation must be"),
    (lambda: sc.conv_forward(X4, W4, None, groups=2, dilation=4), "smaller than the dilated kernel"),
    (lambda: sc.conv_forward(X4.astype(np.float16), W4, None, groups=2), "X has dtype float16"),
    (lambda: sc.conv_forward(np.full_like(X4, np.nan), W4, None, groups=2), "NaN"),
    (lambda: sc.max_pool_forward(X4, kernel_size=2, padding=2), "at most half of kernel_size"),
    (lambda: sc.max_pool_forward(X4, kernel_size=7), "smaller than kernel_size"),
    (lambda: sc.avg_pool_forward(X4, kernel_size=0), "kernel_size must be an int >= 1"),
    (lambda: sc.lenet_loss_and_grads(sc.initialize_lenet(rng=np.random.default_rng(0)), np.zeros((2, 1, 8, 8)),
                                     np.array([0, 10])), r"labels must hold labels in 0..9"),
    (lambda: sc.lenet_loss_and_grads(sc.initialize_lenet(rng=np.random.default_rng(0)), np.zeros((2, 1, 8, 8)),
                                     np.array([0, 1]), impl="gpu"), "impl must be one of loops, im2col, fast"),
    (lambda: sc.initialize_lenet(rng=np.random.default_rng(0), image_size=6), "gives an odd size 3"),
])
def test_bad_input_names_the_argument(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["fast", "im2col"])
@pytest.mark.parametrize("geometry", [(64, 3, 32, 32, 32, 3, 1, 1, 1, 1), (64, 32, 16, 16, 64, 3, 1, 1, 1, 1)],
                         ids=["3x32x32-32", "32x16x16-64"])
def test_bench_shapes_match_torch_in_float32(geometry: tuple, impl: str) -> None:
    (X, Wt, b, kwargs, dZ), (y, dx, dw, db) = _conv_case(geometry, "float32", seed=0)
    forward, backward = sc.CONV_IMPLEMENTATIONS[impl]
    Z, cache = forward(X, Wt, b, **kwargs)
    for ours, theirs in zip((Z, *backward(dZ, cache)), (y, dx, dw, db), strict=True):
        assert rel(ours, theirs) < LAYER_TOL["float32"]
