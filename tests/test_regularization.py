"""Regularization: L2/L1 terms against autograd, weight decay vs penalty, dropout masks and statistics,
early stopping, and the registered cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch.deep_net as deep_net
import scratch.regularization as reg
import torch_ref.regularization as treg
from compare.cases.networks import deep_param_map
from compare.cases.regularization import moons_problem
from compare.core.parity import relative_difference, tolerance
from compare.core.registry import select
from compare.core.runner import run_case
from compare.core.trainers import load_parameters

DTYPES = ["float64", "float32"]
SEEDS = [0, 1]
# One evaluation, no trajectory: a few ulps of the largest term.
ONE_STEP_TOL = {"float64": 1e-13, "float32": 1e-5}


def _model(problem, keep_prob=None):
    dims, act = problem.hyper["layer_dims"], problem.hyper["hidden_activation"]
    dtype = {np.dtype("float64"): torch.float64, np.dtype("float32"): torch.float32}[problem.dtype]
    model = treg.DropoutNet(dims, keep_prob=keep_prob or 1.0, hidden_activation=act, dtype=dtype)
    load_parameters(deep_param_map(model), problem.params)
    return model


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_penalty_and_gradient_match_autograd(dtype, seed, kind):
    problem = moons_problem(seed, np.dtype(dtype))
    params = problem.params
    params["W2"][0, 0] = 0  # sign(0) = 0 is the subgradient both sides use
    m, lambd = 200, 0.7
    model = _model(problem)
    penalty = (treg.l2_penalty if kind == "l2" else treg.l1_penalty)(model, lambd, m)
    penalty.backward()
    scratch_cost = (reg.l2_cost if kind == "l2" else reg.l1_cost)(params, lambd, m)
    scratch_grads = (reg.l2_grads if kind == "l2" else reg.l1_grads)(params, lambd, m)
    assert relative_difference(np.array(scratch_cost), penalty.detach().numpy())[1] < ONE_STEP_TOL[dtype]
    for index, linear in enumerate(model.linears, start=1):
        torch_out = linear.weight.grad.numpy()
        assert relative_difference(scratch_grads[f"dW{index}"], torch_out)[1] < ONE_STEP_TOL[dtype]
    if kind == "l1":
        assert scratch_grads["dW2"][0, 0] == 0 == model.linears[1].weight.grad[0, 0]


def test_penalties_reject_bad_lambda():
    params = {"W1": np.ones((2, 2)), "b1": np.zeros((2, 1))}
    with pytest.raises(ValueError, match="lambd"):
        reg.l2_cost(params, -1.0, 10)
    with pytest.raises(ValueError, match="m must be"):
        reg.l1_cost(params, 1.0, 0)


def _train_torch(problem, optimizer_name, *, penalty: bool, weight_decay: float, steps: int = 30, lr: float = 0.01):
    model = _model(problem)
    x = torch.from_numpy(problem.data["X"].T.copy())
    y = torch.from_numpy(problem.data["Y"].T.copy())
    optimizer = treg.make_optimizer(optimizer_name, treg.decay_groups(model, weight_decay), lr=lr)
    loss_fn = treg.PenalizedLoss(model, m=x.shape[0], l2=problem.hyper["l2"] if penalty else 0.0)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


@pytest.mark.parametrize("seed", SEEDS)
def test_sgd_weight_decay_equals_l2_penalty_but_adamw_does_not(seed):
    problem = moons_problem(seed, np.dtype("float64"), l2=5.0)
    decay = problem.hyper["l2"] / problem.data["X"].shape[1]
    tol = tolerance("float64", "cpu")
    penalty_sgd = _train_torch(problem, "sgd", penalty=True, weight_decay=0.0, lr=0.3)
    decay_sgd = _train_torch(problem, "sgd", penalty=False, weight_decay=decay, lr=0.3)
    assert relative_difference(decay_sgd, penalty_sgd)[1] < tol
    # Adam's weight_decay is the coupled form: the same as the penalty in the loss...
    penalty_adam = _train_torch(problem, "adam", penalty=True, weight_decay=0.0)
    coupled_adam = _train_torch(problem, "adam", penalty=False, weight_decay=decay)
    assert relative_difference(coupled_adam, penalty_adam)[1] < tol
    # ...while AdamW's decoupled decay is a different algorithm: far above rounding.
    decoupled = _train_torch(problem, "adamw", penalty=False, weight_decay=decay)
    assert relative_difference(decoupled, penalty_adam)[1] > 1e3 * tol


# --- dropout ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("keep_prob", [0.5, 0.8])
def test_dropout_step_with_torchs_masks_matches(dtype, seed, keep_prob):
    problem = moons_problem(seed, np.dtype(dtype), keep_prob=keep_prob)
    model = _model(problem, keep_prob).train()
    kept = {}
    for index, dropout in enumerate(model.dropouts, start=1):
        dropout.register_forward_hook(lambda mod, inp, out, name=f"D{index}": kept.__setitem__(name, out != 0))
    x = torch.from_numpy(problem.data["X"].T.copy())
    y = torch.from_numpy(problem.data["Y"].T.copy())
    torch.manual_seed(seed)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
    loss.backward()
    masks = {k: v.numpy().T.astype(dtype) for k, v in kept.items()}
    assert 0 < masks["D1"].mean() < 1
    cost, grads = reg.dropout_loss_and_grads(problem.params, problem.data["X"], problem.data["Y"], masks,
                                             keep_prob=keep_prob)
    assert relative_difference(np.array(cost), loss.detach().numpy())[1] < ONE_STEP_TOL[dtype]
    for index, linear in enumerate(model.linears, start=1):
        assert relative_difference(grads[f"dW{index}"], linear.weight.grad.numpy())[1] < ONE_STEP_TOL[dtype]
        assert relative_difference(grads[f"db{index}"].ravel(), linear.bias.grad.numpy())[1] < ONE_STEP_TOL[dtype]


def test_dropout_is_off_at_evaluation():
    problem = moons_problem(0, np.dtype("float64"), keep_prob=0.5)
    model = _model(problem, 0.5).eval()
    x = torch.from_numpy(problem.data["X"].T.copy())
    logits = model(x).detach().numpy()
    np.testing.assert_array_equal(logits, model(x).detach().numpy())  # deterministic in eval mode
    ones = {k: np.ones_like(v) for k, v in reg.draw_dropout_masks(
        np.random.default_rng(0), problem.hyper["layer_dims"], 200, 0.5, np.float64).items()}
    cost_plain, grads_plain = deep_net.loss_and_grads(problem.params, problem.data["X"], problem.data["Y"],
                                                      hidden_activation="relu")
    cost_kept, grads_kept = reg.dropout_loss_and_grads(problem.params, problem.data["X"], problem.data["Y"], ones,
                                                       keep_prob=1.0)
    assert cost_kept == pytest.approx(float(cost_plain), rel=1e-15)
    y = torch.from_numpy(problem.data["Y"].T.copy())
    eval_loss = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(logits), y)
    assert relative_difference(np.array(float(cost_plain)), eval_loss.numpy())[1] < ONE_STEP_TOL["float64"]


# Statistical tests of the mask generator. With N Bernoulli(k) draws the kept fraction has standard deviation
# sqrt(k (1 - k) / N); we allow 5.5 of them, a two-sided false-failure probability below 4e-8 per check
# (normal approximation, N = 10^6), i.e. below 1e-6 for the whole parametrized test for any seed.
@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("seed", [0, 7])
def test_dropout_mask_keeps_right_fraction_and_preserves_expectation(keep_prob, seed):
    rng = np.random.default_rng(seed)
    n = 1000 * 1000
    D = reg.dropout_mask(rng, (1000, 1000), keep_prob, np.float64)
    assert set(np.unique(D)) <= {0.0, 1.0}
    sigma = math.sqrt(keep_prob * (1 - keep_prob) / n)
    assert abs(D.mean() - keep_prob) < 5.5 * sigma
    A = rng.uniform(0.5, 1.5, (1000, 1000))
    dropped = reg.dropout_forward(A, D, keep_prob)
    # E[A D / k] = A: the mean of (A D / k - A) has std sqrt(E[A^2] (1 - k) / (k N)).
    spread = math.sqrt(np.mean(A**2) * (1 - keep_prob) / (keep_prob * n))
    assert abs(dropped.mean() - A.mean()) < 5.5 * spread


@settings(max_examples=30, deadline=None)
@given(keep_prob=st.floats(0.05, 1.0), rows=st.integers(1, 5), cols=st.integers(1, 5), seed=st.integers(0, 99))
def test_dropout_mask_property(keep_prob, rows, cols, seed):
    D = reg.dropout_mask(np.random.default_rng(seed), (rows, cols), keep_prob, np.float32)
    assert D.shape == (rows, cols) and D.dtype == np.float32 and np.isin(D, (0, 1)).all()
    if keep_prob == 1.0:
        assert D.all()


@pytest.mark.parametrize("keep_prob", [0.0, -0.1, 1.5])
def test_dropout_rejects_bad_keep_prob(keep_prob):
    with pytest.raises(ValueError, match="keep_prob"):
        reg.dropout_mask(np.random.default_rng(0), (2, 2), keep_prob, np.float64)
    with pytest.raises(ValueError, match="keep_prob"):
        treg.DropoutNet([2, 3, 1], keep_prob=keep_prob)


# --- early stopping -----------------------------------------------------------------------------------

def test_early_stopping_stops_after_patience_and_keeps_best():
    stopper = reg.EarlyStopping(patience=2)
    losses = [1.0, 0.5, 0.6, 0.4, 0.45, 0.41, 0.9]
    stopped_at = None
    for epoch, loss in enumerate(losses):
        if stopper.update(epoch, loss, {"W1": np.array([[float(epoch)]])}):
            stopped_at = epoch
            break
    assert (stopper.best_epoch, stopped_at) == (3, 5)
    assert stopper.best_params["W1"][0, 0] == 3.0
    model = torch.nn.Linear(1, 1)
    torch_out = treg.EarlyStopping(patience=2)
    for epoch, loss in enumerate(losses[:6]):
        with torch.no_grad():
            model.weight.fill_(epoch)
        torch_out.update(epoch, loss, model)
    torch_out.restore(model)
    assert (torch_out.best_epoch, torch_out.stopped_epoch, float(model.weight.detach())) == (3, 5, 3.0)


def test_early_stopping_rejects_bad_settings():
    with pytest.raises(ValueError, match="patience"):
        reg.EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="patience"):
        treg.EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="dev_loss"):
        reg.EarlyStopping(patience=1).update(0, float("nan"), {})


# --- registered cases ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["l2_penalty", "l2_weight_decay", "l1_penalty", "dropout", "early_stopping"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_registered_cases_pass(variant, dtype):
    (case,) = select([f"regularization/{variant}"])
    steps = 40 if variant == "early_stopping" else 15
    run = run_case(case, seed=3, dtype=dtype, steps=steps)
    assert run.parity.passed, run.parity.summary()


def test_early_stopping_case_really_stops():
    (case,) = select(["regularization/early_stopping"])
    run = run_case(case, seed=3)
    final = run.torch.final_arrays
    assert 0 <= final["state.stop.best_epoch"] < final["state.stop.stopped_epoch"] < case.steps
    assert run.parity.max_rel["state"] == 0 and run.parity.passed


@pytest.mark.parametrize("variant", ["l2_penalty", "dropout"])
def test_gradient_checks(variant):
    (case,) = select([f"regularization/{variant}"])
    assert case.gradient_check(case.make_problem(0, np.dtype("float64"))) < 1e-7
