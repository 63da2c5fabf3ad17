"""Kink crossings: detection, the rounding bound, and the float32 ReLU run that needs them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

import compare.core.runner as runner
import scratch.deep_net as dn
import scratch.optim as so
from compare.cases.networks import ScratchDeepNet, TorchDeepNet, column
from compare.cases.rnn import torch_rnn_kinks
from compare.core.devices import to_torch, torch_dtype
from compare.core.kinks import (
    MAX_CROSSINGS_PER_100_STEPS,
    Preactivation,
    find_kink_crossing,
    preactivation,
    start_kink_watch,
)
from compare.core.parity import compare_trajectories, tolerance
from compare.core.problem import Observation, Problem
from compare.core.record import Trajectory
from compare.core.registry import Case, select
from compare.core.runner import run_case
from compare.core.trainers import ParamMap, ScratchTrainer, TorchTrainer, load_parameters
from compare.perf.timing import pinned_threads

#: The float32 run in which the crossing was found (see compare/core/kinks.py).
CROSSING_CASE, CROSSING_SEED = "deep_net/leaky_relu_depth4", 2


def _layer(z: list[list[float]], scale: float = 1.0) -> Preactivation:
    array = np.array(z, dtype=np.float64)
    return Preactivation(array, np.full_like(array, scale))


def test_equal_patterns_are_no_crossing() -> None:
    layer = _layer([[1.0, -2.0], [0.0, 3.0]])
    assert find_kink_crossing(5, [layer], [layer], tol=1e-4) is None


def test_a_flip_within_tolerance_of_zero_is_a_crossing_naming_the_entry() -> None:
    scratch_out = [_layer([[1.0, -2.0]]), _layer([[1.0, -1e-7, 2.0]], scale=3.0)]
    torch_out = [_layer([[1.0, -2.0]]), _layer([[1.0, 2e-8, 2.0]], scale=3.0)]
    crossing = find_kink_crossing(7, scratch_out, torch_out, tol=1e-4)
    assert crossing is not None
    assert (crossing.step, crossing.layer, crossing.unit, crossing.example, crossing.count) == (7, 2, 0, 1, 1)
    assert (crossing.scratch_z, crossing.torch_z) == (-1e-7, 2e-8)
    assert crossing.bound == pytest.approx(3e-4)
    assert "step 7 not compared" in crossing.describe()


def test_a_flip_beyond_the_bound_is_a_real_difference_not_a_crossing() -> None:
    scratch_out, torch_out = [_layer([[-1e-3, 5.0]])], [_layer([[1e-3, 5.0]])]
    assert find_kink_crossing(1, scratch_out, torch_out, tol=1e-4) is None
    # The bound scales with |W||A| + |b|: the same values are a crossing when the terms summed are large.
    scratch_out, torch_out = [_layer([[-1e-3, 5.0]], scale=100.0)], [_layer([[1e-3, 5.0]], scale=100.0)]
    assert find_kink_crossing(1, scratch_out, torch_out, tol=1e-4) is not None


def test_the_worst_entry_is_reported_and_every_flip_counted() -> None:
    scratch_out = [_layer([[-1e-9, 4.0]]), _layer([[3e-5, -1.0]])]
    torch_out = [_layer([[1e-9, 4.0]]), _layer([[-1e-5, -1.0]])]
    crossing = find_kink_crossing(3, scratch_out, torch_out, tol=1e-4)
    assert crossing is not None
    assert (crossing.layer, crossing.count, crossing.scratch_z) == (2, 2, 3e-5)


def test_mismatched_layer_shapes_are_an_error() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        find_kink_crossing(0, [_layer([[1.0, 2.0]])], [_layer([[1.0], [2.0]])], tol=1e-4)


@settings(max_examples=60, deadline=None)
@given(z=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                    elements=st.floats(-10, 10)))
def test_identical_preactivations_never_cross(z: np.ndarray) -> None:
    layer = Preactivation(z, np.abs(z) + 1.0)
    assert find_kink_crossing(0, [layer], [Preactivation(z.copy(), np.abs(z) + 1.0)], tol=2e-4) is None


def test_scale_is_the_sum_of_absolute_terms() -> None:
    W = np.array([[1.0, -2.0]])
    A = np.array([[3.0, -1.0], [0.5, 2.0]])
    b = np.array([[-0.25]])
    layer = preactivation(W @ A + b, W, A, b)
    np.testing.assert_array_equal(layer.scale, [[1 * 3 + 2 * 0.5 + 0.25, 1 * 1 + 2 * 2 + 0.25]])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_preactivations_are_the_bits_of_the_training_forward(dtype: str) -> None:
    (case,) = select([CROSSING_CASE])
    problem = case.make_problem(0, np.dtype(dtype))
    trainer = case.torch(problem, torch.device("cpu"))
    captured: list[np.ndarray] = []
    hooks = [linear.register_forward_hook(lambda _m, _i, out: captured.append(out.detach().numpy().T.copy()))
             for linear in trainer.model.linears[:-1]]
    assert trainer.start_kink_watch()
    trainer.step()
    for hook in hooks:
        hook.remove()
    watched = trainer.preactivations()
    assert len(watched) == len(captured) == 3
    for layer, z in zip(watched, captured, strict=True):
        np.testing.assert_array_equal(layer.z, z)
    # the scratch side captures the same pre-activations from its caches (to rounding)
    scratch_side = case.scratch(problem)
    assert scratch_side.start_kink_watch()
    scratch_side.step()
    for scratch_out, torch_out in zip(scratch_side.preactivations(), watched, strict=True):
        np.testing.assert_allclose(scratch_out.z, torch_out.z, rtol=0, atol=1e-5 * float(np.max(torch_out.scale)))


def test_smooth_units_are_not_watched() -> None:
    (case,) = select(["deep_net/tanh_depth4"])
    problem = case.make_problem(0, np.dtype("float64"))
    scratch_side, torch_side = case.scratch(problem), case.torch(problem, torch.device("cpu"))
    assert not scratch_side.start_kink_watch() and not torch_side.start_kink_watch()
    assert not start_kink_watch(scratch_side, torch_side)
    torch_side.step()
    assert torch_side.preactivations() == []


def test_every_case_with_relu_family_units_is_watched() -> None:
    watched, relu_cases = [], []
    for case in select([]):
        problem = case.make_problem(0, np.dtype("float64"))
        scratch_side, torch_side = case.scratch(problem), case.torch(problem, torch.device("cpu"))
        modules = torch_side.model.modules() if isinstance(getattr(torch_side, "model", None), nn.Module) else ()
        if problem.hyper.get("hidden_activation") in ("relu", "leaky_relu") or any(
                isinstance(module, (nn.ReLU, nn.LeakyReLU, nn.MaxPool2d))
                or (isinstance(module, nn.RNN) and module.nonlinearity == "relu") for module in modules):
            relu_cases.append(case.name)
        if start_kink_watch(scratch_side, torch_side):
            watched.append(case.name)
    assert relu_cases and set(relu_cases) <= set(watched)  # watched also: models that call F.relu (resnet_block)
    assert {"regularization/dropout", "regularization/early_stopping", "conv/resnet_block", "rnn/rnn_relu_adding",
            "rnn/rnn_relu_stacked"} <= set(watched)


# -- a ReLU model that is not DeepNet: an nn.Sequential and a scratch trainer written for it ----------------

class ScratchSequential(ScratchTrainer):
    """``[Linear -> leaky ReLU] x (L-1) -> Linear`` with the course's layer functions, capturing its own ``Z``."""

    has_kinks = True

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.X, self.Y = problem.data["X"], problem.data["Y"]
        self.learning_rate = problem.hyper["learning_rate"]

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        L = len(self.params) // 2
        A, caches = self.X, []
        for l in range(1, L):  # noqa: E741
            A_prev, W, b = A, self.params[f"W{l}"], self.params[f"b{l}"]
            A, cache = dn.linear_activation_forward(A_prev, W, b, "leaky_relu")
            caches.append(cache)
            self.capture_preactivations(lambda Z=cache[1], W=W, A_prev=A_prev, b=b: [preactivation(Z, W, A_prev, b)])
        ZL, linear_cache = dn.linear_forward(A, self.params[f"W{L}"], self.params[f"b{L}"])
        caches.append((linear_cache, ZL))
        grads = dn.L_model_backward(dn.sigmoid(ZL), self.Y, caches, hidden_activation="leaky_relu")
        return dn.cost_from_logits(ZL, self.Y), grads

    def update(self) -> None:
        dn.update_parameters(self.params, self.grads, self.learning_rate)


