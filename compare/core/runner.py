"""Running one case on both sides for parity (timing is :mod:`compare.perf.timing`'s, run separately).

The two trainers advance in lock step: torch step k, then (after ``Case.couple`` if any) scratch step k,
each observed at the shared snapshot steps. A side whose loss or arrays turn NaN/Inf stops the run and
is reported as "diverged at step k" instead of comparing NaNs. When the trainers have piecewise-linear
units, each side captures the pre-activations of its own step, and after both steps they are checked for
a kink crossing (:mod:`compare.core.kinks`); a step with one within rounding is recorded, left out of the
comparison, and followed by the scratch side adopting torch's parameters and optimizer state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from compare.core.devices import numpy_dtype, resolve_device
from compare.core.kinks import start_kink_watch, watch_kinks
from compare.core.parity import ParityResult, compare_trajectories, rounding_floor, tolerance
from compare.core.problem import Trainer
from compare.core.progress import tracked
from compare.core.record import Timing, Trajectory, snapshot_steps
from compare.core.registry import Case
from scratch.gradient_check import SUSPICIOUS as GRADIENT_CHECK_SUSPICIOUS  # noqa: F401 (re-exported: the report)
from scratch.gradient_check import WRONG as GRADIENT_CHECK_BOUND


@dataclass
class CaseRun:
    """Everything one ``(case, seed, dtype, device)`` run produced."""

    case: Case
    seed: int
    dtype: str
    device: str
    steps: int
    scratch: Trajectory
    torch: Trajectory
    parity: ParityResult
    gradient_check: float | None = None
    #: The scratch side re-run alone: None if it reproduced its lock-step losses (or was not replayed), else
    #: what went wrong ("step k: ..."): a side that leans on the torch side cannot train alone.
    replay_problem: str | None = None
    #: Whether that replay ran (not for a case with ``couple``, nor for a run that did not ask for it).
    replayed: bool = False
    scratch_timing: Timing | None = None
    torch_timing: Timing | None = None

    @property
    def passed(self) -> bool:
        """Parity holds and, where it ran, the gradient check is below the course's "bug" threshold."""
        return (self.parity.passed and self.replay_problem is None
                and (self.gradient_check is None or self.gradient_check <= GRADIENT_CHECK_BOUND))

    def summary(self) -> str:
        """The parity summary, with the gradient check's verdict when it failed."""
        text = self.parity.summary()
        if self.gradient_check is not None and self.gradient_check > GRADIENT_CHECK_BOUND:
            text += (f"; gradient check {self.gradient_check:.1e} > {GRADIENT_CHECK_BOUND:.0e}: the scratch backward "
                     f"disagrees with two-sided differences of its own cost")
        if self.replay_problem is not None:
            text += f"; the scratch side alone does not reproduce its run: {self.replay_problem}"
        return text

    def record(self) -> dict[str, object]:
        """The JSON record documented in docs/json-schema.md."""
        rel = self.parity.max_rel
        return {
            "concept": self.case.concept,
            "variant": self.case.variant,
            "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed,
            "steps": self.steps,
            "passed": self.passed,
            "tolerance": self.parity.tolerance,
            "max_rel_diff_loss": rel.get("loss"),
            "max_rel_diff_grad": rel.get("grad"),
            "max_rel_diff_params": rel.get("param"),
            "max_rel_diff_state": rel.get("state"),
            "max_abs_diff_loss": self.parity.max_abs.get("loss"),
            "max_abs_diff_grad": self.parity.max_abs.get("grad"),
            "max_abs_diff_params": self.parity.max_abs.get("param"),
            "steps_compared": len(self.scratch.losses) - len(self.scratch.kink_crossings),
            "kink_crossings": [crossing.describe() for crossing in self.scratch.kink_crossings],
            "problems": list(self.parity.problems),
            "worst_category": self.parity.worst_category,
            "worst": self.parity.worst[self.parity.worst_category].record() if self.parity.worst else None,
            "gradient_check": self.gradient_check,
            "replay_problem": self.replay_problem,
            "replayed": self.replayed,
            "final_loss_scratch": self.scratch.losses[-1] if self.scratch.losses else None,
            "final_loss_torch": self.torch.losses[-1] if self.torch.losses else None,
            "scratch_seconds_per_step": self.scratch_timing.median if self.scratch_timing else None,
            "torch_seconds_per_step": self.torch_timing.median if self.torch_timing else None,
            "scratch_seconds_spread": self.scratch_timing.spread if self.scratch_timing else None,
            "torch_seconds_spread": self.torch_timing.spread if self.torch_timing else None,
            "load_per_core": self.torch_timing.load_per_core if self.torch_timing else None,
        }


