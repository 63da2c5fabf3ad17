"""scratch.clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_, and the course's entry-wise clip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.core.parity import relative_difference
from scratch import clipping as sc

SHAPES = [(4, 3), (4, 1), (2, 4)]
#: One norm and one multiply: float64 agrees to the last bit or two (measured <= 2.3e-16); float32 sums in
#: another order inside torch's vector_norm (measured <= 1e-7).
TOLERANCE = {"float64": 1e-15, "float32": 1e-6}


def _grads(seed: int, scale: float, dtype: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"dW{i}": (rng.standard_normal(shape) * scale).astype(dtype) for i, shape in enumerate(SHAPES)}


def _torch_params(grads: dict[str, np.ndarray]) -> list[torch.nn.Parameter]:
    params = []
    for grad in grads.values():
        param = torch.nn.Parameter(torch.zeros(grad.shape, dtype=torch.from_numpy(grad).dtype))
        param.grad = torch.from_numpy(grad.copy())
        params.append(param)
    return params


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0, 3.0])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 100.0])
def test_clip_grad_norm_matches_torch(norm_type: float, scale: float, dtype: str) -> None:
    grads = _grads(0, scale, dtype)
    params = _torch_params(grads)
    scratch_norm = sc.clip_grad_norm_(grads, max_norm=1.0, norm_type=norm_type)
    torch_norm = torch.nn.utils.clip_grad_norm_(params, 1.0, norm_type=norm_type)
    assert scratch_norm.dtype == np.dtype(dtype)
    assert relative_difference(scratch_norm, torch_norm.numpy())[1] <= TOLERANCE[dtype]
    for grad, param in zip(grads.values(), params, strict=True):
        assert relative_difference(grad, param.grad.numpy())[1] <= TOLERANCE[dtype]


def test_norm_clipping_keeps_the_direction_and_caps_the_length() -> None:
    grads = _grads(1, 10.0, "float64")
    before = np.concatenate([g.ravel() for g in grads.values()])
    norm = sc.clip_grad_norm_(grads, max_norm=2.0)
    after = np.concatenate([g.ravel() for g in grads.values()])
    assert norm == pytest.approx(np.linalg.norm(before), rel=1e-15)
    np.testing.assert_allclose(after, before * 2.0 / (norm + 1e-6), rtol=1e-15)
    assert np.linalg.norm(after) < 2.0


def test_below_max_norm_nothing_changes() -> None:
    grads = _grads(2, 1e-3, "float64")
    before = {k: v.copy() for k, v in grads.items()}
    sc.clip_grad_norm_(grads, max_norm=1.0)
    assert all(np.array_equal(grads[k], before[k]) for k in grads)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_clip_grad_value_matches_torch(dtype: str) -> None:
    grads = _grads(3, 2.0, dtype)
    params = _torch_params(grads)
    sc.clip_grad_value_(grads, clip_value=0.5)
    torch.nn.utils.clip_grad_value_(params, 0.5)
    for grad, param in zip(grads.values(), params, strict=True):
        assert np.array_equal(grad, param.grad.numpy())
    assert max(np.abs(g).max() for g in grads.values()) == pytest.approx(0.5)


def test_course_clip_is_value_clipping_not_norm_clipping() -> None:
    """The course's ``np.clip`` per array equals clip_grad_value_ and turns the gradient's direction."""
    course = _grads(4, 10.0, "float64")
    by_value = {k: v.copy() for k, v in course.items()}
    by_norm = {k: v.copy() for k, v in course.items()}
    original = np.concatenate([g.ravel() for g in course.values()])
    sc.clip(course, 5.0)
    sc.clip_grad_value_(by_value, clip_value=5.0)
    sc.clip_grad_norm_(by_norm, max_norm=5.0)
    assert all(np.array_equal(course[k], by_value[k]) for k in course)
    clipped = np.concatenate([g.ravel() for g in course.values()])
    normed = np.concatenate([g.ravel() for g in by_norm.values()])
    cosine = lambda a, b: a @ b / (np.linalg.norm(a) * np.linalg.norm(b))  # noqa: E731
    assert cosine(normed, original) == pytest.approx(1.0, abs=1e-15)
    assert cosine(clipped, original) < 0.999


def test_nonfinite_norm_raises_when_asked_and_matches_torch_otherwise() -> None:
    grads = _grads(5, 1.0, "float64")
    grads["dW0"][0, 0] = np.inf
    with pytest.raises(FloatingPointError, match="error_if_nonfinite"):
        sc.clip_grad_norm_({k: v.copy() for k, v in grads.items()}, max_norm=1.0, error_if_nonfinite=True)
    params = _torch_params(grads)
    scratch_norm = sc.clip_grad_norm_(grads, max_norm=1.0)
    torch_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    assert scratch_norm == torch_norm.item() == np.inf
    for grad, param in zip(grads.values(), params, strict=True):
        np.testing.assert_array_equal(grad, param.grad.numpy())  # 0 everywhere, NaN where the inf was


@settings(max_examples=40, deadline=None)
@given(shapes=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=4),
       log_scale=st.floats(-6, 3), max_norm=st.floats(1e-3, 10.0), norm_type=st.sampled_from([2.0, math.inf, 1.5]),
       seed=st.integers(0, 2**16))
def test_random_gradients_match_torch_and_end_below_max_norm(shapes, log_scale, max_norm, norm_type, seed) -> None:
    rng = np.random.default_rng(seed)
    grads = {f"d{i}": rng.standard_normal(shape) * 10.0**log_scale for i, shape in enumerate(shapes)}
    params = _torch_params(grads)
    scratch_norm = sc.clip_grad_norm_(grads, max_norm=max_norm, norm_type=norm_type)
    torch_norm = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert relative_difference(scratch_norm, torch_norm.numpy())[1] <= 1e-14
    for grad, param in zip(grads.values(), params, strict=True):
        assert relative_difference(grad, param.grad.numpy())[1] <= 1e-14
    assert sc.total_norm(grads, norm_type=norm_type) <= max(max_norm, scratch_norm) * (1 + 1e-12)
    if scratch_norm > max_norm:
        assert sc.total_norm(grads, norm_type=norm_type) <= max_norm


@pytest.mark.parametrize(("call", "word"), [
    (lambda g: sc.clip_grad_norm_(g, max_norm=0.0), "max_norm"),
    (lambda g: sc.clip_grad_norm_(g, max_norm=1.0, norm_type=0), "norm_type"),
    (lambda g: sc.clip_grad_norm_(g, max_norm=1.0, norm_type="fro"), "norm_type"),
    (lambda g: sc.clip_grad_value_(g, clip_value=-1.0), "clip_value"),
    (lambda g: sc.clip_grad_norm_({}, max_norm=1.0), "non-empty"),
    (lambda g: sc.clip_grad_norm_(g | {"dX": g["dW0"].astype(np.float32)}, max_norm=1.0), "one dtype"),
    (lambda g: sc.clip_grad_norm_(g | {"dX": np.arange(3)}, max_norm=1.0), "float32 or float64"),
])
def test_bad_arguments_are_named(call, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        call(_grads(0, 1.0, "float64"))
