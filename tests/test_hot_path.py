"""The scratch deep net's hot path: updates in place, in the parameters' dtype, without touching the gradients."""

from __future__ import annotations

import numpy as np
import pytest

import scratch.deep_net as dn
from compare.cases.networks import ScratchDeepNet, deep_problem


@pytest.mark.parametrize("rate", [0.01, np.float64(0.01), np.float32(0.01)], ids=["float", "np.float64", "np.float32"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_is_in_place_in_the_parameter_dtype(rate, dtype) -> None:
    problem = deep_problem(0, dtype, layer_dims=[4, 6, 1], m=20)
    params = problem.fresh_params()
    _, grads = dn.loss_and_grads(params, problem.data["X"], problem.data["Y"])
    before = {name: value.copy() for name, value in params.items()}
    grads_before = {name: value.copy() for name, value in grads.items()}
    arrays = {name: value for name, value in params.items()}
    dn.update_parameters(params, grads, rate)
    for name, value in params.items():
        assert value is arrays[name] and value.dtype == dtype
        # the step rounded in the parameter's dtype, as torch casts lr to it: an np.float64 rate must not upcast
        expected = before[name] - np.multiply(grads_before[f"d{name}"], dtype(rate), dtype=dtype)
        np.testing.assert_array_equal(value, expected)
        np.testing.assert_array_equal(grads[f"d{name}"], grads_before[f"d{name}"])


def test_training_step_keeps_float32_and_the_parameter_arrays() -> None:
    problem = deep_problem(0, np.float32, layer_dims=[8, 16, 16, 1], m=32, learning_rate=0.1)
    trainer = ScratchDeepNet(problem)
    arrays = dict(trainer.params)
    for _ in range(3):
        trainer.step()
    assert all(trainer.params[name] is value for name, value in arrays.items())
    assert {value.dtype for value in (*trainer.params.values(), *trainer.grads.values())} == {np.dtype(np.float32)}
    assert np.asarray(trainer.cost).dtype == np.float32