def run_trajectories(case: Case, seed: int, dtype: str, device: torch.device, steps: int
                     ) -> tuple[Trajectory, Trajectory]:
    """Train both sides from the same problem for ``steps`` steps; returns ``(scratch, torch)``.

    Kink crossings are listed in both trajectories' ``kink_crossings``.
    """
    problem = case.make_problem(seed, numpy_dtype(dtype))
    scratch_side = case.scratch(problem)
    torch_side = case.torch(problem, device)
    keep = snapshot_steps(steps, problem.n_param_elements)
    tol = tolerance(dtype, device.type, case.tolerance_factor)
    watched = start_kink_watch(scratch_side, torch_side)
    scratch_run, torch_run = Trajectory(), Trajectory()
    for step in tracked(range(steps), desc=case.name, unit="step", nested=True):
        torch_side.step()
        torch_run.record(step, torch_side.observe, step in keep)
        if case.couple is not None:
            case.couple(scratch_side, torch_side)
        scratch_side.step()
        scratch_run.record(step, scratch_side.observe, step in keep)
        if scratch_run.diverged_at is not None or torch_run.diverged_at is not None:
            break
        crossing = watch_kinks(step, scratch_side, torch_side, tol) if watched else None
        if crossing is not None:
            scratch_run.kink_crossings.append(crossing)
            torch_run.kink_crossings.append(crossing)
            scratch_side.adopt(torch_side.observe())
    return scratch_run, torch_run


def torch_parameters(torch_side: Trainer) -> dict[str, np.ndarray]:
    """The torch side's current parameters under scratch's names, in scratch's layout."""
    return {key.removeprefix("param."): value for key, value in torch_side.observe().arrays.items()
            if key.startswith("param.")}


def replay_scratch(case: Case, seed: int, dtype: str, run: Trajectory) -> str | None:
    """Train the scratch side alone (no torch side, no coupling) and compare its losses with ``run``'s.

    The lock-step run cannot tell an independent scratch side from one that copies the torch side's
    parameters (all observations then agree); alone, such a side cannot reproduce its losses. The losses
    must be bit-identical (same code, same data) up to the first kink crossing, after which the lock-step
    side continued from torch's parameters. Cases with ``couple`` are not replayed: their scratch side needs
    torch's random decisions by design. Returns None when reproduced, else what went wrong.
    """
    if case.couple is not None:
        return None
    last = min([crossing.step for crossing in run.kink_crossings] + [len(run.losses)])
    side = case.scratch(case.make_problem(seed, numpy_dtype(dtype)))
    for step in range(last):
        try:
            side.step()
            loss = float(side.observe().loss)
        except Exception as error:  # noqa: BLE001 (any failure alone is the finding, reported with its step)
            return f"step {step}: {type(error).__name__}: {error}"
        if loss != run.losses[step] and not (np.isnan(loss) and np.isnan(run.losses[step])):
            return f"step {step}: loss {loss!r} alone, {run.losses[step]!r} in lock step"
    return None


def run_case(case: Case, *, seed: int = 0, dtype: str = "float64", device: str = "cpu",
             steps: int | None = None, gradient_check: bool = False, replay: bool = False) -> CaseRun:
    """Parity run of ``case``: both sides in lock step, compared (:func:`compare.perf.timing.time_case` times it).

    With ``gradient_check``, a case that declares one also checks its scratch gradients against two-sided
    differences (:func:`scratch.gradient_check.gradient_check_n`, float64 whatever ``dtype``). With
    ``replay``, the scratch side is also trained alone and must reproduce its losses (:func:`replay_scratch`).
    """
    if not isinstance(case, Case):
        raise TypeError(f"case must be a registered Case (compare.core.registry.select([...])), "
                        f"got {type(case).__name__}")
    for name, flag in (("gradient_check", gradient_check), ("replay", replay)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    torch_device = resolve_device(device)
    steps = case.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    # Overflow and NaN are not errors here: they end the run as "diverged at step k" (see Trajectory).
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scratch_run, torch_run = run_trajectories(case, seed, dtype, torch_device, steps)
    parity = compare_trajectories(scratch_run, torch_run, tolerance(dtype, torch_device.type, case.tolerance_factor),
                                  rounding_floor=rounding_floor(dtype))
    run = CaseRun(case, seed, dtype, torch_device.type, steps, scratch_run, torch_run, parity)
    if replay:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            run.replay_problem = replay_scratch(case, seed, dtype, scratch_run)
        run.replayed = case.couple is None
    if gradient_check and case.gradient_check is not None:
        run.gradient_check = float(case.gradient_check(case.make_problem(seed, np.dtype(np.float64))))
    return run