def torch_sequential(problem: Problem, device: torch.device) -> TorchTrainer:
    dims = problem.hyper["layer_dims"]
    layers: list[torch.nn.Module] = []
    for n_in, n_out in zip(dims[:-1], dims[1:], strict=True):
        layers += [torch.nn.Linear(n_in, n_out, dtype=torch_dtype(problem.dtype)), torch.nn.LeakyReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    linears = [module for module in model if isinstance(module, torch.nn.Linear)]
    mapping = [entry for l, linear in enumerate(linears, start=1) for entry in (  # noqa: E741
        ParamMap(f"W{l}", linear.weight), ParamMap(f"b{l}", linear.bias, to_scratch=column, from_scratch=np.ravel))]
    load_parameters(mapping, problem.params)
    optimizer = torch.optim.SGD(model.parameters(), lr=problem.hyper["learning_rate"])
    x, y = (to_torch(problem.data[k], device, transpose=True) for k in ("X", "Y"))
    return TorchTrainer(model, torch.nn.BCEWithLogitsLoss(), optimizer, x, y, mapping)


def test_a_relu_model_that_is_not_deep_net_is_watched_and_its_crossing_reported() -> None:
    (deep_net_case,) = select([CROSSING_CASE])
    case = Case("custom", "sequential_leaky_relu", "nn.Sequential twin of " + CROSSING_CASE,
                deep_net_case.make_problem, ScratchSequential, torch_sequential)
    run = run_case(case, seed=CROSSING_SEED, dtype="float32")
    assert len(run.scratch.kink_crossings) == 1
    (crossing,) = run.scratch.kink_crossings
    assert max(abs(crossing.scratch_z), abs(crossing.torch_z)) <= crossing.bound
    assert (crossing.scratch_z > 0) != (crossing.torch_z > 0)
    assert run.parity.passed and run.record()["kink_crossings"] == [crossing.describe()]


def test_a_relu_after_a_module_other_than_linear_is_an_error_not_unwatched() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4, dtype=torch.float64), torch.nn.Tanh(), torch.nn.ReLU(),
                                torch.nn.Linear(4, 1, dtype=torch.float64))
    x, y = torch.ones(5, 3, dtype=torch.float64), torch.ones(5, 1, dtype=torch.float64)
    trainer = TorchTrainer(model, torch.nn.BCEWithLogitsLoss(), torch.optim.SGD(model.parameters(), lr=0.1), x, y, [])
    assert trainer.start_kink_watch()
    with pytest.raises(RuntimeError, match="not produced by an nn.Linear"):
        trainer.step()


