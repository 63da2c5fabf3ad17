"""Every optimizer option a registered case claims changes that case's trajectory: a case cannot silently run
a code path other than the one it is named after.

For each optim case (``compare.cases.optim.VARIANTS``) and each hyperparameter it sets away from the default
(and its learning-rate schedule), the scratch side is trained with that one option back at its default; the
parameters after ``STEPS`` steps must differ from the case's own by more than ``MIN_EFFECT`` (relative),
ten thousand times the float64 parity tolerance. The option itself is compared on both sides by the parity
runs; this test proves the option is live in the case that claims it.

Coverage: every option of torch's optimizers that scratch implements must be claimed by at least one case,
except those listed in ``NOT_CLAIMED`` with the reason.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch

import scratch.optim as so
from compare.cases.optim import VARIANTS, ScratchOptimTrainer, make_problem

STEPS = 20
MIN_EFFECT = 1e-6
#: scratch optimizer -> the torch optimizer whose options it mirrors (the course's classes have no torch twin).
TORCH_TWIN = {"SGD": torch.optim.SGD, "RMSprop": torch.optim.RMSprop, "Adagrad": torch.optim.Adagrad,
              "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}
#: Options scratch implements that no case sets away from the default, and why that is acceptable.
NOT_CLAIMED = {
    ("RMSprop", "alpha"): "every RMSprop case keeps torch's 0.99; alpha enters the same expression as in the "
                          "plain case, which is compared element by element",
    ("RMSprop", "eps"): "numerical guard; all cases use torch's default",
    ("Adagrad", "eps"): "numerical guard; all cases use torch's default",
    ("Adam", "eps"): "numerical guard; all cases use torch's default",
    ("AdamW", "eps"): "numerical guard; all cases use torch's default",
}


def _defaults(name: str) -> dict[str, object]:
    signature = inspect.signature(getattr(so, name))
    return {key: p.default for key, p in signature.parameters.items() if p.default is not inspect.Parameter.empty}


def _claims() -> list[tuple[str, str]]:
    """``(variant, option)`` for every option a case sets away from the scratch class's default."""
    claims = []
    for variant, (_summary, spec) in VARIANTS.items():
        defaults = _defaults(spec.name)
        # OneCycleLR cycles the momentum itself (cycle_momentum), so the optimizer's own momentum is only the
        # switch that lets it: the schedule, not the option, sets the value every step.
        cycled = {"momentum"} if spec.schedule is not None and spec.schedule.name == "OneCycleLR" else set()
        claims += [(variant, key) for key, value in spec.hyper.items()
                   if key != "lr" and key not in cycled and value != defaults.get(key)]
        if spec.decay is not None:
            claims.append((variant, "decay"))
    return claims


def _final_params(spec, steps: int = STEPS) -> dict[str, np.ndarray]:
    trainer = ScratchOptimTrainer(make_problem(0, np.dtype(np.float64)), spec)
    for _ in range(steps):
        trainer.step()
    return {name: value.copy() for name, value in trainer.params.items()}


def _without(spec, option: str):
    if option == "decay":
        return dataclasses.replace(spec, decay=None)
    hyper = {**spec.hyper, option: _defaults(spec.name)[option]}
    if option == "momentum" and hyper.get("nesterov"):  # Nesterov is a kind of momentum: off with it
        hyper["nesterov"] = False
    return dataclasses.replace(spec, hyper=hyper)


CLAIMS = _claims()


@pytest.mark.parametrize(("variant", "option"), CLAIMS, ids=[f"{v}-{o}" for v, o in CLAIMS])
def test_turning_the_option_off_changes_the_trajectory(variant: str, option: str) -> None:
    spec = VARIANTS[variant][1]
    with_option, without = _final_params(spec), _final_params(_without(spec, option))
    effect = max(float(np.max(np.abs(with_option[k] - without[k])) / np.max(np.abs(with_option[k])))
                 for k in with_option)
    assert effect > MIN_EFFECT, f"{variant}: {option} off changes the parameters by only {effect:.1e} in {STEPS} steps"


def test_every_torch_option_scratch_implements_is_claimed_by_a_case() -> None:
    claimed = {(VARIANTS[variant][1].name, option) for variant, option in CLAIMS}
    claimed |= {("AdamW", option) for name, option in claimed if name == "Adam"}  # AdamW runs Adam's core
    implemented = {(name, key) for name, twin in TORCH_TWIN.items()
                   for key in _defaults(name) if key != "lr" and key in inspect.signature(twin).parameters}
    unclaimed = implemented - claimed
    assert unclaimed == set(NOT_CLAIMED), f"options without a case: {sorted(unclaimed - set(NOT_CLAIMED))}; " \
                                          f"listed but claimed: {sorted(set(NOT_CLAIMED) - unclaimed)}"
    assert len(CLAIMS) >= 20
