"""Deep net: scratch vs torch parity along 200 SGD steps, gradient checks, shapes and input validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import scratch.deep_net as dn
from compare.cases.networks import (
    ScratchDeepNet,
    TorchDeepNet,
    check_gradients,
    deep_param_map,
    deep_problem,
)
from compare.core.registry import select
from compare.core.runner import run_case
from scratch.initialization import initialize_parameters

DEEP_CASES = [case.variant for case in select(["deep_net"])]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", DEEP_CASES)
def test_registered_case_matches_torch(variant: str, dtype: str) -> None:
    (case,) = select([f"deep_net/{variant}"])
    run = run_case(case, seed=0, dtype=dtype)
    assert run.steps >= 200
    assert run.parity.passed, run.parity.summary()
    assert {"loss", "grad", "param"} <= run.parity.max_rel.keys()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("activation", dn.HIDDEN_ACTIVATIONS)
def test_other_seeds_match_torch(activation: str, seed: int) -> None:
    (case,) = select([f"deep_net/{activation}_depth4"])
    run = run_case(case, seed=seed, dtype="float64", steps=200)
    assert run.parity.passed, run.parity.summary()


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("activation", dn.HIDDEN_ACTIVATIONS)
def test_gradient_check_per_depth(activation: str, depth: int) -> None:
    dims = [5] + [6] * (depth - 1) + [1]
    problem = deep_problem(depth, np.float64, layer_dims=dims, m=24, hidden_activation=activation, init="xavier")
    assert check_gradients(problem) < 1e-7


def test_parameter_map_round_trips_shapes() -> None:
    problem = deep_problem(0, np.float64, layer_dims=[3, 5, 4, 1], m=10)
    trainer = TorchDeepNet(problem, torch.device("cpu"))
    for entry in deep_param_map(trainer.model):
        assert entry.to_scratch(entry.parameter.detach().numpy()).shape == problem.params[entry.scratch_name].shape
        np.testing.assert_array_equal(entry.to_scratch(entry.parameter.detach().numpy()),
                                      problem.params[entry.scratch_name])


def test_loss_and_grads_keys_shapes_and_dtype() -> None:
    for dtype in (np.float32, np.float64):
        problem = deep_problem(0, dtype, layer_dims=[3, 5, 4, 1], m=10)
        cost, grads = dn.loss_and_grads(problem.params, problem.data["X"], problem.data["Y"])
        assert set(grads) == {f"d{name}" for name in problem.params}
        for name, value in problem.params.items():
            assert grads[f"d{name}"].shape == value.shape
            assert grads[f"d{name}"].dtype == dtype
        assert np.asarray(cost).dtype == dtype


def test_step_does_not_touch_problem_data() -> None:
    problem = deep_problem(0, np.float32, layer_dims=[3, 5, 1], m=10)
    X_before, params_before = problem.data["X"].copy(), problem.fresh_params()
    trainer = ScratchDeepNet(problem)
    trainer.step()
    np.testing.assert_array_equal(problem.data["X"], X_before)
    for name, value in params_before.items():
        np.testing.assert_array_equal(problem.params[name], value)
        assert not np.array_equal(trainer.params[name], value) or name.startswith("b")


def test_L_model_backward_is_the_course_loop_over_the_layer_functions() -> None:
    problem = deep_problem(3, np.float64, layer_dims=[4, 3, 2, 1], m=7, hidden_activation="tanh", init="xavier")
    X, Y, params = problem.data["X"], problem.data["Y"], problem.params
    AL, caches = dn.L_model_forward(X, params, hidden_activation="tanh")
    grads = dn.L_model_backward(AL, Y, caches, hidden_activation="tanh")
    dA2, dW3, db3 = dn.linear_backward(AL - Y, caches[2][0])
    dA1, dW2, db2 = dn.linear_activation_backward(dA2, caches[1], "tanh")
    dA0, dW1, db1 = dn.linear_activation_backward(dA1, caches[0], "tanh")
    for key, value in {"dA2": dA2, "dW3": dW3, "db3": db3, "dA1": dA1, "dW2": dW2, "db2": db2, "dA0": dA0,
                       "dW1": dW1, "db1": db1}.items():
        np.testing.assert_array_equal(grads[key], value)


def test_saturated_output_is_finite() -> None:
    params = initialize_parameters([2, 3, 1], method="small", rng=np.random.default_rng(0))
    params["b2"][:] = 1e4
    X = np.ones((2, 4))
    Y = np.array([[0.0, 1.0, 0.0, 1.0]])
    cost, grads = dn.loss_and_grads(params, X, Y)
    assert np.isfinite(cost) and cost > 1e3
    assert all(np.isfinite(g).all() for g in grads.values())
    AL, _ = dn.L_model_forward(X, params)
    assert np.isfinite(dn.compute_cost(AL, Y))


@pytest.mark.parametrize(("change", "message"), [
    (lambda p, X, Y: (p, X[:, :-1], Y), "Y must have shape"),
    (lambda p, X, Y: (p, X, Y * 2), "only 0 and 1"),
    (lambda p, X, Y: (p, np.where(X > 0, np.nan, X), Y), "NaN"),
    (lambda p, X, Y: ({**p, "W2": p["W2"][:, :-1]}, X, Y), "W2 must have shape"),
    (lambda p, X, Y: ({k: v for k, v in p.items() if k != "b2"}, X, Y), "W1, b1"),
    (lambda p, X, Y: ({**p, "W1": p["W1"].astype(np.float32)}, X, Y), "dtype"),
    (lambda p, X, Y: (p, X.astype(np.float16), Y), "X has dtype float16"),
])
def test_bad_input_names_the_argument(change, message: str) -> None:
    problem = deep_problem(0, np.float64, layer_dims=[3, 4, 1], m=8)
    params, X, Y = change(problem.params, problem.data["X"], problem.data["Y"])
    with pytest.raises(ValueError, match=message):
        dn.loss_and_grads(params, X, Y)


def test_bad_hyperparameters() -> None:
    problem = deep_problem(0, np.float64, layer_dims=[3, 4, 1], m=8)
    with pytest.raises(ValueError, match="hidden_activation"):
        dn.loss_and_grads(problem.params, problem.data["X"], problem.data["Y"], hidden_activation="gelu")
    with pytest.raises(ValueError, match="learning_rate"):
        dn.update_parameters(problem.fresh_params(), {f"d{k}": v for k, v in problem.params.items()}, -1.0)
    with pytest.raises(ValueError, match="layer_dims"):
        deep_problem(0, np.float64, layer_dims=[3], m=8)
    with pytest.raises(ValueError, match="dataset or m"):
        deep_problem(0, np.float64, layer_dims=[3, 1])