def test_float32_relu_run_leaves_out_only_the_crossing_step_which_is_real(monkeypatch: pytest.MonkeyPatch) -> None:
    (case,) = select([CROSSING_CASE])
    run = run_case(case, seed=CROSSING_SEED, dtype="float32")
    assert len(run.scratch.kink_crossings) == 1
    (crossing,) = run.scratch.kink_crossings
    assert 0 < crossing.step < case.steps
    assert max(abs(crossing.scratch_z), abs(crossing.torch_z)) <= crossing.bound
    assert (crossing.scratch_z > 0) != (crossing.torch_z > 0)
    assert run.parity.passed and run.parity.notes == [crossing.describe()]
    assert len(run.scratch.losses) == len(run.torch.losses) == case.steps
    assert run.record()["steps_compared"] == case.steps - 1
    # The step after the crossing is compared, from the parameters both sides now share.
    after = run.scratch.snapshots[crossing.step + 1], run.torch.snapshots[crossing.step + 1]
    assert all(np.allclose(after[0][key], after[1][key], rtol=0, atol=1e-6) for key in after[1])
    # Without the watch the two correct implementations part beyond the float32 tolerance after the crossing.
    monkeypatch.setattr(runner, "watch_kinks", lambda *args: None)
    scratch_out, torch_out = runner.run_trajectories(case, CROSSING_SEED, "float32", torch.device("cpu"), case.steps)
    assert not compare_trajectories(scratch_out, torch_out, tolerance("float32", "cpu")).passed


