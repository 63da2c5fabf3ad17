"""One hidden layer: parity with torch, gradient check, the course's published vectors, shapes, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import reference_vectors
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch.deep_net as dn
import scratch.shallow_net as sn
from compare.cases.shallow_net import TorchShallowNet, check_gradients, shallow_problem
from compare.core.registry import select
from compare.core.runner import run_case
from compare.data import datasets

VARIANTS = [case.variant for case in select(["shallow_net"])]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_registered_case_matches_torch(variant: str, dtype: str) -> None:
    (case,) = select([f"shallow_net/{variant}"])
    run = run_case(case, seed=0, dtype=dtype)
    assert run.steps >= 200
    assert run.parity.passed, run.parity.summary()
    assert {"loss", "grad", "param"} <= run.parity.max_rel.keys()


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("variant", VARIANTS)
def test_other_seeds_match_torch(variant: str, seed: int, dtype: str) -> None:
    (case,) = select([f"shallow_net/{variant}"])
    run = run_case(case, seed=seed, dtype=dtype)
    assert run.parity.passed, run.parity.summary()


def test_float64_seed_1_matches_torch() -> None:
    (case,) = select(["shallow_net/planar_flower"])
    run = run_case(case, seed=1, dtype="float64")
    assert run.parity.passed, run.parity.summary()


@pytest.mark.parametrize("n_h", [1, 4, 20])
def test_gradient_check(n_h: int) -> None:
    problem = shallow_problem(n_h, np.float64, datasets.make_blobs(m=40, n_x=3, seed=n_h), n_h=n_h, init="xavier")
    assert check_gradients(problem) < 1e-7


def test_registered_gradient_checks_pass() -> None:
    # The course's small start (weights ~0.01) makes dW1 tiny, so the two-sided differences' rounding
    # (~1e-16 / 1e-7) is a larger share of it than in test_gradient_check: measured 3e-9 .. 1.2e-7.
    for case in select(["shallow_net"]):
        assert case.gradient_check(case.make_problem(0, np.dtype(np.float64))) < 1e-6


def test_same_numbers_as_the_two_layer_deep_net() -> None:
    problem = shallow_problem(0, np.float64, datasets.planar_flower(m=60, seed=0), n_h=5, init="xavier")
    X, Y, params = problem.data["X"], problem.data["Y"], problem.params
    cost, grads = sn.loss_and_grads(params, X, Y)
    deep_cost, deep_grads = dn.loss_and_grads(params, X, Y, hidden_activation="tanh")
    assert cost == pytest.approx(float(deep_cost), rel=1e-15)
    for name, value in grads.items():
        np.testing.assert_allclose(value, deep_grads[name], rtol=1e-13, atol=1e-16)
    A2, cache = sn.forward_propagation(X, params)
    np.testing.assert_allclose(A2, dn.L_model_forward(X, params, hidden_activation="tanh")[0], rtol=1e-15)
    assert sn.compute_cost(A2, Y) == pytest.approx(cost, rel=1e-12)
    np.testing.assert_array_equal(sn.predict(params, X), dn.predict(X, params, hidden_activation="tanh"))


def test_torch_model_starts_from_the_shared_weights_exactly() -> None:
    problem = shallow_problem(0, np.float64, datasets.planar_flower(m=40, seed=0), n_h=4)
    model = TorchShallowNet(problem, torch.device("cpu")).model
    np.testing.assert_array_equal(model.hidden.weight.detach().numpy(), problem.params["W1"])
    np.testing.assert_array_equal(model.hidden.bias.detach().numpy(), problem.params["b1"].ravel())
    np.testing.assert_array_equal(model.output.weight.detach().numpy(), problem.params["W2"])
    assert isinstance(model.activation, torch.nn.Tanh)


def test_nn_model_learns_the_flower() -> None:
    data = datasets.planar_flower(m=200, seed=0)
    params = sn.nn_model(data.X, data.Y, 4, rng=np.random.default_rng(0), num_iterations=1500)
    assert dn.accuracy(sn.predict(params, data.X), data.Y) > 0.8  # a linear model stays near 0.5 here
    assert sn.layer_sizes(data.X, data.Y) == (2, 4, 1)


@settings(max_examples=25, deadline=None)
@given(n_x=st.integers(1, 6), n_h=st.integers(1, 7), m=st.integers(1, 9), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_shapes_and_dtypes(n_x: int, n_h: int, m: int, seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m)).astype(dtype)
    Y = (rng.random((1, m)) > 0.5).astype(dtype)
    params = sn.initialize_parameters(n_x, n_h, 1, rng=rng, method="xavier", dtype=dtype)
    A2, cache = sn.forward_propagation(X, params)
    assert A2.shape == (1, m) and cache["A1"].shape == cache["Z1"].shape == (n_h, m)
    cost, grads = sn.loss_and_grads(params, X, Y)
    assert np.isfinite(cost) and cost >= 0
    for name, value in params.items():
        assert grads[f"d{name}"].shape == value.shape and grads[f"d{name}"].dtype == dtype


@pytest.mark.parametrize(("change", "message"), [
    (lambda p, X, Y: (p, X[:, :-1], Y), "Y must have shape"),
    (lambda p, X, Y: (p, X, Y + 1), "only 0 and 1"),
    (lambda p, X, Y: (p, np.where(X > 0, np.inf, X), Y), "NaN/Inf"),
    (lambda p, X, Y: ({**p, "W2": p["W2"][:, :-1]}, X, Y), "W2 must have shape"),
    (lambda p, X, Y: ({**p, "W3": p["b2"] + 1, "b3": p["b2"]}, X, Y), "one hidden layer"),
])
def test_bad_input_names_the_argument(change, message: str) -> None:
    problem = shallow_problem(0, np.float64, datasets.make_blobs(m=8, n_x=3), n_h=4)
    params, X, Y = change(problem.params, problem.data["X"], problem.data["Y"])
    with pytest.raises(ValueError, match=message):
        sn.loss_and_grads(params, X, Y)


def test_bad_sizes_and_learning_rate() -> None:
    with pytest.raises(ValueError, match="n_h"):
        sn.layer_sizes(np.zeros((2, 3)), np.zeros((1, 3)), n_h=0)
    with pytest.raises(ValueError, match="same number of examples"):
        sn.layer_sizes(np.zeros((2, 3)), np.zeros((1, 4)))
    params = sn.initialize_parameters(2, 3, 1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="learning_rate"):
        sn.update_parameters(params, {f"d{k}": v for k, v in params.items()}, learning_rate=0.0)


# --- The course's published test vectors (C1W3A1; external numbers) --------------------------------------

def _cases(prefix: str) -> list[dict]:
    return [c for c in reference_vectors.cases("dlai_2021_public_tests.json") if c["id"].startswith(prefix)]


def _close(got: object, expected: object) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", _cases("c1w3a1.forward_propagation"))
def test_published_forward_propagation(case: dict | None) -> None:
    ns = reference_vectors.setup(case)
    A2, cache = sn.forward_propagation(ns["X"], ns["parameters"])
    _close(A2, case["expected"]["A2"])
    for key in ("Z1", "A1", "Z2"):
        _close(cache[key], case["expected"][key])


@pytest.mark.parametrize("case", _cases("c1w3a1.backward_propagation"))
def test_published_backward_propagation(case: dict | None) -> None:
    ns = reference_vectors.setup(case)
    grads = sn.backward_propagation(ns["parameters"], ns["cache"], ns["X"], ns["Y"])
    for key, expected in case["expected"].items():
        _close(grads[key], expected)


@pytest.mark.parametrize("case", [c for c in _cases("c1w3a1.compute_cost") if "test_2" not in c["id"]])
def test_published_compute_cost(case: dict | None) -> None:
    # public_test_2 passes A2 as a 1-D (5,) array against Y (1, 5); we reject the shape mismatch instead.
    ns = reference_vectors.setup(case)
    _close(sn.compute_cost(ns["A2"], ns["Y"]), case["expected"]["cost"])


@pytest.mark.parametrize("case", _cases("c1w3a1.update_parameters"))
def test_published_update_parameters(case: dict | None) -> None:
    ns = reference_vectors.setup(case)
    params = sn.update_parameters(ns["parameters"], ns["grads"])
    for key, expected in case["expected"].items():
        _close(params[key], expected)


@pytest.mark.parametrize("case", _cases("c1w3a1.predict"))
def test_published_predict(case: dict | None) -> None:
    ns = reference_vectors.setup(case)
    _close(sn.predict(ns["parameters"], ns["X"]), case["expected"]["predictions"])


@pytest.mark.parametrize("case", _cases("c1w3a1.layer_sizes"))
def test_published_layer_sizes(case: dict | None) -> None:
    ns = reference_vectors.setup(case)
    assert list(sn.layer_sizes(ns["X"], ns["Y"])) == case["expected"]["out"]
    assert list(sn.layer_sizes(ns["X2"], ns["Y2"])) == case["expected"]["out2"]
