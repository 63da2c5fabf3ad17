"""Softmax at large logits: the max shift keeps both sides finite and equal where ``exp(z)`` overflows.

One variant, ``softmax/large_logits``: the digits problem of ``compare/cases/softmax.py`` (its first 256
training examples) with one linear layer ``[64, 10]`` whose Xavier weights are scaled by ``LOGIT_SCALE``,
so the logits reach several thousand (``exp`` overflows float64 above 709.8, float32 above 88.7) and the
predictions are saturated. Both sides must stay finite and agree; a softmax without the max shift
returns inf/inf = NaN here, which the harness reports as "scratch diverged at step 0"
(tests/test_mutants.py). Kept in its own module so that the softmax concept's file stays as its author
wrote it.
"""

from __future__ import annotations

import numpy as np

import scratch.deep_net as dn
import scratch.softmax as sm
import torch_ref.softmax as tsm
from compare.cases.softmax import (
    EQUATIONS,
    NOTES,
    ScratchSoftmaxNet,
    TorchSoftmaxNet,
    check_gradients,
    digits_split,
    softmax_problem,
)
from compare.core.problem import Problem
from compare.core.registry import Case, register

LOGIT_SCALE = 500.0


def large_logits_problem(seed: int, dtype: np.dtype) -> Problem:
    """Digits, ``[64, 10]``, Xavier weights times ``LOGIT_SCALE``: logits up to ~4e3 (seed 0)."""
    train = digits_split(seed)[0].subset(np.arange(256))
    problem = softmax_problem(seed, dtype, train, layer_dims=[64, 10], hidden_activation="tanh", init="xavier",
                              learning_rate=0.01)
    problem.params["W1"] *= np.asarray(LOGIT_SCALE, dtype=dtype)
    return problem


register(Case(
    concept="softmax",
    variant="large_logits",
    summary=f"[64, 10] softmax regression, Xavier x {LOGIT_SCALE:g}: logits up to ~4e3 where exp overflows, 256 digits",
    make_problem=large_logits_problem,
    scratch=ScratchSoftmaxNet,
    torch=TorchSoftmaxNet,
    gradient_check=check_gradients,
    equations=EQUATIONS,
    notes=NOTES + " Here the logits reach ~4e3: without the shift exp(z) would overflow to inf on either side.",
    scratch_source=(sm.softmax, sm.log_softmax, sm.cross_entropy_from_logits, sm.loss_and_grads,
                    dn.L_model_backward),
    torch_source=(tsm.DeepNet, tsm.make_training),
))
