"""scratch.optim against torch.optim on random parameter/gradient streams, and the course mappings.

The gradient stream is drawn up front (independent of the parameters), so both sides see exactly the
same gradients and any difference is the optimizer's own arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch.optim as so
from compare.core.parity import relative_difference
from scratch.minibatch import batch_sizes, partition_mini_batches, random_mini_batches
from torch_ref import optim as to

SHAPES = {"W1": (5, 3), "b1": (5, 1), "W2": (1, 5), "b2": (1, 1)}
STEPS = 60
# Per-step arithmetic of one optimizer, no training loop to amplify rounding: measured <= 3 ulp-level
# (float64 <= 5e-16, float32 <= 3e-7 relative over the trajectory), so these bounds are ~20x above that.
TOLERANCE = {"float64": 1e-14, "float32": 5e-6}

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.3)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-6)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.5), eps=1e-6, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.01)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.1)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, momentum_decay=0.1, weight_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]


def _stream(seed: int, dtype: str, steps: int = STEPS) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    params = {name: rng.standard_normal(shape).astype(dtype) for name, shape in SHAPES.items()}
    # Gradients of varying scale (some tiny) so eps and the square-root terms matter.
    grads = [{"d" + name: (rng.standard_normal(shape) * 10.0 ** rng.uniform(-4, 1)).astype(dtype)
              for name, shape in SHAPES.items()} for _ in range(steps)]
    return params, grads


def _run_both(name: str, hyper: dict, seed: int, dtype: str):
    """Yield, after each step, (scratch params, scratch torch-keyed state, torch params, torch state)."""
    params, grads = _stream(seed, dtype)
    scratch_out = getattr(so, name)(params, **hyper)
    tensors = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in params.items()}
    torch_out = to.make_optimizer(name, tensors.values(), **hyper)
    for g in grads:
        scratch_out.step(params, g)
        for k, p in tensors.items():
            p.grad = torch.from_numpy(g["d" + k].copy())
        torch_out.step()
        yield params, scratch_out, tensors, torch_out


def _max_rel(name: str, hyper: dict, seed: int, dtype: str) -> dict[str, float]:
    """Max relative difference per category, each array compared over its whole trajectory (as compare/parity)."""
    scratch_traj: dict[str, list[np.ndarray]] = {}
    torch_traj: dict[str, list[np.ndarray]] = {}
    for params, scratch_out, tensors, torch_out in _run_both(name, hyper, seed, dtype):
        for k, p in tensors.items():
            torch_state = {key: v.numpy().copy() for key, v in torch_out.state[p].items() if key != "step"}
            our_state = scratch_out.torch_state(k)
            assert our_state.keys() == torch_state.keys(), (our_state.keys(), torch_state.keys())
            scratch_traj.setdefault(f"param.{k}", []).append(params[k].copy())
            torch_traj.setdefault(f"param.{k}", []).append(p.detach().numpy().copy())
            for key in torch_state:
                scratch_traj.setdefault(f"state.{k}.{key}", []).append(np.array(our_state[key], copy=True))
                torch_traj.setdefault(f"state.{k}.{key}", []).append(torch_state[key])
    worst = {"param": 0.0, "state": 0.0}
    for key, arrays in scratch_traj.items():
        rel = relative_difference(np.stack(arrays), np.stack(torch_traj[key]))[1]
        category = key.split(".")[0]
        worst[category] = max(worst[category], rel)
    return worst


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("name", "hyper"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_matches_torch_optim(name, hyper, seed, dtype):
    worst = _max_rel(name, hyper, seed, dtype)
    assert max(worst.values()) <= TOLERANCE[dtype], worst


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Adadelta", "Adamax", "NAdam",
                                  "RAdam"])
def test_defaults_are_torchs(name):
    params, _ = _stream(0, "float64")
    scratch_out = getattr(so, name)(params)
    torch_out = to.make_optimizer(name, [torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))])
    for key, value in scratch_out.hyper.items():
        assert torch_out.defaults[key] == value, key


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "NAdam",
                                  "RAdam"])
def test_state_keys_and_step_count_follow_torch(name):
    hyper = {"SGD": dict(momentum=0.9), "RMSprop": dict(momentum=0.9, centered=True),
             "Adam": dict(amsgrad=True)}.get(name, {})
    run = _run_both(name, hyper, 3, "float64")
    params, scratch_out, tensors, torch_out = next(run)
    for k, p in tensors.items():
        assert set(scratch_out.state_dict()["state"][k]) == set(torch_out.state[p])
        if "step" in torch_out.state[p]:
            assert scratch_out.state[k]["step"] == torch_out.state[p]["step"].item() == 1


@pytest.mark.parametrize(("cls", "kwargs", "word"), [
    (so.SGD, dict(lr=-1.0), "lr"),
    (so.SGD, dict(momentum=-0.1), "momentum"),
    (so.SGD, dict(nesterov=True), "nesterov"),
    (so.SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (so.RMSprop, dict(alpha=1.5), "alpha"),
    (so.RMSprop, dict(eps=float("nan")), "eps"),
    (so.RMSprop, dict(centered="yes"), "centered"),
    (so.Adagrad, dict(lr_decay=-1.0), "lr_decay"),
    (so.Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (so.Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    (so.Adam, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (so.Adam, dict(betas=0.9), "betas"),
    (so.AdamW, dict(weight_decay=-0.01), "weight_decay"),
    (so.MomentumCourse, dict(beta=1.0), "beta"),
    (so.AdamCourse, dict(beta2=1.2), "beta2"),
    (so.Adadelta, dict(rho=1.5), "rho"),
    (so.Adamax, dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    (so.NAdam, dict(momentum_decay=-1e-3), "momentum_decay"),
    (so.NAdam, dict(decoupled_weight_decay=1), "decoupled_weight_decay"),
    (so.RAdam, dict(eps=-1.0), "eps"),
])
def test_bad_hyperparameters_are_named(cls, kwargs, word):
    params, _ = _stream(0, "float64")
    with pytest.raises(ValueError, match=word):
        cls(params, **kwargs)


def test_bad_params_and_grads_are_named():
    with pytest.raises(ValueError, match="params"):
        so.Adam({})
    with pytest.raises(ValueError, match="float32 or float64"):
        so.SGD({"W1": np.ones((2, 2), dtype=int)})
    params, grads = _stream(0, "float64")
    opt = so.SGD(params)
    with pytest.raises(ValueError, match="dW1"):
        opt.step(params, {k: v for k, v in grads[0].items() if k != "dW1"})
    with pytest.raises(ValueError, match="shape"):
        opt.step(params, {**grads[0], "dW1": np.ones((2, 2))})


# ---------------------------------------------------------------- course formulations <-> torch


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("name", "hyper"), [
    ("MomentumCourse", dict(lr=0.05, beta=0.9)),
    ("MomentumCourse", dict(lr=0.05, beta=0.5)),
    ("RMSpropCourse", dict(lr=0.01, beta=0.999, epsilon=1e-8)),
    ("AdamCourse", dict(lr=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8)),
    ("AdamCourse", dict(lr=0.01, beta1=0.5, beta2=0.9, epsilon=1e-6)),
])
def test_course_formulation_equals_its_torch_mapping(name, hyper, dtype):
    """The course's formulas, written as the course writes them, against torch_ref's equivalent."""
    worst = _max_rel(name, hyper, 0, dtype)
    assert max(worst.values()) <= TOLERANCE[dtype], worst


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99])
def test_course_momentum_vs_dampened_sgd_differs_by_the_seeded_first_step(beta):
    """SGD(momentum=beta, dampening=beta) seeds its buffer with g1, the course with (1 - beta) g1.

    After that both follow b = beta b + (1 - beta) g, so the buffers differ by exactly beta^t g1 and the
    parameters by lr * sum_{k=1..t} beta^k g1 = lr * beta (1 - beta^t) / (1 - beta) * g1.
    """
    lr = 0.05
    params, grads = _stream(1, "float64")
    course = so.MomentumCourse({k: v.copy() for k, v in params.items()}, lr=lr, beta=beta)
    dampened = so.SGD({k: v.copy() for k, v in params.items()}, lr=lr, momentum=beta, dampening=beta)
    p_course = {k: v.copy() for k, v in params.items()}
    p_damp = {k: v.copy() for k, v in params.items()}
    g1 = grads[0]["dW1"]
    for t, g in enumerate(grads, start=1):
        course.step(p_course, g)
        dampened.step(p_damp, g)
        buffer_gap = dampened.state["W1"]["momentum_buffer"] - course.state["W1"]["v"]
        param_gap = p_course["W1"] - p_damp["W1"]
        np.testing.assert_allclose(buffer_gap, beta**t * g1, rtol=1e-9, atol=1e-12 * np.abs(g1).max())
        np.testing.assert_allclose(param_gap, lr * beta * (1 - beta**t) / (1 - beta) * g1, rtol=1e-8,
                                   atol=1e-11 * np.abs(g1).max())


def test_dampened_sgd_torch_confirms_first_step_gap():
    """torch itself: with dampening = beta the first update is lr * g1, the course's is lr * (1 - beta) g1."""
    beta, lr = 0.9, 0.1
    params, grads = _stream(2, "float64", steps=1)
    p = torch.nn.Parameter(torch.from_numpy(params["W1"].copy()))
    opt = torch.optim.SGD([p], lr=lr, momentum=beta, dampening=beta)
    p.grad = torch.from_numpy(grads[0]["dW1"].copy())
    opt.step()
    course = {"W1": params["W1"].copy()}
    so.MomentumCourse(course, lr=lr, beta=beta).step(course, {"dW1": grads[0]["dW1"]})
    torch_move = params["W1"] - p.detach().numpy()
    course_move = params["W1"] - course["W1"]
    np.testing.assert_allclose(course_move, (1 - beta) * torch_move, rtol=1e-12)