def test_the_crossing_step_is_excluded_from_the_comparison_and_only_it() -> None:
    crossing = find_kink_crossing(1, [_layer([[-1e-9]])], [_layer([[1e-9]])], tol=1e-4)
    assert crossing is not None
    scratch_out, torch_out = Trajectory(kink_crossings=[crossing]), Trajectory(kink_crossings=[crossing])
    for step, (mine, reference) in enumerate([(1.0, 1.0), (5.0, 1.0), (2.0, 2.0)]):
        scratch_out.record(step, lambda v=mine: Observation(v, {"grad.W": np.array([v])}), keep_arrays=True)
        torch_out.record(step, lambda v=reference: Observation(v, {"grad.W": np.array([v])}), keep_arrays=True)
    result = compare_trajectories(scratch_out, torch_out, tol=1e-10)
    assert result.passed and result.max_rel == {"loss": 0.0, "grad": 0.0}
    scratch_out.losses[2] = 2.5
    assert not compare_trajectories(scratch_out, torch_out, tol=1e-10).passed


def test_more_crossings_than_rounding_explains_fail_the_run() -> None:
    steps = 100
    crossings = [find_kink_crossing(k, [_layer([[-1e-9]])], [_layer([[1e-9]])], tol=1e-4)
                 for k in range(MAX_CROSSINGS_PER_100_STEPS + 1)]
    scratch_out, torch_out = Trajectory(kink_crossings=crossings), Trajectory(kink_crossings=crossings)
    for step in range(steps):
        scratch_out.record(step, lambda: Observation(1.0, {}), keep_arrays=False)
        torch_out.record(step, lambda: Observation(1.0, {}), keep_arrays=False)
    result = compare_trajectories(scratch_out, torch_out, tol=1e-4)
    assert not result.passed and "more than rounding explains" in result.problems[0]
    scratch_out.kink_crossings.pop()
    assert compare_trajectories(scratch_out, torch_out, tol=1e-4).passed


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float64_relu_runs_never_cross(seed: int) -> None:
    (case,) = select([CROSSING_CASE])
    run = run_case(case, seed=seed, dtype="float64")
    assert run.scratch.kink_crossings == [] and run.parity.passed
    assert run.record()["steps_compared"] == case.steps


class ScratchMomentumDeepNet(ScratchDeepNet):
    """The crossing case's net with momentum: its buffer would carry the crossing step's gradient onwards."""

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.optimizer = so.SGD(self.params, lr=self.learning_rate, momentum=0.9)

    def update(self) -> None:
        self.optimizer.step(self.params, self.grads)


def torch_momentum_deep_net(problem: Problem, device: torch.device) -> TorchDeepNet:
    return TorchDeepNet(problem, device, make_optimizer=lambda parameters: torch.optim.SGD(
        parameters, lr=problem.hyper["learning_rate"], momentum=0.9))


def _adopt_parameters_only(self: ScratchTrainer, point: Observation) -> None:
    self.adopt_parameters({key.removeprefix("param."): value for key, value in point.arrays.items()
                           if key.startswith("param.")})


