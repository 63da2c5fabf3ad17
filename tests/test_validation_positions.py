"""Every check that looks for a bad entry finds it first, in the middle and last, along every axis it scans.

A check that looks at ``X[:, 0]`` instead of ``X``, compares each value with its neighbour, or stops one short
of the end passes the usual test (one bad value somewhere). Here each check of ``SCANS`` gets an otherwise
good array with one bad value at index 0, the middle and the last index of each axis (the other axes at their
middle), and must refuse it naming the argument; the good array must pass. The constant-feature and
constant-channel detections of ``scratch.normalization`` are scans with two sides: a constant row or channel
in any position is found, and a row or channel that differs from the rest in one entry only, in any position
along any axis, is not constant. ``VALIDATION_CHECKS`` names every check tested (the counts in
docs/reliability-tests.md are taken from it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import scratch.optim as so
from compare.data.datasets import Dataset
from compare.data.splits import _check_ratios
from scratch import clipping, normalization, rnn, softmax, validation
from scratch import deep_net as dn
from scratch.course import c1w4


@dataclass(frozen=True)
class Scan:
    """``check(array)`` must refuse ``good`` with any of ``bad`` written at any position, naming ``name``."""
    check: Callable[[np.ndarray], object]
    good: np.ndarray
    bad: tuple[float, ...]
    name: str | Callable[[tuple[int, ...]], str]  # what the message must contain (may depend on the position)
    axes: tuple[int, ...] | None = None  # the axes the check scans (default: all)
    error: type[Exception] = ValueError


def _grid(shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    return (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) % 7 / 10 + 0.1).astype(dtype)


LABELS01 = (np.arange(7) % 2).reshape(1, 7).astype(np.float64)
NET = {f"{p}{l}": _grid((3, 3)) if p == "W" else _grid((3, 1)) for l in range(1, 6) for p in "Wb"}  # noqa: E741
NET["W1"], NET["W5"], NET["b5"] = _grid((3, 2)), _grid((1, 3)), _grid((1, 1))
RNN = rnn.RecurrentNet("rnn_tanh", 3, 4, 2, vocab_size=6)
RNN_PARAMS = RNN.init_params(np.random.default_rng(0))


def _net_from(stack: np.ndarray) -> None:
    """``check_parameters`` on a 5-layer net whose W2..W4 are ``stack[0..2]`` (a NaN in one layer)."""
    params = dict(NET)
    for i in range(3):
        params[f"W{i + 2}"] = stack[i]
    dn.check_parameters(params, 2, np.dtype(np.float64))


def _grads_from(stack: np.ndarray) -> None:
    """``clip_grad_norm_(error_if_nonfinite=True)`` over gradients ``stack[0]``, ``stack[1]``, ...."""
    clipping.clip_grad_norm_({f"d{i}": stack[i] for i in range(stack.shape[0])}, max_norm=1.0,
                             error_if_nonfinite=True)


SCANS: dict[str, Scan] = {
    "validation.check_finite (2-D)": Scan(lambda a: validation.check_finite("X", a), _grid((5, 7)),
                                          (np.nan, np.inf, -np.inf), "X"),
    "validation.check_finite (4-D images)": Scan(lambda a: validation.check_finite("images", a), _grid((3, 3, 5, 5)),
                                                 (np.nan, np.inf), "images"),
    "validation.check_binary_labels": Scan(lambda a: validation.check_binary_labels("Y", a), LABELS01,
                                           (2.0, -1.0, 0.5, np.nan), "Y"),
    "validation.check_probabilities": Scan(lambda a: validation.check_probabilities("AL", a), _grid((3, 7)),
                                           (-0.1, 1.5, np.nan, np.inf), "AL"),
    "validation.check_binary_dataset": Scan(lambda a: validation.check_binary_dataset(_grid((4, 7)), a),
                                            LABELS01, (2.0, np.nan), "Y"),
    "softmax.check_labels (m,)": Scan(lambda a: softmax.check_labels("labels", a.astype(np.int64), 3),
                                      np.arange(7) % 3, (3, -1), "labels"),
    "softmax.check_labels (1, m)": Scan(lambda a: softmax.check_labels("labels", a.astype(np.int64), 3),
                                        (np.arange(7) % 3).reshape(1, 7), (3, -1), "labels"),
    "softmax.check_one_hot": Scan(lambda a: softmax.check_one_hot("Y", a), np.eye(3)[:, np.arange(7) % 3],
                                  (2.0, 0.5), "Y"),
    "datasets.Dataset (X)": Scan(lambda a: Dataset("moons", a, LABELS01), _grid((4, 7)), (np.nan, np.inf),
                                 "moons.X"),
    "datasets.Dataset (Y)": Scan(lambda a: Dataset("moons", _grid((4, 7)), a), LABELS01, (2.0, -1.0, 0.5),
                                 "moons.Y"),
    "deep_net.check_parameters (a layer's weights)": Scan(_net_from, _grid((3, 3, 3)), (np.nan, np.inf),
                                                          lambda index: f"W{index[0] + 2} "),
    "clipping.clip_grad_norm_ (error_if_nonfinite)": Scan(_grads_from, _grid((5, 4)), (np.nan, np.inf),
                                                          "gradients", error=FloatingPointError),  # torch's too
    "course.c1w4.L_model_backward (AL exactly 0 or 1)": Scan(
        lambda a: c1w4.L_model_backward(a, LABELS01, dn.L_model_forward(_grid((2, 7)), {
            "W1": _grid((1, 2)), "b1": _grid((1, 1))})[1]), _grid((1, 7)) + 0.1, (0.0, 1.0), "AL"),
    "rnn.RecurrentNet.check (token indices)": Scan(lambda a: RNN.check(RNN_PARAMS, a.astype(np.int64)),
                                                   np.arange(12).reshape(3, 4) % 6, (6, -1), "inputs"),
    "splits._check_ratios": Scan(_check_ratios, np.array([0.5, 0.3, 0.2]), (0.0, -0.1, np.nan), "ratios"),
}

#: every validation check tested by position: the scans above and the normalizer's constant detection below
VALIDATION_CHECKS = [*SCANS, "normalization.fit_normalizer (constant feature)",
                     "normalization.fit_image_normalizer (constant channel)",
                     "optim.Optimizer.step (a missing or misshapen gradient)"]


def positions(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> list[tuple[str, tuple[int, ...]]]:
    """``(label, index)``: index 0, the middle and the last along each scanned axis, the others at their middle."""
    out = []
    for axis in range(len(shape)) if axes is None else axes:
        for label, at in (("first", 0), ("middle", shape[axis] // 2), ("last", shape[axis] - 1)):
            index = [n // 2 for n in shape]
            index[axis] = at
            out.append((f"axis{axis}-{label}", tuple(index)))
    return out


CASES = [(name, label, index, bad) for name, scan in SCANS.items()
         for label, index in positions(scan.good.shape, scan.axes) for bad in scan.bad]


@pytest.mark.parametrize("name", list(SCANS))
def test_the_good_input_passes(name: str) -> None:
    SCANS[name].check(SCANS[name].good.copy())


@pytest.mark.parametrize(("name", "label", "index", "bad"), CASES,
                         ids=[f"{n}-{label}-{b}" for n, label, _, b in CASES])
def test_one_bad_entry_is_found_wherever_it_is(name: str, label: str, index: tuple[int, ...], bad: float) -> None:
    scan = SCANS[name]
    array = scan.good.astype(np.float64)
    array[index] = bad
    name = scan.name(index) if callable(scan.name) else scan.name
    with pytest.raises(scan.error, match=name):
        scan.check(array)


# ---- constant features and channels ----------------------------------------------------------------------------
FEATURE_POSITIONS = {"first": 0, "middle": 2, "last": 4}


@pytest.mark.parametrize("position", list(FEATURE_POSITIONS))
def test_a_constant_feature_is_found_in_any_row(position: str) -> None:
    X = _grid((5, 7)) * (0.37 * np.arange(1, 6).reshape(5, 1))
    row = FEATURE_POSITIONS[position]
    X[row] = 0.1  # seven equal values whose floating-point mean is inexact
    std = normalization.fit_normalizer(X).std
    assert std[row, 0] == 1.0
    assert np.all(np.delete(std[:, 0], row) != 1.0)


@pytest.mark.parametrize("position", list(FEATURE_POSITIONS))
def test_a_feature_differing_in_one_example_only_is_not_constant(position: str) -> None:
    X = np.full((3, 5), 0.1)
    example = FEATURE_POSITIONS[position]
    X[1, example] = 0.7
    std = normalization.fit_normalizer(X).std[:, 0]
    expected = np.sqrt(np.mean((X[1] - X[1].mean()) ** 2))
    assert std[1] == pytest.approx(expected, rel=1e-12) and std[1] != 1.0
    assert std[0] == std[2] == 1.0


@pytest.mark.parametrize("position", list(FEATURE_POSITIONS))
def test_a_constant_channel_is_found_in_any_position(position: str) -> None:
    images = _grid((2, 5, 3, 3)) * (0.37 * np.arange(1, 6).reshape(1, 5, 1, 1))
    channel = FEATURE_POSITIONS[position]
    images[:, channel] = 0.1
    std = normalization.fit_image_normalizer(images).std.reshape(-1)
    assert std[channel] == 1.0
    assert np.all(np.delete(std, channel) != 1.0)


@pytest.mark.parametrize("axis", [0, 2, 3])
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_a_channel_differing_in_one_entry_only_is_not_constant(axis: int, position: str) -> None:
    images = np.full((5, 3, 5, 5), 0.1)
    index = [2, 1, 2, 2]
    index[axis] = {"first": 0, "middle": 2, "last": 4}[position]
    images[tuple(index)] = 0.7
    std = normalization.fit_image_normalizer(images).std.reshape(-1)
    assert std[1] != 1.0 and std[1] > 0
    assert std[0] == std[2] == 1.0


# ---- an optimizer's gradients, one per parameter ---------------------------------------------------------------
@pytest.mark.parametrize("position", list(FEATURE_POSITIONS))
@pytest.mark.parametrize("defect", ["missing", "misshapen"])
def test_the_optimizer_names_the_bad_gradient_in_any_position(position: str, defect: str) -> None:
    params = {f"W{i}": np.ones((2, 2)) for i in range(5)}
    grads = {f"dW{i}": np.ones((2, 2)) for i in range(5)}
    bad = f"W{FEATURE_POSITIONS[position]}"
    if defect == "missing":
        del grads[f"d{bad}"]
    else:
        grads[f"d{bad}"] = np.ones((2, 3))
    with pytest.raises(ValueError, match=f"d{bad}"):
        so.SGD(params, lr=0.1).step(params, grads)