# ---------------------------------------------------------------- learning-rate decay


@pytest.mark.parametrize(("decay_rate", "time_interval"), [(0.3, 1), (1.0, 1), (0.5, 3)])
def test_lr_decay_matches_lambda_lr_per_epoch(decay_rate, time_interval):
    lr0 = 0.2
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([p], lr=lr0)
    scheduler = to.inverse_time_decay(optimizer, decay_rate=decay_rate, time_interval=time_interval)
    for epoch in range(12):
        scratch_out = (so.update_lr(lr0, epoch, decay_rate) if time_interval == 1
                else so.schedule_lr_decay(lr0, epoch, decay_rate, time_interval))
        assert scratch_out == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-15, abs=0)
        optimizer.step()
        scheduler.step()


def test_scheduled_decay_is_a_staircase_of_update_lr():
    lrs = [so.schedule_lr_decay(1.0, epoch, 1.0, time_interval=4) for epoch in range(12)]
    assert lrs == [so.update_lr(1.0, epoch // 4, 1.0) for epoch in range(12)]
    with pytest.raises(ValueError, match="time_interval"):
        so.schedule_lr_decay(1.0, 3, 1.0, time_interval=0)


def test_optimizer_lr_is_settable_and_validated():
    params, grads = _stream(0, "float64")
    opt = so.Adam(params, lr=0.1)
    opt.lr = 0.05
    assert opt.state_dict()["param_groups"][0]["lr"] == 0.05
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0



# ---------------------------------------------------------------- NAdam's and RAdam's details


def test_nadam_mu_product_is_torchs_float32_product():
    """torch keeps mu_product in its default dtype (float32) even for float64 parameters; so does scratch,
    and the two are bit-equal for 300 steps (a float64 product would drift from step 2 on)."""
    params, grads = _stream(0, "float64", steps=300)
    scratch_opt = so.NAdam(params, momentum_decay=0.01)
    p = torch.nn.Parameter(torch.from_numpy(params["W1"].copy()))
    torch_opt = torch.optim.NAdam([p], momentum_decay=0.01)
    product64 = 1.0
    for step, g in enumerate(grads, start=1):
        scratch_opt.step(params, g)
        p.grad = torch.from_numpy(g["dW1"].copy())
        torch_opt.step()
        product64 *= so.nadam_momentum(0.9, step, 0.01)
        assert scratch_opt.state["W1"]["mu_product"] == torch_opt.state[p]["mu_product"].item()
    assert torch_opt.state[p]["mu_product"].dtype == torch.float32
    assert abs(float(scratch_opt.state["W1"]["mu_product"]) - product64) > 0  # the float32 rounding is real


def test_radam_switches_to_the_rectified_update_once_rho_t_exceeds_5():
    """Until rho_t > 5 the step is bias-corrected momentum SGD, ``param -= lr m_hat``; the first rectified step
    is found from the formula (t = 6 for beta2 = 0.999), not hard-coded."""
    beta1, beta2, lr = 0.9, 0.999, 0.01
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * t * beta2**t / (1 - beta2**t) for t in range(1, 20)]
    first_rectified = next(t for t, r in enumerate(rho, start=1) if r > so.RADAM_RHO_THRESHOLD)
    assert first_rectified == 6
    params, grads = _stream(4, "float64", steps=first_rectified)
    opt = so.RAdam(params, lr=lr)
    exp_avg = np.zeros_like(params["W1"])
    for t, g in enumerate(grads, start=1):
        before = params["W1"].copy()
        opt.step(params, g)
        exp_avg = beta1 * exp_avg + (1 - beta1) * g["dW1"]
        sgd_like = before - lr * exp_avg / (1 - beta1**t)
        if t < first_rectified:
            np.testing.assert_allclose(params["W1"], sgd_like, rtol=1e-14)
        else:
            assert not np.allclose(params["W1"], sgd_like, rtol=1e-6)


# ---------------------------------------------------------------- torch.optim.lr_scheduler

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.7), "SGD", dict(lr=0.1)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.5), "SGD", dict(lr=0.1)),
    ("ExponentialLR", dict(gamma=0.93), "Adam", dict(lr=0.01)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001), "SGD", dict(lr=0.1, momentum=0.9)),
    ("CosineAnnealingLR", dict(T_max=5), "RAdam", dict(lr=0.1)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=30), "SGD", dict(lr=0.1, momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=31, three_phase=True, anneal_strategy="linear", pct_start=0.25),
     "NAdam", dict(lr=0.1)),
    ("ReduceLROnPlateau", dict(patience=2, factor=0.5, cooldown=1), "Adadelta", dict(lr=0.1)),
    ("ReduceLROnPlateau", dict(mode="max", patience=1, factor=0.5, threshold_mode="abs", threshold=0.01,
                               min_lr=0.02), "Adamax", dict(lr=0.1)),
]


