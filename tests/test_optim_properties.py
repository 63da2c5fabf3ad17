"""Property test: random hyperparameters, flags and parameter shapes, scratch.optim against torch.optim.

For each optimizer hypothesis draws every hyperparameter torch exposes (lr, betas, momentum, dampening,
weight_decay, eps, alpha, lr_decay, initial_accumulator_value, rho, momentum_decay and the flags nesterov,
centered, amsgrad, decoupled_weight_decay), one to three parameters of random 2-D shapes and a seed for the
gradient stream; both sides take the same 10 steps. In float64 the parameters and every state array agree to
rounding level, and the step counts are equal.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch.optim as so
from compare.core.parity import relative_difference
from torch_ref import optim as to

STEPS = 10
#: Rounding level for 10 steps of one optimizer's arithmetic in float64 (unit roundoff 1.1e-16, a few
#: operations per step, no training loop to amplify it).
TOLERANCE = 1e-13

lrs = st.floats(1e-4, 1.0)
decays = st.one_of(st.just(0.0), st.floats(1e-4, 0.1))
epsilons = st.floats(1e-10, 1e-3)
betas = st.floats(0.0, 0.999)
momenta = st.one_of(st.just(0.0), st.floats(0.01, 0.99))


@st.composite
def sgd_hyper(draw) -> dict:
    momentum = draw(momenta)
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov else draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
    return dict(lr=draw(lrs), momentum=momentum, dampening=dampening, weight_decay=draw(decays), nesterov=nesterov)


@st.composite
def rmsprop_hyper(draw) -> dict:
    centered = draw(st.booleans())
    # Centered: sqrt(E[g^2] - E[g]^2) with alpha near 0 is g^2 - g^2, a cancellation to (near) 0 that turns
    # the update into g / eps; torch's fused addcmul and NumPy's separate multiply round it differently, so
    # the property is asked where the variance estimate is an average of several steps (alpha >= 0.5).
    alpha = draw(st.floats(0.5, 0.999) if centered else betas)
    return dict(lr=draw(lrs), alpha=alpha, eps=draw(epsilons), weight_decay=draw(decays), momentum=draw(momenta),
                centered=centered)


@st.composite
def adagrad_hyper(draw) -> dict:
    return dict(lr=draw(lrs), lr_decay=draw(st.one_of(st.just(0.0), st.floats(1e-4, 0.5))),
                weight_decay=draw(decays), initial_accumulator_value=draw(st.one_of(st.just(0.0), st.floats(0, 1))),
                eps=draw(epsilons))


@st.composite
def adam_hyper(draw) -> dict:
    return dict(lr=draw(lrs), betas=(draw(betas), draw(betas)), eps=draw(epsilons), weight_decay=draw(decays),
                amsgrad=draw(st.booleans()))


@st.composite
def adadelta_hyper(draw) -> dict:
    return dict(lr=draw(lrs), rho=draw(betas), eps=draw(st.floats(1e-8, 1e-3)), weight_decay=draw(decays))


@st.composite
def adamax_hyper(draw) -> dict:
    return dict(lr=draw(lrs), betas=(draw(betas), draw(betas)), eps=draw(epsilons), weight_decay=draw(decays))


@st.composite
def nadam_hyper(draw) -> dict:
    return dict(lr=draw(lrs), betas=(draw(betas), draw(betas)), eps=draw(epsilons), weight_decay=draw(decays),
                momentum_decay=draw(st.one_of(st.just(4e-3), st.floats(0.0, 0.5))),
                decoupled_weight_decay=draw(st.booleans()))


@st.composite
def radam_hyper(draw) -> dict:
    # beta2 >= 0.5: rho_inf = 2 / (1 - beta2) - 1 must exceed 5 for the rectified branch to be reachable at all
    return dict(lr=draw(lrs), betas=(draw(betas), draw(st.floats(0.5, 0.999))), eps=draw(epsilons),
                weight_decay=draw(decays), decoupled_weight_decay=draw(st.booleans()))


#: The course writes ``beta v + (1 - beta) g``; torch's Adam passes ``weight = 1 - beta`` to ``lerp``, which
#: for weights >= 0.5 computes ``g - (g - v) (1 - weight)``: its effective beta is ``1 - fl(1 - beta)``,
#: off by up to u / beta relative (found here: beta1 = 1e-10 gives a 1e-6 relative error in beta1, and with
#: a large old v against a tiny new g the parameters differ by 4e-13). A real but vanishing difference for
#: betas of practical size, so the course formulations are asked for beta = 0 or beta >= 0.01.
course_betas = st.one_of(st.just(0.0), st.floats(0.01, 0.999))


@st.composite
def course_hyper(draw, name: str) -> dict:
    if name == "MomentumCourse":
        return dict(lr=draw(lrs), beta=draw(course_betas))
    if name == "RMSpropCourse":
        return dict(lr=draw(lrs), beta=draw(course_betas), epsilon=draw(epsilons))
    return dict(lr=draw(lrs), beta1=draw(course_betas), beta2=draw(course_betas), epsilon=draw(epsilons))


OPTIMIZER_CONFIGS = st.one_of(
    st.tuples(st.just("SGD"), sgd_hyper()),
    st.tuples(st.just("RMSprop"), rmsprop_hyper()),
    st.tuples(st.just("Adagrad"), adagrad_hyper()),
    st.tuples(st.just("Adam"), adam_hyper()),
    st.tuples(st.just("AdamW"), adam_hyper()),
    st.tuples(st.just("Adadelta"), adadelta_hyper()),
    st.tuples(st.just("Adamax"), adamax_hyper()),
    st.tuples(st.just("NAdam"), nadam_hyper()),
    st.tuples(st.just("RAdam"), radam_hyper()),
    *(st.tuples(st.just(name), course_hyper(name)) for name in ("MomentumCourse", "RMSpropCourse", "AdamCourse")),
)
SHAPES = st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6)), min_size=1, max_size=3)


def _trajectories(name: str, hyper: dict, shapes: list[tuple[int, int]], seed: int
                  ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]]]:
    """Params, torch-keyed state and step counts after each of STEPS steps, scratch and torch."""
    rng = np.random.default_rng(seed)
    params = {f"W{i}": rng.standard_normal(shape) for i, shape in enumerate(shapes, start=1)}
    scratch_out = getattr(so, name)(params, **hyper)
    tensors = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in params.items()}
    torch_out = to.make_optimizer(name, tensors.values(), **hyper)
    traj_ours: dict[str, list[np.ndarray]] = {}
    traj_theirs: dict[str, list[np.ndarray]] = {}
    for _ in range(STEPS):
        # gradients of random scale, some far below eps, so the eps placement matters
        grads = {"d" + k: rng.standard_normal(v.shape) * 10.0 ** rng.uniform(-6, 1) for k, v in params.items()}
        scratch_out.step(params, grads)
        for k, p in tensors.items():
            p.grad = torch.from_numpy(grads["d" + k].copy())
        torch_out.step()
        for k, p in tensors.items():
            traj_ours.setdefault(f"param.{k}", []).append(params[k].copy())
            traj_theirs.setdefault(f"param.{k}", []).append(p.detach().numpy().copy())
            for key, value in scratch_out.torch_state(k).items():
                traj_ours.setdefault(f"state.{k}.{key}", []).append(np.array(value, copy=True))
            if scratch_out.step_count(k) is not None:
                traj_ours.setdefault(f"state.{k}.step", []).append(np.array(float(scratch_out.step_count(k))))
            for key, value in torch_out.state[p].items():
                traj_theirs.setdefault(f"state.{k}.{key}", []).append(np.array(value.numpy(), dtype=np.float64))
    return traj_ours, traj_theirs


@settings(max_examples=80, deadline=None)
@given(config=OPTIMIZER_CONFIGS, shapes=SHAPES, seed=st.integers(0, 2**32 - 1))
def test_random_hyperparameters_match_torch_to_rounding(config: tuple[str, dict], shapes, seed: int) -> None:
    name, hyper = config
    scratch_out, torch_out = _trajectories(name, hyper, shapes, seed)
    assert scratch_out.keys() == torch_out.keys()  # every state torch keeps (and its step count) is compared
    for key in torch_out:
        rel = relative_difference(np.stack(scratch_out[key]), np.stack(torch_out[key]))[1]
        assert rel <= TOLERANCE, (key, rel)
