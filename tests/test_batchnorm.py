"""Batch normalization: scratch vs nn.BatchNorm1d/2d (outputs, gradients, running statistics), the deep BN net
vs torch_ref.batchnorm.BNDeepNet, a gradient check, property tests and bad inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratch.batchnorm as bn
from compare.core.parity import relative_difference
from compare.core.registry import select
from compare.core.runner import run_case
from scratch.gradient_check import gradient_check_n
from torch_ref.batchnorm import BNDeepNet, predict

DTYPES = ["float64", "float32"]
# One layer, no trajectory: a few ulps of the largest value (measured: float64 <= 2.2e-15 at N = 1000,
# float32 <= 7.7e-7, the variance sums of float32 data being accumulated in float64 on both sides).
LAYER_TOL = {"float64": 1e-13, "float32": 1e-5}
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def rel(scratch: np.ndarray, torch_value: torch.Tensor | np.ndarray) -> float:
    value = torch_value.detach().numpy() if isinstance(torch_value, torch.Tensor) else torch_value
    return relative_difference(scratch, value)[1]


def _load_bn(module: torch.nn.Module, gamma: np.ndarray, beta: np.ndarray) -> None:
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(gamma.reshape(-1)))
        module.bias.copy_(torch.from_numpy(beta.reshape(-1)))


def _bn1d_steps(n: int, m: int, dtype: str, momentum: float | None, steps: int, seed: int) -> dict[str, float]:
    """``steps`` training forward/backward passes then one evaluation pass, both sides; worst relative errors."""
    rng = np.random.default_rng(seed)
    gamma = (1 + 0.3 * rng.standard_normal((n, 1))).astype(dtype)
    beta = rng.standard_normal((n, 1)).astype(dtype)
    state = bn.BatchNormState(n, momentum=momentum, dtype=dtype)
    module = torch.nn.BatchNorm1d(n, momentum=momentum, dtype=getattr(torch, dtype))
    _load_bn(module, gamma, beta)
    worst: dict[str, float] = {}
    for step in range(steps + 1):
        training = step < steps
        module.train(training)
        Z = (rng.standard_normal((n, m)) * 3 + rng.standard_normal((n, 1))).astype(dtype)
        dout = rng.standard_normal((n, m)).astype(dtype)
        x = torch.from_numpy(Z.T.copy()).requires_grad_()
        module.zero_grad()
        y = module(x)
        y.backward(torch.from_numpy(dout.T.copy()))
        out, cache = bn.batchnorm_forward(Z, gamma, beta, state, training=training)
        backward = bn.batchnorm_backward if training else bn.batchnorm_eval_backward
        dZ, dgamma, dbeta = backward(dout, cache)
        # dZ is a difference of terms of size |gamma invstd dout| that can cancel almost completely (m = 2:
        # dZ = gamma invstd d (1 - z_hat^2) with z_hat^2 = var / (var + eps)), so it is measured on their scale.
        terms = float(np.max(np.abs(gamma * cache[2])) * np.max(np.abs(dout)))
        worst["dZ"] = max(worst.get("dZ", 0.0), float(np.max(np.abs(dZ - x.grad.numpy().T))) / terms)
        # dgamma = sum_i dout z_hat and dbeta = sum_i dout are sums of m terms that can cancel too (hypothesis found
        # n = 1, m = 40 with dgamma 2e-13 off relative to itself): measured on the scale of the terms summed.
        z_hat = (out - beta) / gamma
        for name, a, t, scale in (("dgamma", dgamma[:, 0], module.weight.grad, np.sum(np.abs(dout * z_hat), axis=1)),
                                  ("dbeta", dbeta[:, 0], module.bias.grad, np.sum(np.abs(dout), axis=1))):
            difference = np.abs(a.astype(np.float64) - t.detach().numpy().astype(np.float64))
            worst[name] = max(worst.get(name, 0.0), float(np.max(difference / scale)))
        for name, a, t in (("out", out, y.T),
                           ("running_mean", state.running_mean[:, 0], module.running_mean),
                           ("running_var", state.running_var[:, 0], module.running_var)):
            worst[name] = max(worst.get(name, 0.0), rel(a, t))
        assert state.num_batches_tracked == int(module.num_batches_tracked)
    return worst


@pytest.mark.parametrize("momentum", [0.1, 0.7, None])
@pytest.mark.parametrize(("n", "m"), [(4, 2), (5, 16), (3, 257)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm1d_matches_torch_train_and_eval(dtype: str, n: int, m: int, momentum: float | None) -> None:
    worst = _bn1d_steps(n, m, dtype, momentum, steps=4, seed=n * m)
    assert max(worst.values()) < LAYER_TOL[dtype], worst


@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_equal_torch_to_the_ulp(momentum: float | None) -> None:
    """float64 running mean and variance after 10 batches: within 2 ulps of torch's, entry by entry."""
    rng = np.random.default_rng(7)
    state = bn.BatchNormState(6, momentum=momentum)
    module = torch.nn.BatchNorm1d(6, momentum=momentum, dtype=torch.float64)
    gamma, beta = np.ones((6, 1)), np.zeros((6, 1))
    for _ in range(10):
        Z = rng.standard_normal((6, 12)) * 2 + 1
        bn.batchnorm_forward(Z, gamma, beta, state, training=True)
        module(torch.from_numpy(Z.T.copy()))
    for ours, theirs in ((state.running_mean, module.running_mean), (state.running_var, module.running_var)):
        np.testing.assert_array_max_ulp(ours[:, 0], theirs.numpy(), maxulp=2)