@pytest.mark.parametrize(("schedule", "hyper", "optimizer", "opt_hyper"), SCHEDULES,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(SCHEDULES)])
def test_schedule_gives_torchs_lr_bit_for_bit(schedule, hyper, optimizer, opt_hyper):
    """30 epochs of optimizer step then schedule step: lr (and OneCycle's cycled momentum) equal as floats,
    parameters equal to rounding; ReduceLROnPlateau reads a dev metric that stops improving at epoch 5."""
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 2))}
    scratch_opt = getattr(so, optimizer)(params, **opt_hyper)
    scratch_schedule = getattr(so, schedule)(scratch_opt, **hyper)
    p = torch.nn.Parameter(torch.from_numpy(params["W"].copy()))
    torch_opt = to.make_optimizer(optimizer, [p], **opt_hyper)
    torch_schedule = to.make_scheduler(schedule, torch_opt, **hyper)
    lrs = []
    for epoch in range(30):
        g = rng.standard_normal((3, 2))
        metric = float(rng.uniform(0, 1)) + (0.0 if epoch < 5 else 0.5)
        scratch_opt.step(params, {"dW": g})
        p.grad = torch.from_numpy(g.copy())
        torch_opt.step()
        args = (metric,) if schedule == "ReduceLROnPlateau" else ()
        scratch_schedule.step(*args)
        torch_schedule.step(*args)
        group = torch_opt.param_groups[0]
        assert scratch_opt.lr == group["lr"] == scratch_schedule.get_last_lr() == torch_schedule.get_last_lr()[0], epoch
        for key in ("momentum", "betas"):
            if key in scratch_opt.hyper:
                assert scratch_opt.hyper[key] == group[key]
        lrs.append(scratch_opt.lr)
    assert relative_difference(params["W"], p.detach().numpy())[1] < 1e-14
    assert len(set(lrs)) >= 3  # the schedule did change the lr


