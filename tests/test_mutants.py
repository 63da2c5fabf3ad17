"""Mutation tests: the harness must catch bugs. Each mutant injects one known, realistic bug into the
scratch side (monkeypatching one function) and the parity run of the case it touches must FAIL.

A mutant is ``Mutant(name, case, patch)``: ``patch(monkeypatch)`` installs the bug, ``case`` is the
``concept/variant`` run afterwards (few steps, float64, CPU, no timing). Mutants of concepts that have
not landed are listed with the module they need and skipped while it is absent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import scratch.logistic_regression as lr
from compare.registry import all_cases, select
from compare.runner import run_case


@dataclass(frozen=True)
class Mutant:
    name: str
    case: str
    patch: Callable[[pytest.MonkeyPatch], None]
    needs: str = "scratch.logistic_regression"
    steps: int = 20


def _wrap_propagate(change: Callable[[dict, np.floating, np.ndarray], tuple[dict, np.floating]]):
    """A mutant ``propagate`` that post-processes the correct ``(grads, cost)``; ``X`` gives ``m``."""
    correct = lr.propagate

    def mutant(w, b, X, Y, *, check=True):
        grads, cost = correct(w, b, X, Y, check=check)
        return change(dict(grads), cost, X)

    return mutant


# --- logistic regression ------------------------------------------------------------------------------

def dw_not_divided_by_m(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(lr, "propagate", _wrap_propagate(lambda g, c, X: ({**g, "dw": g["dw"] * X.shape[1]}, c)))


def db_not_divided_by_m(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(lr, "propagate", _wrap_propagate(lambda g, c, X: ({**g, "db": g["db"] * X.shape[1]}, c)))


def dz_sign_flipped(mp: pytest.MonkeyPatch) -> None:
    """dZ = Y - A: gradient ascent on the cost."""
    mp.setattr(lr, "propagate", _wrap_propagate(lambda g, c, X: ({"dw": -g["dw"], "db": -g["db"]}, c)))


def sigmoid_derivative_applied_twice(mp: pytest.MonkeyPatch) -> None:
    """dZ = (A - Y) * sigma'(Z): chaining sigma' onto the already-simplified BCE derivative."""

    def propagate(w, b, X, Y, *, check=True):
        Z = w.T @ X + b
        A = lr.sigmoid(Z)
        dZ = (A - Y) * A * (1 - A)
        return {"dw": X @ dZ.T / X.shape[1], "db": np.sum(dZ) / X.shape[1]}, lr.cost_from_logits(Z, Y)

    mp.setattr(lr, "propagate", propagate)


def sigmoid_sign_error(mp: pytest.MonkeyPatch) -> None:
    """sigma(z) = 1 / (1 + e^z)."""
    mp.setattr(lr, "sigmoid", lambda z: 1 / (1 + np.exp(z)))


def epsilon_inside_the_log(mp: pytest.MonkeyPatch) -> None:
    """The course-style cost from probabilities with a "safety" epsilon: log(A + 1e-8)."""

    def cost(Z, Y):
        A = lr.sigmoid(Z)
        return -np.mean(Y * np.log(A + 1e-8) + (1 - Y) * np.log(1 - A + 1e-8))

    mp.setattr(lr, "cost_from_logits", cost)


def cost_summed_not_averaged(mp: pytest.MonkeyPatch) -> None:
    correct = lr.cost_from_logits
    mp.setattr(lr, "cost_from_logits", lambda Z, Y: correct(Z, Y) * Z.shape[1])


def bias_never_updated(mp: pytest.MonkeyPatch) -> None:
    def update(w, b, grads, learning_rate):
        w -= learning_rate * grads["dw"]
        return w, b

    mp.setattr(lr, "update", update)


def computed_in_float32(mp: pytest.MonkeyPatch) -> None:
    """A silent downcast: the forward/backward pass runs in float32 inside a float64 run."""
    correct = lr.propagate

    def propagate(w, b, X, Y, *, check=True):
        grads, cost = correct(w.astype(np.float32), np.float32(b), X.astype(np.float32), Y.astype(np.float32),
                              check=check)
        return {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}, np.float64(cost)

    mp.setattr(lr, "propagate", propagate)


def loop_skips_the_last_example(mp: pytest.MonkeyPatch) -> None:
    """for i in range(m - 1): an off-by-one in the lectures' loop (still divides by m)."""
    correct = lr.propagate_loop

    def propagate_loop(w, b, X, Y):
        m = X.shape[1]
        grads, cost = correct(w, b, X[:, :-1], Y[:, :-1])
        scale = (m - 1) / m
        return {"dw": grads["dw"] * scale, "db": grads["db"] * scale}, cost * scale

    mp.setattr(lr, "propagate_loop", propagate_loop)


MUTANTS = [
    Mutant("lr: dW not divided by m", "logistic_regression/vectorized", dw_not_divided_by_m),
    Mutant("lr: db not divided by m", "logistic_regression/vectorized", db_not_divided_by_m),
    Mutant("lr: dZ = Y - A (sign)", "logistic_regression/vectorized", dz_sign_flipped),
    Mutant("lr: sigmoid derivative applied twice", "logistic_regression/vectorized",
           sigmoid_derivative_applied_twice),
    Mutant("lr: sigmoid 1/(1+e^z)", "logistic_regression/vectorized", sigmoid_sign_error),
    Mutant("lr: epsilon inside the log", "logistic_regression/vectorized", epsilon_inside_the_log),
    Mutant("lr: cost summed, not averaged", "logistic_regression/vectorized", cost_summed_not_averaged),
    Mutant("lr: bias never updated", "logistic_regression/vectorized", bias_never_updated),
    Mutant("lr: float32 inside a float64 run", "logistic_regression/vectorized", computed_in_float32),
    Mutant("lr loop: range(m - 1)", "logistic_regression/loop", loop_skips_the_last_example),
]


def _landed(mutant: Mutant) -> bool:
    try:
        importlib.import_module(mutant.needs)
    except ImportError:
        return False
    return mutant.case in {case.name for case in all_cases()}


def _params() -> list:
    return [pytest.param(m, id=m.name, marks=() if _landed(m) else pytest.mark.skip(reason=f"{m.case} absent"))
            for m in MUTANTS]


@pytest.mark.parametrize("mutant", _params())
def test_the_harness_catches_the_mutant(mutant: Mutant, monkeypatch: pytest.MonkeyPatch) -> None:
    (case,) = select([mutant.case])
    mutant.patch(monkeypatch)
    run = run_case(case, seed=0, steps=mutant.steps, timed=False)
    assert not run.parity.passed, f"mutant survived: {run.parity.summary()}"


@pytest.mark.parametrize("case_name", sorted({m.case for m in MUTANTS if _landed(m)}))
def test_the_unmutated_cases_pass(case_name: str) -> None:
    """The control: without a mutant the same runs pass, so a failure above is the bug's doing."""
    (case,) = select([case_name])
    run = run_case(case, seed=0, steps=max(m.steps for m in MUTANTS if m.case == case_name), timed=False)
    assert run.parity.passed, run.parity.summary()


def test_at_least_ten_mutants_are_live() -> None:
    assert sum(_landed(m) for m in MUTANTS) >= 10