@pytest.mark.parametrize("seed", [3, 4])
def test_after_a_crossing_the_optimizer_state_is_adopted_too(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    (deep_net_case,) = select([CROSSING_CASE])
    case = Case("custom", "momentum_leaky_relu", "momentum twin of " + CROSSING_CASE, deep_net_case.make_problem,
                ScratchMomentumDeepNet, torch_momentum_deep_net)
    run = run_case(case, seed=seed, dtype="float32")
    assert len(run.scratch.kink_crossings) == 1 and run.parity.passed
    # Adopting the parameters alone leaves the crossing step in the momentum buffer: the run fails.
    monkeypatch.setattr(ScratchTrainer, "adopt", _adopt_parameters_only)
    assert not run_case(case, seed=seed, dtype="float32").parity.passed


# -- a ReLU nn.RNN: its ReLU sits inside one fused call, so the trainers hand over their own pre-activations ------

#: The float32 run whose crossing needed them (seed 0, with the two threads the CLI pins on the 2-core machine).
RNN_CROSSING_CASE, RNN_CROSSING_SEED, RNN_CROSSING_THREADS = "rnn/rnn_relu_stacked", 0, 2


def _relu_rnn(batch_first: bool, dtype: torch.dtype) -> tuple[nn.RNN, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    rnn = nn.RNN(5, 7, num_layers=2, nonlinearity="relu", batch_first=batch_first, dtype=dtype)
    x = torch.randn(4, 6, 5, dtype=dtype, generator=generator)  # m = 4, T = 6 batch-first; T = 4, m = 6 time-first
    h0 = torch.randn(2, 4 if batch_first else 6, 7, dtype=dtype, generator=generator)
    return rnn, x, h0


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch_first", [True, False])
def test_relu_rnn_preactivations_are_nn_rnns_bits(batch_first: bool, dtype: torch.dtype, threads: int) -> None:
    rnn, x, h0 = _relu_rnn(batch_first, dtype)
    with pinned_threads(threads):
        for state in (h0, None):
            out, h_n = rnn(x, state)
            layers = torch_rnn_kinks(rnn, x, state, out, h_n)  # raises unless relu(z) is out and h_n bit for bit
            top = out.transpose(0, 1) if batch_first else out  # (T, m, n_h)
            np.testing.assert_array_equal(np.maximum(layers[-1].z, 0), top.detach().numpy().transpose(2, 1, 0)
                                          .reshape(7, -1))
            assert all((layer.z < 0).any() and (layer.z > 0).any() for layer in layers)
            assert all(np.all(np.abs(layer.z) <= layer.scale * (1 + 1e-5)) for layer in layers)  # to rounding
    out, h_n = rnn(x, h0)
    with pytest.raises(RuntimeError, match="bit for bit"):
        torch_rnn_kinks(rnn, x, h0, out, torch.nextafter(h_n, torch.full_like(h_n, np.inf)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_rnn_trainers_capture_the_same_preactivations(dtype: str) -> None:
    (case,) = select([RNN_CROSSING_CASE])
    problem = case.make_problem(0, np.dtype(dtype))
    scratch_side, torch_side = case.scratch(problem), case.torch(problem, torch.device("cpu"))
    assert start_kink_watch(scratch_side, torch_side)
    torch_side.step()
    scratch_side.step()
    scratch_layers, torch_layers = scratch_side.preactivations(), torch_side.preactivations()
    n_h, m, T = problem.hyper["net"].n_h, *problem.data["inputs"].shape
    assert [layer.z.shape for layer in torch_layers] == [(n_h, m * T)] * 2
    u = float(np.finfo(np.dtype(dtype)).eps)
    for scratch_out, torch_out in zip(scratch_layers, torch_layers, strict=True):
        np.testing.assert_allclose(scratch_out.scale, torch_out.scale, rtol=16 * u)
        assert np.all(np.abs(scratch_out.z - torch_out.z) <= 16 * u * torch_out.scale)
    assert find_kink_crossing(0, scratch_layers, torch_layers, tolerance(dtype, "cpu")) is None


@pytest.mark.slow
def test_float32_relu_rnn_run_passes_with_its_crossings_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    (case,) = select([RNN_CROSSING_CASE])
    with pinned_threads(RNN_CROSSING_THREADS):
        run = run_case(case, seed=RNN_CROSSING_SEED, dtype="float32")
        assert run.parity.passed, run.parity.summary()
        assert run.scratch.kink_crossings
        for crossing in run.scratch.kink_crossings:
            assert max(abs(crossing.scratch_z), abs(crossing.torch_z)) <= crossing.bound
            assert (crossing.scratch_z > 0) != (crossing.torch_z > 0)
        # Without the watch the two correct implementations part beyond the float32 tolerance.
        monkeypatch.setattr(runner, "watch_kinks", lambda *args: None)
        scratch_out, torch_out = runner.run_trajectories(case, RNN_CROSSING_SEED, "float32", torch.device("cpu"),
                                                         case.steps)
    assert not compare_trajectories(scratch_out, torch_out, tolerance("float32", "cpu")).passed
