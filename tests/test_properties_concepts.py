"""Property-based parity (hypothesis) for the concepts built on the deep net: random shapes, seeds and
hyperparameters for the deep net itself, the optimizers, regularization, the softmax output, input
normalization, data augmentation and the autodiff engine's logistic regression. Every drawn problem runs
through the real harness (``compare.core.runner.run_case`` on a registered case whose ``make_problem`` draws the
random problem) and must pass the harness's float64 verdict (relative difference <= 1e-10, the project's rounding-level
bound). Most draws agree to 1e-15..1e-13; the exceptions are arrays that are themselves a cancellation
(``db`` = mean(a - y) at near-zero weights with balanced labels), whose ulp-level absolute differences
(~1e-15) the max-norm relative measure divides by a tiny ``max|db|``: up to 1e-8; the rounding floor of
compare/core/parity.py accepts them (test_a_cancelled_gradient_is_within_the_rounding_floor).

Derandomized (the same examples every run, no example database) and sized for a few seconds per test;
``PROPERTY_EXAMPLES`` scales every test up for a longer hunt
(``PROPERTY_EXAMPLES=300 pytest tests/test_properties_concepts.py``). The autodiff engine's own random
expression graphs (300 of them, up to depth 80) live in tests/test_autodiff.py.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratch.augmentation as aug
import scratch.deep_net as dn
import scratch.normalization as norm
import torch_ref.augmentation as taug
import torch_ref.normalization as tnorm
from compare.cases import optim as optim_case
from compare.cases.logistic import logistic_problem
from compare.cases.networks import deep_problem
from compare.cases.softmax import softmax_problem
from compare.core.parity import compare_trajectories, rounding_floor
from compare.core.problem import Problem
from compare.core.registry import select
from compare.core.runner import CaseRun, run_case
from compare.data import datasets
from scratch.initialization import initialize_parameters

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "0"))
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

seeds = st.integers(0, 2**16)
widths = st.integers(1, 12)


def examples(default: int) -> int:
    return EXAMPLES or default


def run(case_name: str, make_problem: Callable[[int, np.dtype], Problem], seed: int, steps: int,
        **replace: object) -> CaseRun:
    """``run_case`` of a registered case with ``make_problem`` (and any other field) replaced; float64, CPU."""
    (case,) = select([case_name])
    return run_case(dataclasses.replace(case, make_problem=make_problem, **replace), seed=seed, steps=steps)


def assert_parity(result: CaseRun) -> None:
    assert result.parity.passed, result.parity.summary()
    assert len(result.scratch.losses) == result.steps


def layer_dims(n_x: int, hidden: list[int]) -> list[int]:
    return [n_x, *hidden, 1]


# --- deep net --------------------------------------------------------------------------------------------

# ``init="small"`` (weights 0.01) makes db[L] = mean(a - y) a cancellation down to ~1e-9 from terms of 1/2 when
# the labels are balanced: the gradient rounding floor of compare/core/parity.py is what lets those draws pass
# (see test_a_cancelled_gradient_is_within_the_rounding_floor).
@settings(max_examples=examples(50), **SETTINGS)
@given(hidden=st.lists(widths, min_size=1, max_size=4), n_x=widths, m=st.integers(1, 20), seed=seeds,
       activation=st.sampled_from(dn.HIDDEN_ACTIVATIONS), init=st.sampled_from(["he", "xavier", "small"]),
       learning_rate=st.floats(1e-3, 1.0), steps=st.integers(1, 6))
def test_deep_net_parity_for_random_architectures(hidden: list[int], n_x: int, m: int, seed: int, activation: str,
                                                  init: str, learning_rate: float, steps: int) -> None:
    """Depth 2..5, widths 1..12, each hidden activation and initializer, 1..20 examples."""
    dims = layer_dims(n_x, hidden)

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        return deep_problem(seed, dtype, layer_dims=dims, m=m, hidden_activation=activation, init=init,
                            learning_rate=learning_rate)

    assert_parity(run("deep_net/relu_depth4", make_problem, seed, steps))


def test_a_cancelled_gradient_is_within_the_rounding_floor() -> None:
    """Found by hypothesis: [1, 1, 1] tanh net, weights 0.01, 6 balanced examples. Both sides compute db2 to
    the last bit their summation order allows (|diff| = 2.8e-17, an ulp of the terms of 1/2), but db2 itself
    is ~3e-9, so max|a - b| / max|b| = 1e-8 > 1e-10: the relative measure alone flags a correct gradient (and
    b2, which starts at 0 and takes that gradient's step). The rounding floor (16 units of roundoff,
    compare/core/parity.py) accepts those arrays and no other."""

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        return deep_problem(seed, dtype, layer_dims=[1, 1, 1], m=6, hidden_activation="tanh", init="small",
                            learning_rate=1.0)

    result = run("deep_net/relu_depth4", make_problem, 74, 1)
    assert result.parity.max_abs["grad"] <= 1e-16  # rounding level in absolute terms
    assert result.parity.passed, result.parity.summary()
    floored = {note.split(":")[0] for note in result.parity.notes if "rounding floor" in note}
    # db2 and the bias it updates; db1 = mean of W2 dZ2 tanh'(Z1) cancels the same way. No weight needed it.
    assert {"grad.b2", "param.b2"} <= floored <= {"grad.b1", "grad.b2", "param.b1", "param.b2"}
    floor = rounding_floor("float64")
    assert result.parity.max_rel["grad"] == pytest.approx(result.parity.max_abs["grad"] * 1e-10 / floor)
    without_floor = compare_trajectories(result.scratch, result.torch, 1e-10)
    assert not without_floor.passed  # the floor, and nothing else, makes this run pass


# --- optimizers ------------------------------------------------------------------------------------------

lrs = st.floats(1e-4, 0.1)
decays = st.sampled_from([0.0, 0.0, 1e-3, 0.1])
SPECS = st.one_of(
    st.builds(lambda lr, momentum, dampening, weight_decay, nesterov: dict(
        name="SGD", lr=lr, momentum=momentum, dampening=0.0 if nesterov else dampening, weight_decay=weight_decay,
        nesterov=nesterov and momentum > 0),
        lrs, st.sampled_from([0.0, 0.5, 0.9, 0.99]), st.floats(0, 1), decays, st.booleans()),
    st.builds(lambda lr, alpha, eps, weight_decay, momentum, centered: dict(
        name="RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
        centered=centered),
        lrs, st.floats(0.5, 0.999), st.sampled_from([1e-8, 1e-6, 1e-3]), decays,
        st.sampled_from([0.0, 0.5, 0.9]), st.booleans()),
    st.builds(lambda lr, lr_decay, weight_decay, initial: dict(
        name="Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=initial),
        lrs, st.sampled_from([0.0, 0.01, 0.5]), decays, st.sampled_from([0.0, 0.1, 1.0])),
    st.builds(lambda name, lr, beta1, beta2, eps, weight_decay, amsgrad: dict(
        name=name, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad),
        st.sampled_from(["Adam", "AdamW"]), lrs, st.floats(0.0, 0.99), st.floats(0.5, 0.9999),
        st.sampled_from([1e-8, 1e-6, 1e-3]), decays, st.booleans()),
)


@settings(max_examples=examples(50), **SETTINGS)
@given(spec=SPECS, hidden=st.lists(widths, min_size=1, max_size=3), m=st.integers(2, 40), seed=seeds,
       batch_size=st.sampled_from([None, None, 1, 7, 16]), steps=st.integers(1, 8))
def test_optimizer_parity_for_random_hyperparameters(spec: dict, hidden: list[int], m: int, seed: int,
                                                     batch_size: int | None, steps: int) -> None:
    """Every torch.optim flag that changes the math, drawn at random, on random ReLU nets and batchings."""
    hyper = {key: value for key, value in spec.items() if key != "name"}
    optim_spec = optim_case.OptimSpec(spec["name"], hyper, batch_size=batch_size)
    dims = layer_dims(2, hidden)

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        problem = deep_problem(seed, dtype, layer_dims=dims, m=m, hidden_activation="relu", init="he")
        problem.hyper["shuffle_seed"] = seed
        return problem

    assert_parity(run(
        "optim/adam", make_problem, seed, steps,
        scratch=lambda problem: optim_case.ScratchOptimTrainer(problem, optim_spec),
        torch=lambda problem, device: optim_case.TorchOptimTrainer(problem, device, optim_spec)))


# --- regularization --------------------------------------------------------------------------------------

@settings(max_examples=examples(40), **SETTINGS)
@given(variant=st.sampled_from(["l2_penalty", "l2_weight_decay", "l1_penalty", "dropout"]),
       lambd=st.floats(0.0, 5.0), keep_prob=st.floats(0.1, 1.0), hidden=st.lists(widths, min_size=1, max_size=3),
       n_x=st.integers(1, 6), m=st.integers(1, 30), activation=st.sampled_from(["relu", "tanh"]), seed=seeds,
       learning_rate=st.floats(1e-3, 0.5), steps=st.integers(1, 6))
def test_regularization_parity_for_random_lambda_and_keep_prob(variant: str, lambd: float, keep_prob: float,
                                                               hidden: list[int], n_x: int, m: int,
                                                               activation: str, seed: int, learning_rate: float,
                                                               steps: int) -> None:
    dims = layer_dims(n_x, hidden)
    regularizer = {"l2_penalty": {"l2": lambd}, "l2_weight_decay": {"l2": lambd}, "l1_penalty": {"l1": lambd},
                   "dropout": {"keep_prob": keep_prob}}[variant]

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        data = datasets.make_blobs(m=m, n_x=n_x, seed=seed)
        params = initialize_parameters(dims, method="he", rng=np.random.default_rng(seed), dtype=dtype)
        hyper = {"layer_dims": dims, "hidden_activation": activation, "learning_rate": learning_rate, **regularizer}
        return Problem(seed, dtype, {"X": data.X.astype(dtype), "Y": data.Y.astype(dtype)}, params, hyper)

    assert_parity(run(f"regularization/{variant}", make_problem, seed, steps))


def test_dropout_masks_hidden_by_a_zero_input_are_recovered() -> None:
    """Found by hypothesis: [1, 1, 1, 1, 1] tanh, keep_prob 0.5, one example. Layer 2 dropped makes Z3 = b3 = 0
    exactly, tanh(0) = 0 hides D3 from the forward hook, but tanh'(0) = 1 passes the gradient: the coupling
    must read the mask from the backward pass too (compare/cases/regularization.py, TorchDropout)."""

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        dims = [1, 1, 1, 1, 1]
        params = initialize_parameters(dims, method="he", rng=np.random.default_rng(seed), dtype=dtype)
        hyper = {"layer_dims": dims, "hidden_activation": "tanh", "learning_rate": 0.5, "keep_prob": 0.5}
        data = datasets.make_blobs(m=1, n_x=1, seed=seed)
        return Problem(seed, dtype, {"X": data.X.astype(dtype), "Y": data.Y.astype(dtype)}, params, hyper)

    assert_parity(run("regularization/dropout", make_problem, 0, 4))


# --- softmax ---------------------------------------------------------------------------------------------

@settings(max_examples=examples(20), **SETTINGS)
@given(hidden=st.lists(widths, min_size=0, max_size=2), n_classes=st.integers(2, 6), n_x=st.integers(1, 8),
       m=st.integers(1, 20), activation=st.sampled_from(dn.HIDDEN_ACTIVATIONS), seed=seeds,
       logit_scale=st.sampled_from([1.0, 1.0, 100.0, 1000.0]), steps=st.integers(1, 5))
def test_softmax_parity_for_random_classes_and_logit_scales(hidden: list[int], n_classes: int, n_x: int, m: int,
                                                            activation: str, seed: int, logit_scale: float,
                                                            steps: int) -> None:
    """K = 2..6 classes, labels drawn at random (some classes may be absent), last layer's weights scaled so
    the logits reach the thousands where an unshifted exp would overflow."""
    dims = [n_x, *hidden, n_classes]

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        rng = np.random.default_rng(seed)
        data = datasets.Dataset("random", rng.standard_normal((n_x, m)),
                                rng.integers(0, n_classes, (1, m)).astype(float), n_classes=n_classes)
        problem = softmax_problem(seed, dtype, data, layer_dims=dims, hidden_activation=activation, init="xavier",
                                  learning_rate=0.01)
        problem.params[f"W{len(dims) - 1}"] *= np.asarray(logit_scale, dtype=dtype)
        return problem

    assert_parity(run("softmax/digits", make_problem, seed, steps))


# --- normalization ---------------------------------------------------------------------------------------

@settings(max_examples=examples(20), **SETTINGS)
@given(m=st.integers(1, 30), n_x=st.integers(1, 8), seed=seeds, log_scale=st.floats(-3, 3),
       offset=st.floats(-100, 100), constant_feature=st.booleans(), steps=st.integers(1, 6))
def test_feature_normalization_parity_for_random_scales(m: int, n_x: int, seed: int, log_scale: float,
                                                        offset: float, constant_feature: bool, steps: int) -> None:
    """Features at scales 1e-3..1e3 and offsets up to 100, one of them constant (std 0) when drawn."""

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        data = datasets.make_blobs(m=m, n_x=n_x, seed=seed)
        scales = 10.0 ** (log_scale * np.linspace(-1, 1, n_x))[:, None]
        X = data.X * scales + offset
        if constant_feature:
            X[0] = offset
        problem = logistic_problem(datasets.Dataset("scaled blobs", X, data.Y), seed, dtype)
        problem.data["X_dev"] = (datasets.make_blobs(m=5, n_x=n_x, seed=seed + 1).X * scales + offset).astype(dtype)
        problem.hyper["kind"] = "features"
        return problem

    assert_parity(run("normalization/features", make_problem, seed, steps))


@settings(max_examples=examples(15), **SETTINGS)
@given(m=st.integers(1, 30), seed=seeds, brightness=st.floats(0.01, 255), steps=st.integers(1, 6))
def test_image_normalization_parity_for_random_images(m: int, seed: int, brightness: float, steps: int) -> None:
    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        rng = np.random.default_rng(seed)
        X = rng.uniform(0, brightness, (64, m))
        Y = (np.arange(m) % 2).reshape(1, m).astype(float)
        problem = logistic_problem(datasets.Dataset("random 8x8", X, Y, image_shape=(1, 8, 8)), seed, dtype)
        problem.data["X_dev"] = rng.uniform(0, brightness, (64, 5)).astype(dtype)
        problem.hyper["kind"] = "images"
        return problem

    assert_parity(run("normalization/images", make_problem, seed, steps))


def test_a_constant_feature_whose_mean_is_inexact_is_only_centred() -> None:
    """Found by hypothesis: seven 0.1s average to 0.1 + 1 ulp, so the computed variance was 1e-34, not 0, and
    the feature was divided by 1e-17; torch's std (Welford) gives exactly 0. Both sides now divide by 1."""
    data = datasets.make_blobs(m=7, n_x=2, seed=0)
    X = data.X.copy()
    X[0] = 0.1
    assert np.mean(X[0]) != 0.1  # the premise: the floating-point mean is inexact
    assert norm.fit_normalizer(X).std[0, 0] == 1.0
    assert tnorm.fit_feature_normalization(torch.from_numpy(X.T.copy()))[1][0].item() == 1.0