def test_recursive_and_closed_forms_differ_in_the_last_bits():
    """ExponentialLR multiplies the previous lr (torch's get_lr); lr0 gamma^e (its closed form) rounds
    differently: equal to ~1e-15, not bit-equal, which is why scratch follows the recursion."""
    opt = so.SGD({"W": np.zeros((1, 1))}, lr=0.1)
    schedule = so.ExponentialLR(opt, gamma=0.9)
    gaps = []
    for epoch in range(1, 60):
        schedule.step()
        gaps.append(abs(opt.lr - 0.1 * 0.9**epoch) / opt.lr)
    assert max(gaps) < 1e-14 and max(gaps) > 0


def test_onecycle_refuses_steps_past_total_steps():
    opt = so.SGD({"W": np.zeros((1, 1))}, lr=0.1, momentum=0.9)
    schedule = so.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        schedule.step()
    with pytest.raises(ValueError, match="total_steps"):
        schedule.step()


@pytest.mark.parametrize(("schedule", "kwargs", "word"), [
    ("StepLR", dict(step_size=0), "step_size"),
    ("StepLR", dict(step_size=2, gamma=-0.1), "gamma"),
    ("MultiStepLR", dict(milestones=[]), "milestones"),
    ("MultiStepLR", dict(milestones=[3, 0]), r"milestones\[1\]"),
    ("ExponentialLR", dict(gamma=0.0), "gamma"),
    ("CosineAnnealingLR", dict(T_max=0), "T_max"),
    ("CosineAnnealingLR", dict(T_max=3, eta_min=-1.0), "eta_min"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=10, pct_start=1.5), "pct_start"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=10, anneal_strategy="step"), "anneal_strategy"),
    ("OneCycleLR", dict(max_lr=0.0, total_steps=10), "max_lr"),
    ("ReduceLROnPlateau", dict(factor=1.0), "factor"),
    ("ReduceLROnPlateau", dict(mode="avg"), "mode"),
    ("ReduceLROnPlateau", dict(threshold_mode="pct"), "threshold_mode"),
])
def test_bad_schedule_arguments_are_named(schedule, kwargs, word):
    opt = so.SGD({"W": np.zeros((1, 1))}, lr=0.1)
    with pytest.raises(ValueError, match=word):
        getattr(so, schedule)(opt, **kwargs)


