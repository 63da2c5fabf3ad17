"""Logistic regression: loop == vectorized == torch, the gradient check, and the course's published vectors."""

from __future__ import annotations

import numpy as np
import pytest
import reference_vectors
import torch

import scratch.logistic_regression as lr
from compare.core.parity import relative_difference, tolerance
from compare.core.registry import select
from compare.core.runner import run_case
from compare.data import datasets
from scratch.gradient_check import gradient_check_n

VARIANTS = ["vectorized", "loop"]
DTYPES = ["float64", "float32"]
SEEDS = [0, 3]


def _case(variant: str):
    (case,) = select([f"logistic_regression/{variant}"])
    return case


def _small_problem(seed: int, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.floating]:
    data = datasets.make_blobs(m=24, n_x=5, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    w = rng.standard_normal((data.n_x, 1)).astype(dtype)
    b = np.dtype(dtype).type(rng.standard_normal())
    return data.X, data.Y, w, b


def _torch_cost_and_grads(w: np.ndarray, b: np.floating, X: np.ndarray, Y: np.ndarray
                          ) -> tuple[float, np.ndarray, float]:
    """Autograd through nn.functional's BCE-with-logits, in the batch-first layout."""
    wt = torch.tensor(w.T.copy(), requires_grad=True)
    bt = torch.tensor(np.asarray([b], dtype=X.dtype), requires_grad=True)
    logits = torch.from_numpy(X.T.copy()) @ wt.T + bt
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(Y.T.copy()))
    loss.backward()
    return float(loss.detach()), wt.grad.numpy().T, float(bt.grad[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_step_zero_loop_vectorized_and_torch_agree(seed: int, dtype: str) -> None:
    X, Y, w, b = _small_problem(seed, dtype)
    grads_vec, cost_vec = lr.propagate(w, b, X, Y)
    grads_loop, cost_loop = lr.propagate_loop(w, b, X, Y)
    cost_torch, dw_torch, db_torch = _torch_cost_and_grads(w, b, X, Y)
    tol = tolerance(dtype, "cpu")
    for name, scratch_out in [("vectorized", (cost_vec, grads_vec)), ("loop", (cost_loop, grads_loop))]:
        cost, grads = scratch_out
        assert grads["dw"].shape == w.shape and grads["dw"].dtype == X.dtype, name
        assert relative_difference(np.asarray(cost), np.asarray(cost_torch))[1] <= tol, name
        assert relative_difference(grads["dw"], dw_torch)[1] <= tol, name
        assert relative_difference(np.asarray(grads["db"]), np.asarray(db_torch))[1] <= tol, name


@pytest.mark.parametrize("dtype", DTYPES)
def test_loop_and_vectorized_training_agree_along_200_steps(dtype: str) -> None:
    X, Y, w, b = _small_problem(1, dtype)
    vec_params, vec_grads, vec_costs = lr.optimize(w, b, X, Y, num_iterations=200, learning_rate=0.5)
    loop_params, loop_grads, loop_costs = lr.optimize(w, b, X, Y, num_iterations=200, learning_rate=0.5,
                                                      loop=True)
    tol = tolerance(dtype, "cpu")
    assert len(vec_costs) == len(loop_costs) == 200
    assert vec_costs[-1] < vec_costs[0]  # it did learn
    assert relative_difference(np.array(vec_costs), np.array(loop_costs))[1] <= tol
    assert relative_difference(vec_params["w"], loop_params["w"])[1] <= tol
    assert relative_difference(vec_grads["dw"], loop_grads["dw"])[1] <= tol


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_registry_parity_along_200_steps(variant: str, seed: int, dtype: str) -> None:
    case = _case(variant)
    run = run_case(case, seed=seed, dtype=dtype, steps=200)
    assert run.parity.passed, run.parity.summary()
    assert len(run.scratch.losses) == len(run.torch.losses) == 200
    assert set(run.parity.max_rel) == {"loss", "grad", "param"}
    assert run.parity.max_rel_overall <= tolerance(dtype, "cpu")
    # The step-0 gradients are recorded and match too (not only the final ones).
    first = min(run.scratch.snapshots)
    assert first == 0
    for key in ("grad.w", "grad.b"):
        difference = relative_difference(run.scratch.snapshots[0][key], run.torch.snapshots[0][key])[1]
        assert difference <= run.parity.tolerance
    if dtype == "float64":
        assert run.parity.max_rel_overall < 1e-12  # rounding level, the reference mode


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradient_check_of_each_variant(variant: str) -> None:
    case = _case(variant)
    error = case.gradient_check(case.make_problem(0, np.dtype("float64")))
    assert error < 1e-7


def test_gradient_check_catches_a_wrong_gradient() -> None:
    X, Y, w, b = _small_problem(2, "float64")
    grads, _ = lr.propagate(w, b, X, Y)

    def cost(p: dict[str, np.ndarray]) -> float:
        return float(lr.cost_from_logits(p["w"].T @ X + p["b"], Y))

    params = {"w": w, "b": np.asarray(b)}
    good = gradient_check_n(cost, params, {"dw": grads["dw"], "db": np.asarray(grads["db"])})
    bad = gradient_check_n(cost, params, {"dw": grads["dw"] * X.shape[1], "db": np.asarray(grads["db"])})
    assert good < 1e-7
    assert bad > 1e-2


def test_predict_thresholds_the_probability() -> None:
    X, Y, w, b = _small_problem(4, "float64")
    predictions = lr.predict(w, b, X)
    probabilities = 1 / (1 + np.exp(-(w.T @ X + b)))
    np.testing.assert_array_equal(predictions, (probabilities > 0.5).astype(X.dtype))
    assert predictions.shape == Y.shape


def test_initialize_with_zeros() -> None:
    w, b = lr.initialize_with_zeros(4, np.float32)
    assert w.shape == (4, 1) and w.dtype == np.float32 and not w.any()
    assert b == 0 and b.dtype == np.float32


# --- The course's published test vectors (external numbers) -------------------------------------------

def _reference_cases(function: str) -> list[dict]:
    return [c for c in reference_vectors.cases("dlai_2021_public_tests.json")
            if c["function"] == function and c["id"].startswith("c1w2a2.")]


def _ids(function: str) -> list[str]:
    return [c["id"] for c in _reference_cases(function)]


def _close(got: object, expected: object) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", _reference_cases("propagate"), ids=_ids("propagate"))
def test_published_propagate_vectors(case: dict | None) -> None:
    if case is None:
        pytest.skip("reference vectors not found")
    ns = reference_vectors.setup(case)
    grads, cost = lr.propagate(ns["w"], ns["b"], ns["X"], ns["Y"])
    _close(grads["dw"], case["expected"]["dw"])
    _close(grads["db"], case["expected"]["db"])
    _close(cost, case["expected"]["cost"])


@pytest.mark.parametrize("case", _reference_cases("optimize"), ids=_ids("optimize"))
def test_published_optimize_vectors(case: dict | None) -> None:
    if case is None:
        pytest.skip("reference vectors not found")
    ns = reference_vectors.setup(case)
    call = case["call"]
    iterations = int(call.split("num_iterations=")[1].split(",")[0])
    rate = float(call.split("learning_rate=")[1].split(")")[0])
    params, grads, costs = lr.optimize(ns["w"], ns["b"], ns["X"], ns["Y"], num_iterations=iterations,
                                       learning_rate=rate)
    expected = case["expected"]
    _close(params["w"], expected["w"])
    _close(params["b"], expected["b"])
    _close(grads["dw"], expected["dw"])
    _close(grads["db"], expected["db"])
    _close(costs[::100], expected["costs"])  # the course records the cost every 100 iterations


@pytest.mark.parametrize("case", _reference_cases("predict"), ids=_ids("predict"))
def test_published_predict_vectors(case: dict | None) -> None:
    if case is None:
        pytest.skip("reference vectors not found")
    ns = reference_vectors.setup(case)
    _close(lr.predict(ns["w"], ns["b"], ns["X"]), case["expected"]["pred"])