# --- augmentation ----------------------------------------------------------------------------------------

@settings(max_examples=examples(20), **SETTINGS)
@given(m=st.integers(1, 12), channels=st.integers(1, 3), height=st.integers(1, 9), width=st.integers(1, 9),
       padding=st.integers(0, 4), seed=seeds, steps=st.integers(1, 5))
def test_augmentation_parity_for_random_image_shapes_and_padding(m: int, channels: int, height: int, width: int,
                                                                 padding: int, seed: int, steps: int) -> None:
    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        rng = np.random.default_rng(seed)
        shape = (channels, height, width)
        X = rng.uniform(0, 1, (int(np.prod(shape)), m))
        Y = (np.arange(m) % 2).reshape(1, m).astype(float)
        problem = logistic_problem(datasets.Dataset("random images", X, Y, image_shape=shape), seed, dtype)
        problem.hyper.update(image_shape=shape, padding=padding)
        return problem

    assert_parity(run("augmentation/flip_crop", make_problem, seed, steps))


@settings(max_examples=examples(40), **SETTINGS)
@given(m=st.integers(1, 10), channels=st.integers(1, 3), height=st.integers(1, 9), width=st.integers(1, 9),
       padding=st.integers(0, 4), flip_prob=st.floats(0, 1), seed=seeds)
def test_augmentation_is_bit_identical_to_v2_for_any_flip_prob(m: int, channels: int, height: int, width: int,
                                                               padding: int, flip_prob: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((m, channels, height, width))
    decisions = aug.draw_decisions(rng, m, padding=padding, flip_prob=flip_prob)
    torch_out = taug.augment_with_decisions(torch.from_numpy(images), *(torch.from_numpy(a) for a in (
        decisions.flip, decisions.top, decisions.left)), padding=padding)
    np.testing.assert_array_equal(aug.augment(images, decisions), torch_out.numpy())


# --- autodiff --------------------------------------------------------------------------------------------

@settings(max_examples=examples(15), **SETTINGS)
@given(m=st.integers(1, 30), n_x=st.integers(1, 10), seed=seeds, steps=st.integers(1, 6))
def test_autodiff_engine_logistic_regression_parity_for_random_shapes(m: int, n_x: int, seed: int,
                                                                      steps: int) -> None:
    """The engine's graph (matmul, broadcast bias, log-sigmoid, mean) on random shapes vs autograd."""

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        return logistic_problem(datasets.make_blobs(m=m, n_x=n_x, seed=seed), seed, dtype)

    assert_parity(run("autodiff/logistic_regression", make_problem, seed, steps))