def test_plateau_rejects_a_nonfinite_metric_and_cycle_momentum_needs_momentum():
    opt = so.Adagrad({"W": np.zeros((1, 1))}, lr=0.1)
    with pytest.raises(ValueError, match="metric"):
        so.ReduceLROnPlateau(opt).step(float("nan"))
    with pytest.raises(ValueError, match="cycle_momentum"):
        so.OneCycleLR(opt, max_lr=1.0, total_steps=5)


# ---------------------------------------------------------------- mini-batches


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 300), size=st.integers(1, 600), seed=st.integers(0, 2**32 - 1))
def test_mini_batches_partition_the_shuffled_set(m, size, seed):
    X = np.arange(2 * m, dtype=np.float64).reshape(2, m)
    Y = (np.arange(m) % 2).reshape(1, m).astype(np.float64)
    batches = random_mini_batches(X, Y, size, rng=np.random.default_rng(seed))
    sizes = [xb.shape[1] for xb, _ in batches]
    assert sizes == batch_sizes(m, size)
    assert all(s == size for s in sizes[:-1]) and 0 < sizes[-1] <= size
    order = np.concatenate([xb[0] for xb, _ in batches]).astype(int) // 1
    expected = np.random.default_rng(seed).permutation(m)
    np.testing.assert_array_equal(order, X[0, expected])
    np.testing.assert_array_equal(np.concatenate([yb[0] for _, yb in batches]), Y[0, expected])


