"""Softmax output: stable softmax and cross-entropy against torch, parity on digits, gradient check, labels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.softmax as sm
from compare.cases.softmax import TorchSoftmaxNet, check_gradients, digits_split, softmax_problem
from compare.core.registry import select
from compare.core.runner import run_case
from compare.data import datasets

VARIANTS = [case.variant for case in select(["softmax"])]
ROUNDING = {np.float32: 2e-6, np.float64: 1e-14}


def _logits(dtype: type) -> np.ndarray:
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((5, 12)) * 3
    Z[:, :3] = [[0.0, 1e4, -1e4], [0.0, -1e4, -1e4], [0.0, 1e4 - 1, 1e4], [0.0, 0.0, -1e4], [0.0, 1.0, 0.0]]
    return Z.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_match_torch(dtype: type) -> None:
    Z = _logits(dtype)
    probs, log_probs = sm.softmax(Z), sm.log_softmax(Z)
    assert probs.dtype == dtype and log_probs.dtype == dtype
    assert np.isfinite(log_probs).all()
    reference = torch.from_numpy(Z)
    np.testing.assert_allclose(probs, torch.softmax(reference, dim=0).numpy(), rtol=ROUNDING[dtype], atol=1e-30)
    np.testing.assert_allclose(log_probs, torch.log_softmax(reference, dim=0).numpy(), rtol=ROUNDING[dtype])
    np.testing.assert_allclose(probs.sum(axis=0), 1, rtol=ROUNDING[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_matches_torch_for_labels_and_one_hot(dtype: type) -> None:
    Z = _logits(dtype)
    labels = np.random.default_rng(1).integers(0, 5, size=(1, 12))
    expected = F.cross_entropy(torch.from_numpy(Z.T.copy()), torch.from_numpy(labels.ravel())).item()
    got = sm.cross_entropy_from_logits(Z, labels)
    assert got == pytest.approx(expected, rel=ROUNDING[dtype])
    assert sm.cross_entropy_from_logits(Z, labels.ravel()) == got
    assert sm.cross_entropy_from_logits(Z, sm.one_hot(labels, 5, dtype)) == got


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_digits_case_matches_torch(dtype: str) -> None:
    (case,) = select(["softmax/digits"])
    run = run_case(case, seed=0, dtype=dtype)
    assert run.steps >= 200
    assert run.parity.passed, run.parity.summary()
    assert {"loss", "grad", "param"} <= run.parity.max_rel.keys()


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("variant", VARIANTS)
def test_registered_cases_match_torch_over_seeds(variant: str, seed: int, dtype: str) -> None:
    (case,) = select([f"softmax/{variant}"])
    run = run_case(case, seed=seed, dtype=dtype)
    assert run.parity.passed, run.parity.summary()


def _small_digits_case(hidden_activation: str, init: str):
    """The registered digits case on the first 300 training examples, with another hidden activation."""
    (case,) = select(["softmax/digits"])

    def make_problem(seed: int, dtype: np.dtype):
        train = digits_split(seed)[0].subset(np.arange(300))
        return softmax_problem(seed, dtype, train, layer_dims=[64, 32, 10], hidden_activation=hidden_activation,
                               init=init, learning_rate=0.1)

    return dataclasses.replace(case, variant=f"digits300_{hidden_activation}", make_problem=make_problem)


def test_relu_softmax_matches_torch_in_float64() -> None:
    # ReLU is not registered on digits because of float32 kink crossings (see compare/cases/softmax.py);
    # in float64 the two sides agree at rounding level.
    run = run_case(_small_digits_case("relu", "he"), seed=0, dtype="float64")
    assert run.parity.passed, run.parity.summary()


# softmax/large_logits is left out: with logits ~4e3 the cost is ~1e3 and a two-sided difference at
# eps = 1e-7 keeps only ~1e-6 of relative precision (measured 4e-6), so the check says nothing about the
# backward pass there; that case's gradients are proven by parity with torch instead.
@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "large_logits"])
def test_gradient_check(variant: str) -> None:
    (case,) = select([f"softmax/{variant}"])
    assert check_gradients(case.make_problem(0, np.dtype(np.float64))) < 1e-7


def test_gradient_check_relu() -> None:
    problem = _small_digits_case("relu", "he").make_problem(0, np.dtype(np.float64))
    assert check_gradients(problem) < 1e-7


def test_torch_model_starts_from_the_shared_weights_exactly() -> None:
    (case,) = select(["softmax/digits"])
    problem = case.make_problem(0, np.dtype(np.float32))
    trainer = TorchSoftmaxNet(problem, torch.device("cpu"))
    for l, linear in enumerate(trainer.model.linears, start=1):  # noqa: E741
        np.testing.assert_array_equal(linear.weight.detach().numpy(), problem.params[f"W{l}"])
        np.testing.assert_array_equal(linear.bias.detach().numpy(), problem.params[f"b{l}"].ravel())
    assert trainer.y.dtype == torch.long and trainer.model.linears[-1].out_features == 10


@settings(max_examples=30, deadline=None)
@given(Z=hnp.arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(1, 8)), elements=st.floats(-1e4, 1e4)),
       shift=st.floats(-1e3, 1e3))
def test_softmax_properties(Z: np.ndarray, shift: float) -> None:
    probs = sm.softmax(Z)
    assert probs.shape == Z.shape and ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(sm.softmax(Z + shift), probs, atol=1e-9)  # the max shift makes this exact-ish
    labels = np.zeros((1, Z.shape[1]), dtype=np.int64)
    assert sm.cross_entropy_from_logits(Z, labels) >= 0


@settings(max_examples=20, deadline=None)
@given(dims=st.lists(st.integers(1, 6), min_size=1, max_size=3), K=st.integers(2, 5), m=st.integers(1, 9),
       seed=st.integers(0, 2**16), dtype=st.sampled_from([np.float32, np.float64]),
       activation=st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu"]))
def test_model_shapes_and_dtypes(dims: list[int], K: int, m: int, seed: int, dtype: type, activation: str) -> None:
    from scratch.initialization import initialize_parameters

    rng = np.random.default_rng(seed)
    params = initialize_parameters(dims + [K], method="xavier", rng=rng, dtype=dtype)
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    labels = rng.integers(0, K, size=(1, m))
    probs, caches = sm.L_model_forward(X, params, hidden_activation=activation)
    assert probs.shape == (K, m) and probs.dtype == dtype and len(caches) == len(dims)
    cost, grads = sm.loss_and_grads(params, X, labels, hidden_activation=activation)
    assert np.isfinite(cost)
    for name, value in params.items():
        assert grads[f"d{name}"].shape == value.shape and grads[f"d{name}"].dtype == dtype
    predictions = sm.predict(X, params, hidden_activation=activation)
    assert predictions.shape == (1, m) and ((predictions >= 0) & (predictions < K)).all()


@pytest.mark.parametrize(("labels", "message"), [
    (np.array([[0, 1, 3]]), r"labels in 0..2, found \[3\]"),
    (np.array([[0, -1, 2]]), r"labels in 0..2, found \[-1\]"),
    (np.array([[0.0, 1.0, 2.0]]), "integer class labels"),
    (np.array([[0, 1]]), "one label per example"),
    (np.array([[0, 1, 2], [0, 1, 2]]), r"shape \(1, m\) or \(m,\)"),
])
def test_bad_labels_are_named(labels: np.ndarray, message: str) -> None:
    Z = np.zeros((3, 3))
    with pytest.raises(ValueError, match=message):
        sm.cross_entropy_from_logits(Z, labels)


def test_bad_inputs() -> None:
    Z = np.zeros((3, 2))
    with pytest.raises(ValueError, match="NaN/Inf"):
        sm.cross_entropy_from_logits(np.full((3, 2), np.nan), np.array([0, 1]))
    with pytest.raises(ValueError, match="one-hot"):
        sm.cross_entropy_from_logits(Z, np.array([[1.0, 0.5], [0.0, 0.5], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="2 dimensions"):
        sm.softmax(np.zeros(3))
    problem = softmax_problem(0, np.float64, datasets.digits().subset(np.arange(20)), layer_dims=[64, 5, 10],
                              hidden_activation="tanh", init="xavier", learning_rate=0.1)
    X, labels, params = problem.data["X"], problem.data["Y"], problem.params
    with pytest.raises(ValueError, match="labels in 0..9"):
        sm.loss_and_grads(params, X, labels + 10)
    with pytest.raises(ValueError, match="at least 2 classes"):
        sm.loss_and_grads({**params, "W2": params["W2"][:1], "b2": params["b2"][:1]}, X, labels * 0)
    with pytest.raises(ValueError, match="X contains"):
        sm.loss_and_grads(params, np.where(X > 0, np.nan, X), labels)
    with pytest.raises(ValueError, match="classes"):
        softmax_problem(0, np.float64, datasets.digits().subset(np.arange(20)), layer_dims=[64, 5, 3],
                        hidden_activation="tanh", init="xavier", learning_rate=0.1)
