"""Every place that folds many results into one verdict or figure, fed a mix of good and bad in every position.

A summary that takes the first seed instead of the worst, ``any`` instead of ``all``, ``min`` instead of
``max``, or the last maximum's position instead of the first, agrees with the right one whenever all of its
inputs agree. So each aggregate below gets inputs where exactly one item is the odd one (failing among
passing, the largest among smaller, a NaN among numbers), and that item is put first, in the middle and last.
``AGGREGATES`` names each one tested (the counts in docs/reliability-tests.md are taken from it).
"""

from __future__ import annotations

import importlib
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from compare.check.diagnosis import Diagnosis, combine
from compare.check.report import Report
from compare.check.verdict import FunctionResult, Wrong, diagnose, first_wrong
from compare.core.parity import ParityResult, compare_trajectories, worst_entry
from compare.core.problem import Observation
from compare.core.record import Trajectory
from compare.perf import bench
from compare.report import build, site, speed
from compare.studies.optim_race import steps_to_target
from scratch.regularization import EarlyStopping
from torch_ref.regularization import EarlyStopping as TorchEarlyStopping

N = 5
POSITIONS = {"first": 0, "middle": N // 2, "last": N - 1}
#: every aggregate this module tests: (where it lives, what it folds)
AGGREGATES = {
    "compare.core.parity.ParityResult.passed": "all categories within tolerance, and no problem",
    "compare.core.parity.ParityResult.worst_category": "argmax over categories (and max_rel_overall)",
    "compare.core.parity.compare_trajectories/steps": "max over the snapshot steps of one array",
    "compare.core.parity.compare_trajectories/arrays": "max over the arrays of one category",
    "compare.core.parity.worst_entry": "argmax entry, and the first step beyond tolerance",
    "compare.core.record.Trajectory.record": "first non-finite step over the loss and every array",
    "compare.report.build.summary_table": "worst over seeds per (concept, variant, device, dtype)",
    "compare.report.build.failure_lines": "one line per failed run",
    "compare.report.build.run_table": "worst category per run",
    "compare.report.site._worst": "largest number, NaN if any is NaN",
    "compare.report.site.parity_table": "verdict, worst difference and steps compared over seeds",
    "compare.report.site.index_body": "the overview: per concept the verdict and worst difference per dtype",
    "compare.report.site.concept_body": "a concept page's verdict over its records",
    "compare.report.speed.crossover": "smallest batch at which CUDA beats the best CPU backend",
    "compare.perf.bench.peaks": "best matmul GFLOP/s per backend",
    "compare.perf.bench._thread_verdict": "every BLAS library NumPy calls uses torch's thread count",
    "compare.check.verdict.first_wrong": "first wrong output and worst relative error of a call",
    "compare.check.verdict.diagnose": "a bug hypothesis must reproduce every failing input",
    "compare.check.diagnosis.combine": "one error pattern shared by every failing input",
    "compare.check.report.Report.passed": "every function and training passes",
    "compare.studies.optim_race.steps_to_target": "first update whose loss reaches the race's target",
    "scratch.regularization.EarlyStopping.update": "best_epoch: the epoch of the lowest dev loss",
    "torch_ref.regularization.EarlyStopping.update": "best_epoch: the epoch of the lowest dev loss",
}

positions = pytest.mark.parametrize("position", list(POSITIONS))


def odd_one(position: str, odd: object, normal: object, n: int = N) -> list[object]:
    """``n`` items, all ``normal`` except ``odd`` at ``position``."""
    items = [normal] * n
    items[POSITIONS[position]] = odd
    return items


def spread(position: str, largest: float, n: int = N) -> list[float]:
    """``n`` distinct values below ``largest``, in no sorted order, with ``largest`` at ``position``."""
    others = [largest / k for k in (3, 7, 2, 5, 11)][: n - 1]
    others.insert(POSITIONS[position], largest)
    return others


# ---- compare/core/parity.py -------------------------------------------------------------------------------------
@positions
def test_parity_passes_only_when_every_category_is_within_tolerance(position: str) -> None:
    categories = ["loss", "grad", "param", "state", "grad2"][:N]
    values = odd_one(position, 1e-6, 1e-14)
    result = ParityResult(tolerance=1e-10, max_rel=dict(zip(categories, values, strict=True)))
    assert not result.passed
    assert ParityResult(tolerance=1e-10, max_rel=dict.fromkeys(categories, 1e-14)).passed
    problems = ParityResult(tolerance=1e-10, max_rel=dict.fromkeys(categories, 1e-14), problems=["diverged"])
    assert not problems.passed


@positions
def test_the_worst_category_is_the_largest_wherever_it_is(position: str) -> None:
    categories = ["loss", "grad", "param", "state", "other"]
    values = spread(position, 3e-9)
    result = ParityResult(tolerance=1e-10, max_rel=dict(zip(categories, values, strict=True)))
    assert result.worst_category == categories[POSITIONS[position]]
    assert result.max_rel_overall == 3e-9


def _trajectories(steps: int, keys: list[str], bad_step: int | None, bad_key: str | None, size: float = 1e-6):
    rng = np.random.default_rng(0)
    base = {k: {key: rng.standard_normal((2, 3)) for key in keys} for k in range(steps)}
    torch_side = Trajectory(losses=[1.0 / (k + 1) for k in range(steps)],
                            snapshots={k: {key: v.copy() for key, v in arrays.items()} for k, arrays in base.items()})
    scratch = Trajectory(losses=list(torch_side.losses),
                         snapshots={k: {key: v.copy() for key, v in arrays.items()} for k, arrays in base.items()})
    if bad_step is not None:
        scratch.snapshots[bad_step][bad_key][1, 2] += size
    return scratch, torch_side


@positions
def test_one_bad_step_among_good_ones_fails_the_run_and_is_named(position: str) -> None:
    step = POSITIONS[position]
    scratch, torch_side = _trajectories(N, ["grad.W1"], step, "grad.W1")
    result = compare_trajectories(scratch, torch_side, 1e-10)
    assert not result.passed
    assert result.worst_category == "grad"
    assert (result.worst["grad"].step, result.worst["grad"].index, result.worst["grad"].first_step) == \
        (step, (1, 2), step)
    assert compare_trajectories(*_trajectories(N, ["grad.W1"], None, None), 1e-10).passed


@positions
def test_one_bad_array_among_good_ones_fails_the_run_and_is_named(position: str) -> None:
    keys = [f"param.W{i}" for i in range(N)]  # sorted order is the comparison order
    bad = keys[POSITIONS[position]]
    result = compare_trajectories(*_trajectories(3, keys, 1, bad), 1e-10)
    assert not result.passed
    assert result.worst["param"].key == bad


@positions
def test_worst_entry_takes_the_largest_and_the_first_step_beyond(position: str) -> None:
    steps = [0, 10, 20, 30, 40]
    b = np.ones((N, 4))
    a = b.copy()
    largest = POSITIONS[position]
    a[largest, 3] += 1e-3
    first_beyond = 0 if largest else 1  # a smaller excess before (or after, when the largest is first)
    a[first_beyond if largest else 1, 1] += 1e-6
    entry = worst_entry("grad.W", steps, a, b, tol=1e-10)
    assert (entry.step, entry.index) == (steps[largest], (3,))
    assert entry.first_step == steps[min(largest, first_beyond)]


@positions
@pytest.mark.parametrize("where", ["loss", "array"])
def test_divergence_is_the_first_non_finite_step(position: str, where: str) -> None:
    trajectory = Trajectory()
    bad = POSITIONS[position]
    keys = [f"grad.W{i}" for i in range(N)]
    for step in range(N):
        arrays = {key: np.ones(3) for key in keys}
        loss = 1.0
        if step >= bad:  # non-finite from `bad` on, in the array at the same position as the step
            if where == "loss":
                loss = math.nan
            else:
                arrays[keys[bad]] = np.array([1.0, np.inf, 1.0])
        trajectory.record(step, lambda loss=loss, arrays=arrays: Observation(loss=loss, arrays=arrays), True)
    assert trajectory.diverged_at == bad


# ---- compare/report ---------------------------------------------------------------------------------------------
def _record(seed: int, passed: bool, diff: float, *, dtype: str = "float64", steps_compared: int = 20,
            concept: str = "deep_net", variant: str = "relu") -> dict:
    return {"concept": concept, "variant": variant, "device": "cpu", "dtype": dtype, "seed": seed,
            "passed": passed, "steps": 20, "steps_compared": steps_compared, "tolerance": 1e-10,
            "max_rel_diff_loss": diff / 10, "max_rel_diff_grad": diff, "max_rel_diff_params": diff / 100,
            "max_rel_diff_state": math.nan if diff is None else diff / 1000, "gradient_check": 1e-9,
            "scratch_seconds_per_step": 1e-3, "torch_seconds_per_step": 2e-3, "problems": [],
            "kink_crossings": [], "worst_category": "grad",
            "worst": {"array": "grad.W1", "index": [0, 1], "step": 3, "scratch": 1.0, "torch": 1.5,
                      "first_step": 3}}


def _seeds(position: str) -> list[dict]:
    """Five seeds of one case: the failing one (difference 1e-6) at ``position``, the others pass."""
    return [_record(seed, seed != POSITIONS[position], 1e-6 if seed == POSITIONS[position] else 1e-13 * (seed + 1),
                    steps_compared=17 if seed == POSITIONS[position] else 20) for seed in range(N)]


@positions
def test_the_summary_is_the_worst_seed_per_dtype(position: str) -> None:
    records = _seeds(position) + [_record(seed, True, 1e-7) for seed in range(N)]
    for r in records[N:]:
        r["dtype"] = "float32"
    table = build.summary_table(pd.DataFrame(records)).set_index("dtype")
    assert not table.loc["float64", "passed"] and table.loc["float32", "passed"]
    assert table.loc["float64", "max_rel_diff_grad"] == 1e-6
    assert table.loc["float64", "min_steps_compared"] == 17
    assert table.loc["float32", "max_rel_diff_grad"] == 1e-7


@positions
def test_every_failed_run_gets_a_line(position: str) -> None:
    records = _seeds(position)
    records[(POSITIONS[position] + 1) % N]["passed"] = False  # a second failure, next to the first
    lines = build.failure_lines(pd.DataFrame(records))
    failed = sorted(r["seed"] for r in records if not r["passed"])
    assert [line for line in lines if line.startswith("- FAIL")] == \
        [line for line in lines if any(f"seed {s}:" in line for s in failed)]
    assert sum(line.startswith("- FAIL") for line in lines) == 2


@positions
def test_the_run_table_shows_each_runs_largest_category(position: str) -> None:
    values = spread(position, 4e-8, n=4) if position != "middle" else [1e-9, 4e-8, 2e-9, 3e-9]
    record = _record(0, False, 1.0)
    for column, value in zip(("max_rel_diff_loss", "max_rel_diff_grad", "max_rel_diff_params",
                              "max_rel_diff_state"), values, strict=True):
        record[column] = value
    assert "4.0e-08" in build.run_table(pd.DataFrame([record]))


@positions
def test_the_site_worst_is_the_largest_and_nan_wins(position: str) -> None:
    assert site._worst(spread(position, 5e-3)) == 5e-3
    assert math.isnan(site._worst(odd_one(position, math.nan, 1e-12)))
    assert site._worst(odd_one(position, None, 1e-12)) == 1e-12  # a missing figure is no figure


@positions
def test_a_variants_row_fails_when_any_seed_fails(position: str) -> None:
    html = site.parity_table(_seeds(position))
    assert html.count("badge fail") == 1 and "badge pass" not in html
    assert "1.00e-06" in html and "17-20 of 20" in html
    assert "badge fail" not in site.parity_table([_record(s, True, 1e-13) for s in range(N)])


@positions
def test_the_overview_shows_the_worst_variant_and_fails_the_concept(position: str) -> None:
    variants = [f"v{i}" for i in range(N)]
    records = [_record(0, i != POSITIONS[position], 1e-6 if i == POSITIONS[position] else 1e-13, variant=v)
               for i, v in enumerate(variants)]
    records += [_record(0, True, 3e-7, dtype="float32", variant=v) for v in variants]
    html = site.index_body(["deep_net", "softmax"], {"deep_net": records, "softmax": records[:0]}, {}, {}, False)
    row = html.split("deep_net")[1].split("</tr>")[0]
    assert "badge fail" in row and "1.00e-06" in row and "3.00e-07" in row
    page = site.concept_body("deep_net", [], records, [], None, (None, None))
    assert page.split("</h1>")[0].count("badge fail") == 1


@positions
def test_the_gpu_crossover_is_the_smallest_batch_it_wins(position: str) -> None:
    ms = [16, 64, 256, 1024, 4096]
    win_from = POSITIONS[position]
    rows = []
    for i, m in enumerate(ms):
        cpu_best = 1.0 + i
        # the faster CPU backend alternates, so taking either one alone (not the best) moves the crossover
        scratch_s, torch_cpu_s = (cpu_best, cpu_best * 3) if i % 2 else (cpu_best * 3, cpu_best)
        cuda_s = cpu_best * (0.5 if i >= win_from else 2.0)
        for backend, device, seconds in (("scratch", "cpu", scratch_s), ("torch", "cpu", torch_cpu_s),
                                         ("torch", "cuda", cuda_s)):
            rows.append({"section": "dense", "name": "sweep", "m": m, "width": 64, "depth": 2,
                         "dtype": "float32", "backend": backend, "device": device, "seconds": seconds})
    assert speed.crossover(pd.DataFrame(rows)) == {"float32": ms[win_from]}


@positions
def test_the_peak_is_the_best_matmul(position: str) -> None:
    gflops = spread(position, 90.0)
    frame = pd.DataFrame([{"section": "matmul_peak", "name": f"matmul {n}", "backend": "numpy", "device": "cpu",
                           "dtype": "float32", "gflops": g} for n, g in enumerate(gflops)])
    assert bench.peaks(frame) == {("numpy", "cpu", "float32"): 90.0}


@positions
def test_the_thread_verdict_needs_every_blas_library_to_agree(position: str) -> None:
    blas = [{"numpy": True, "threads": t, "library": f"lib{i}"} for i, t in enumerate(odd_one(position, 1, 4))]
    assert bench._thread_verdict([{"blas": blas, "torch_threads": 4}])["verdict"] == "MISS"
    agreeing = [{**entry, "threads": 4} for entry in blas]
    assert bench._thread_verdict([{"blas": agreeing, "torch_threads": 4}])["verdict"] == "PASS"
    # a spread bench: every rank's settings must agree within that rank
    ranks = [{"blas": agreeing, "torch_threads": 4}] * N
    ranks[POSITIONS[position]] = {"blas": blas, "torch_threads": 4}
    assert bench._thread_verdict(ranks)["verdict"] == "MISS"


# ---- compare/check ----------------------------------------------------------------------------------------------
@positions
def test_the_check_names_the_first_wrong_output_and_the_worst_error(position: str) -> None:
    names = [f"out{i}" for i in range(N)]
    expected = {name: np.array([1.0, 2.0]) for name in names}
    got = {name: np.array([1.0, 2.0]) for name in names}
    bad = names[POSITIONS[position]]
    got[bad] = np.array([1.0, 2.5])
    later = names[(POSITIONS[position] + 1) % N]
    got[later] = np.array([1.0, 2.0 + 4.0])  # a larger error elsewhere: the worst, but not always the first
    wrong, worst = first_wrong(SimpleNamespace(label="case"), got, expected)
    assert wrong.output == min(bad, later, key=names.index)
    assert worst == pytest.approx(2.0, rel=1e-6)


@positions
def test_a_bug_hypothesis_is_diagnosed_only_when_it_explains_every_failing_input(position: str) -> None:
    """``diagnose``: a hypothesis that reproduces all failing calls but one (in any position) is no diagnosis."""
    cases = [SimpleNamespace(label=f"case{i}", value=float(i + 1), m=4, zeros={}, integer_inputs=False)
             for i in range(N)]
    got = [{"cost": case.value * 2} for case in cases]  # the learner's outputs: twice the right value
    odd = POSITIONS[position]
    got[odd] = {"cost": cases[odd].value * 3 + 1}  # except on one input
    hypothesis = SimpleNamespace(diagnosis="missing_1_over_m", outputs=lambda case: {"cost": case.value * 2})
    spec = SimpleNamespace(hypotheses=[hypothesis])
    failing = [(case, g, {"cost": case.value}, Wrong(case.label, "cost", (), g["cost"], case.value))
               for case, g in zip(cases, got, strict=True)]
    explained = diagnose(spec, [(c, {"cost": c.value * 2}, e, w) for c, _, e, w in failing])
    assert explained is not None and explained.id == "missing_1_over_m"
    unexplained = diagnose(spec, failing)
    assert unexplained is None or unexplained.id != "missing_1_over_m"


@positions
def test_a_shared_pattern_needs_every_failing_input(position: str) -> None:
    """``combine``: one signature on every input gives a diagnosis; one input without it (anywhere) gives none."""
    signature = Diagnosis("missing_1_over_m", "off by a factor m")
    assert combine([signature] * N) is not None
    assert combine(odd_one(position, None, signature)) is None
    assert combine(odd_one(position, Diagnosis("sign_flipped", "negated"), signature)) is None


@positions
def test_a_check_report_passes_only_when_every_function_passes(position: str) -> None:
    statuses = odd_one(position, "fail", "pass")
    functions = [FunctionResult(f"f{i}", "c1w2", status) for i, status in enumerate(statuses)]
    assert not Report("x.py", "c1w2", functions).passed
    assert Report("x.py", "c1w2", [FunctionResult(f"f{i}", "c1w2", "pass") for i in range(N)]).passed


# ---- studies ---------------------------------------------------------------------------------------------------
@positions
def test_the_race_counts_updates_to_the_first_loss_below_the_target(position: str) -> None:
    """``steps_to_target``: a non-monotone curve whose first dip below the target is at ``position``."""
    first = POSITIONS[position]
    losses = [1.0, 0.9, 0.8, 0.85, 0.7]
    losses[first] = 0.05
    if first != N - 1:
        losses[-1] = 0.09  # a later dip below the target too
    assert steps_to_target(np.array(losses), 0.1) == first
    assert steps_to_target(np.array(odd_one(position, 0.05, 0.5)), 0.1) == first
    assert steps_to_target(np.array([0.5] * N), 0.1) is None


# ---- early stopping ---------------------------------------------------------------------------------------------
@positions
@pytest.mark.parametrize("stopper", [EarlyStopping, TorchEarlyStopping], ids=["scratch", "torch"])
def test_early_stopping_keeps_the_epoch_of_the_lowest_loss(position: str, stopper: type) -> None:
    losses = [1.0 - 0.1 * v for v in spread(position, 5.0)]  # the lowest at `position`, the others in no order
    model = torch.nn.Linear(1, 1)
    stop = stopper(patience=N + 1)
    for epoch, loss in enumerate(losses):
        assert not stop.update(epoch, loss, model if stopper is TorchEarlyStopping else {"W": np.ones(1) * epoch})
    assert stop.best_epoch == POSITIONS[position]
    assert stop.best_loss == pytest.approx(min(losses))


def test_every_listed_aggregate_exists() -> None:
    for name in AGGREGATES:
        module, *attributes = name.split("/")[0].split(".")
        target = importlib.import_module(module)
        for attr in attributes:
            try:
                target = getattr(target, attr)  # an AttributeError names an aggregate that moved
            except AttributeError:
                target = importlib.import_module(f"{target.__name__}.{attr}")
        assert callable(target) or isinstance(target, property)