def test_running_variance_is_unbiased_and_momentum_none_is_cumulative_average() -> None:
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((3, 5)) for _ in range(4)]
    state = bn.BatchNormState(3, momentum=None)
    for Z in batches:
        bn.batchnorm_forward(Z, np.ones((3, 1)), np.zeros((3, 1)), state, training=True)
    np.testing.assert_allclose(state.running_mean, np.mean([Z.mean(axis=1, keepdims=True) for Z in batches], 0),
                               rtol=1e-14)
    np.testing.assert_allclose(state.running_var, np.mean([Z.var(axis=1, ddof=1, keepdims=True) for Z in batches], 0),
                               rtol=1e-14)
    assert state.num_batches_tracked == 4


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (1, 2, 3, 3), (7, 2, 1, 1)])
def test_batchnorm2d_per_channel_matches_torch(dtype: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    C = shape[1]
    gamma = (1 + 0.3 * rng.standard_normal(C)).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    state = bn.BatchNormState(C, dtype=dtype)
    module = torch.nn.BatchNorm2d(C, dtype=getattr(torch, dtype))
    _load_bn(module, gamma, beta)
    for training in (True, True, False):
        module.train(training)
        module.zero_grad()
        X = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        x = torch.from_numpy(X).requires_grad_()
        y = module(x)
        y.backward(torch.from_numpy(dout))
        out, cache = bn.batchnorm2d_forward(X, gamma, beta, state, training=training)
        dX, dgamma, dbeta = bn.batchnorm2d_backward(dout, cache, training=training)
        for a, t in ((out, y), (dX, x.grad), (dgamma, module.weight.grad), (dbeta, module.bias.grad),
                     (state.running_mean[:, 0], module.running_mean), (state.running_var[:, 0], module.running_var)):
            assert a.shape == tuple(t.shape)
            assert rel(a, t) < LAYER_TOL[dtype]


def test_one_value_per_feature_in_training_is_an_error_both_sides() -> None:
    state = bn.BatchNormState(3)
    Z = np.ones((3, 1))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.BatchNorm1d(3, dtype=torch.float64)(torch.ones(1, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="more than 1 value per feature when training"):
        bn.batchnorm_forward(Z, np.ones((3, 1)), np.zeros((3, 1)), state, training=True)
    assert state.num_batches_tracked == 0  # the failed call left the statistics alone
    with pytest.raises(ValueError, match="more than 1 value"):
        bn.batchnorm2d_forward(np.ones((1, 3, 1, 1)), np.ones(3), np.zeros(3), state, training=True)
    out, _ = bn.batchnorm_forward(Z, np.ones((3, 1)), np.zeros((3, 1)), state, training=False)
    np.testing.assert_allclose(out, 1 / np.sqrt(1 + 1e-5))  # eval mode: one example is fine
    out, _ = bn.batchnorm2d_forward(np.arange(12.0).reshape(1, 3, 2, 2), np.ones(3), np.zeros(3), state,
                                    training=True)  # one image, four values per channel: fine (torch too)
    assert np.isfinite(out).all()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: bn.BatchNormState(0), "n_features"),
    (lambda: bn.BatchNormState(3, momentum=0.0), "momentum"),
    (lambda: bn.BatchNormState(3, momentum=1.5), "momentum"),
    (lambda: bn.BatchNormState(3, eps=0.0), "eps"),
    (lambda: bn.BatchNormState(3, dtype=np.int64), "dtype"),
    (lambda: bn.batchnorm_forward(np.ones((4, 5)), np.ones((3, 1)), np.zeros((3, 1)), bn.BatchNormState(3),
                                  training=True), r"Z must have shape \(3, \*\)"),
    (lambda: bn.batchnorm_forward(np.ones((3, 5)), np.ones((3,)), np.zeros((3, 1)), bn.BatchNormState(3),
                                  training=True), "gamma must have 2 dimensions"),
    (lambda: bn.batchnorm_forward(np.ones((3, 5)), np.ones((3, 1), np.float32), np.zeros((3, 1)),
                                  bn.BatchNormState(3), training=True), "gamma must have Z's dtype"),
    (lambda: bn.batchnorm_forward(np.full((3, 5), np.nan), np.ones((3, 1)), np.zeros((3, 1)), bn.BatchNormState(3),
                                  training=True), "NaN"),
    (lambda: bn.batchnorm_forward(np.ones((3, 5), np.float32), np.ones((3, 1), np.float32),
                                  np.zeros((3, 1), np.float32), bn.BatchNormState(3), training=True),
     "state must have Z's dtype"),
    (lambda: bn.batchnorm2d_forward(np.ones((2, 3, 4, 4)), np.ones(4), np.zeros(4), bn.BatchNormState(3),
                                    training=True), r"gamma must have shape \(3,\)"),
])
def test_bad_input_names_the_argument(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- the deep network with BN --------------------------------------------------------------------------

def _bn_net(placement: str, dtype: str, seed: int, dims: list[int]) -> tuple[dict, list, BNDeepNet]:
    """Scratch parameters (perturbed gamma/beta/b so every path matters), states and the same torch model."""
    rng = np.random.default_rng(seed)
    params = bn.initialize_bn_parameters(dims, placement=placement, method="he", rng=rng, dtype=dtype)
    for name in params:
        if not name.startswith("W"):
            params[name] += (0.2 * rng.standard_normal(params[name].shape)).astype(dtype)
    model = BNDeepNet(dims, placement=placement, dtype=getattr(torch, dtype))
    with torch.no_grad():
        for l, linear in enumerate(model.linears, 1):  # noqa: E741
            linear.weight.copy_(torch.from_numpy(params[f"W{l}"]))
            if linear.bias is not None:
                linear.bias.copy_(torch.from_numpy(params[f"b{l}"].reshape(-1)))
        for l, norm in enumerate(model.norms, 1):  # noqa: E741
            _load_bn(norm, params[f"gamma{l}"], params[f"beta{l}"])
    return params, bn.make_bn_states(dims, dtype=dtype), model


def _torch_grads(model: BNDeepNet) -> dict[str, np.ndarray]:
    grads = {}
    for l, linear in enumerate(model.linears, 1):  # noqa: E741
        grads[f"dW{l}"] = linear.weight.grad.numpy()
        if linear.bias is not None:
            grads[f"db{l}"] = linear.bias.grad.numpy().reshape(-1, 1)
    for l, norm in enumerate(model.norms, 1):  # noqa: E741
        grads[f"dgamma{l}"] = norm.weight.grad.numpy().reshape(-1, 1)
        grads[f"dbeta{l}"] = norm.bias.grad.numpy().reshape(-1, 1)
    return grads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("placement", bn.PLACEMENTS)
def test_bn_net_sgd_trajectory_matches_torch(placement: str, dtype: str) -> None:
    """30 SGD steps on mini-batches of 16, then eval on a dev batch: loss, every gradient, every running stat."""
    dims = [6, 8, 5, 1]
    params, states, model = _bn_net(placement, dtype, 0, dims)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 80)).astype(dtype)
    Y = (X[:1] + X[1:2] ** 2 > 1).astype(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    tol = {"float64": 1e-12, "float32": 2e-4}[dtype]
    for step in range(30):
        batch = slice(16 * (step % 5), 16 * (step % 5 + 1))
        Xb, Yb = X[:, batch], Y[:, batch]
        optimizer.zero_grad()
        loss = loss_fn(model(torch.from_numpy(Xb.T.copy())), torch.from_numpy(Yb.T.copy()))
        loss.backward()
        optimizer.step()
        cost, grads = bn.bn_loss_and_grads(params, states, Xb, Yb, placement=placement)
        assert abs(cost - loss.item()) <= tol * abs(loss.item())
        torch_grads = _torch_grads(model)
        assert grads.keys() == torch_grads.keys()
        for name, value in grads.items():
            assert rel(value, torch_grads[name]) < tol, (step, name)
            params[name[1:]] -= np.asarray(0.1, dtype=dtype) * value
        for state, norm in zip(states, model.norms, strict=True):
            assert rel(state.running_mean[:, 0], norm.running_mean) < tol
            assert rel(state.running_var[:, 0], norm.running_var) < tol
    model.eval()
    with torch.no_grad():
        dev_logits = model(torch.from_numpy(X.T.copy())).numpy().T
    ZL, _ = bn.bn_model_logits(X, params, states, placement=placement, training=False)
    assert rel(ZL, dev_logits) < tol
    np.testing.assert_array_equal(bn.bn_predict(X, params, states, placement=placement),
                                  predict(model, torch.from_numpy(X.T.copy())).numpy().T)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("placement", bn.PLACEMENTS)
def test_bn_net_gradient_check(placement: str, training: bool) -> None:
    dims = [4, 5, 3, 1]
    params, states, _ = _bn_net(placement, "float64", 3, dims)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 12))
    Y = (rng.random((1, 12)) > 0.5).astype(np.float64)
    if not training:  # give the running statistics values of their own
        for state in states:
            state.running_mean += rng.standard_normal(state.running_mean.shape)
            state.running_var *= rng.uniform(0.5, 2, state.running_var.shape)

    def cost(point: dict[str, np.ndarray]) -> float:
        fresh = copy.deepcopy(states)  # training mode moves the running statistics: never those of `states`
        return float(bn.bn_loss_and_grads(point, fresh, X, Y, placement=placement, training=training)[0])

    _, grads = bn.bn_loss_and_grads(params, states, X, Y, placement=placement, training=training)
    assert gradient_check_n(cost, params, grads) < 1e-7