@pytest.mark.parametrize("size", [1, 64, 128, 256, 512, 1000])
def test_dataloader_over_the_same_permutation_gives_the_same_batches(size):
    m = 1000
    X = np.random.default_rng(0).standard_normal((3, m))
    Y = (np.arange(m) % 2).reshape(1, m).astype(np.float64)
    scratch_out = random_mini_batches(X, Y, size, rng=np.random.default_rng(7))
    rng = np.random.default_rng(7)
    loader = to.make_loader(torch.from_numpy(X.T.copy()), torch.from_numpy(Y.T.copy()), size,
                            lambda: rng.permutation(m))
    torch_out = list(loader)
    assert len(torch_out) == len(scratch_out) == len(batch_sizes(m, size))
    for (xb, yb), (tx, ty) in zip(scratch_out, torch_out, strict=True):
        np.testing.assert_array_equal(xb.T, tx.numpy())
        np.testing.assert_array_equal(yb.T, ty.numpy())


def test_bad_mini_batch_arguments():
    X, Y = np.zeros((2, 5)), np.zeros((1, 5))
    with pytest.raises(ValueError, match="mini_batch_size"):
        random_mini_batches(X, Y, 0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="permutation"):
        partition_mini_batches(X, Y, 2, np.array([0, 1, 2, 3, 3]))
    with pytest.raises(ValueError, match="Y"):
        partition_mini_batches(X, np.zeros((1, 4)), 2, np.arange(5))
    with pytest.raises(TypeError, match="rng"):
        random_mini_batches(X, Y, 2, rng=0)


ADOPTION_CONFIGS = [*CONFIGS, ("MomentumCourse", dict(lr=0.1, beta=0.9)), ("RMSpropCourse", dict(lr=0.01)),
                    ("AdamCourse", dict(lr=0.01))]


def _adoption_run(name: str, hyper: dict, *, load_state: bool) -> float:
    """Scratch takes a different step 5 (its gradient tripled), then adopts torch's parameters (and, with
    ``load_state``, its optimizer state), as the harness does after a kink crossing; the relative difference
    of the parameters after 12 steps."""
    params, grads = _stream(3, "float64", steps=12)
    scratch_out = getattr(so, name)(params, **hyper)
    tensors = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in params.items()}
    torch_out = to.make_optimizer(name, tensors.values(), **hyper)
    for index, g in enumerate(grads):
        scratch_out.step(params, {k: 3 * v for k, v in g.items()} if index == 5 else g)
        for k, p in tensors.items():
            p.grad = torch.from_numpy(g["d" + k].copy())
        torch_out.step()
        if index == 5:
            for k, p in tensors.items():
                params[k][...] = p.detach().numpy()
                if load_state:
                    scratch_out.load_torch_state(k, {key: v.numpy() for key, v in torch_out.state[p].items()})
    return max(relative_difference(params[k], tensors[k].detach().numpy())[1] for k in params)


@pytest.mark.parametrize(("name", "hyper"), ADOPTION_CONFIGS)
def test_loading_torchs_state_continues_torchs_trajectory(name: str, hyper: dict) -> None:
    assert _adoption_run(name, hyper, load_state=True) <= TOLERANCE["float64"]
    if _keeps_state(name, hyper):  # the control: parameters alone leave the different step in the state
        assert _adoption_run(name, hyper, load_state=False) > TOLERANCE["float64"]


def _keeps_state(name: str, hyper: dict) -> bool:
    params = {"W": np.ones((2, 2))}
    optimizer = getattr(so, name)(params, **hyper)
    optimizer.step(params, {"dW": np.full((2, 2), 0.5)})
    return bool(optimizer.torch_state("W"))


def test_loading_a_state_without_a_key_names_it() -> None:
    params = {"W": np.ones((2, 2))}
    optimizer = so.Adam(params)
    optimizer.step(params, {"dW": np.full((2, 2), 0.5)})
    with pytest.raises(ValueError, match="'W' has no 'exp_avg_sq'"):
        optimizer.load_torch_state("W", {"exp_avg": np.zeros((2, 2))})