@settings(max_examples=25, **SETTINGS)
@given(n=st.integers(1, 6), m=st.integers(2, 40), momentum=st.one_of(st.none(), st.floats(0.01, 1.0)),
       seed=st.integers(0, 2**16), dtype=st.sampled_from(DTYPES))
def test_property_batchnorm1d_matches_torch(n: int, m: int, momentum: float | None, seed: int, dtype: str) -> None:
    worst = _bn1d_steps(n, m, dtype, momentum, steps=2, seed=seed)
    assert max(worst.values()) < LAYER_TOL[dtype], worst


@settings(max_examples=15, **SETTINGS)
@given(m=st.integers(2, 30), n=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_property_normalized_output_has_zero_mean_unit_variance(m: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, m)) * rng.uniform(0.5, 10, (n, 1)) + rng.uniform(-5, 5, (n, 1))
    out, _ = bn.batchnorm_forward(Z, np.ones((n, 1)), np.zeros((n, 1)), bn.BatchNormState(n, eps=1e-12),
                                  training=True)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), 1, rtol=1e-9)


# --- the registered cases (compare/cases/batchnorm.py) -------------------------------------------------

BN_CASES = [case.variant for case in select(["batchnorm"])]


@pytest.mark.parametrize("variant", BN_CASES)
def test_registered_case_matches_torch(variant: str) -> None:
    """Every variant, float64, over 120 steps (train_then_eval switches to eval mode at step 100)."""
    (case,) = select([f"batchnorm/{variant}"])
    run = run_case(case, seed=0, dtype="float64", steps=120)
    assert run.parity.passed, run.parity.summary()
    assert {"loss", "grad", "param", "state"} <= run.parity.max_rel.keys()
    assert any(key.endswith("running_var") for key in run.torch.final_arrays)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", BN_CASES)
def test_registered_case_full_run(variant: str, dtype: str, seed: int) -> None:
    (case,) = select([f"batchnorm/{variant}"])
    run = run_case(case, seed=seed, dtype=dtype)
    assert run.steps >= 200
    assert run.parity.passed, run.parity.summary()


@pytest.mark.parametrize("variant", ["before_relu", "after_relu"])
def test_registered_case_gradient_check(variant: str) -> None:
    (case,) = select([f"batchnorm/{variant}"])
    assert case.gradient_check(case.make_problem(0, np.dtype(np.float64))) < 1e-7
