"""The `run` table: fits 120 columns, shows the tolerance, ratios as `25.9×`, one marker, flags unsteady timings."""

from __future__ import annotations

import math

import pandas as pd

from compare.case_index import CASES
from compare.report.build import RUN_TABLE_WIDTH, UNSTEADY_SPREAD, run_table, run_table_notes
from compare.report.tables import MISSING, ratio

LONGEST = max((f"{c}/{v}" for c, variants in CASES.items() for v in variants), key=len)


def _record(name: str, *, scratch: float | None = 1e-3, torch: float | None = 2.59e-2, spread: float = 0.01,
            state: float | None = None) -> dict[str, object]:
    concept, variant = name.split("/")
    return {"concept": concept, "variant": variant, "max_rel_diff_loss": 1e-16, "max_rel_diff_grad": 3e-15,
            "max_rel_diff_params": 2e-16, "max_rel_diff_state": state, "worst_category": "grad", "tolerance": 1e-10,
            "passed": True, "scratch_seconds_per_step": scratch, "torch_seconds_per_step": torch,
            "scratch_seconds_spread": spread if scratch else None, "torch_seconds_spread": 0.02 if torch else None}


def test_the_longest_case_name_fits_a_120_column_terminal() -> None:
    frame = pd.DataFrame([_record(LONGEST, state=4e-15), _record("optim/sgd", scratch=1.23456e-6, torch=9.87e-1)])
    text = "\n".join([run_table(frame), *run_table_notes(frame)])
    assert max(map(len, text.splitlines())) <= RUN_TABLE_WIDTH


def test_the_row_shows_worst_difference_tolerance_and_ratio() -> None:
    row = run_table(pd.DataFrame([_record("optim/sgd")])).splitlines()[2].split()
    assert row == ["optim/sgd", "3.0e-15", "grad", "1e-10", "ok", "1.00e-03", "2.59e-02", "25.9×"]


def test_not_measured_is_one_marker() -> None:
    row = run_table(pd.DataFrame([_record("optim/sgd", scratch=None, torch=None)])).splitlines()[2].split()
    assert row[-3:] == [MISSING] * 3


def test_an_unsteady_timing_is_flagged_and_explained() -> None:
    frame = pd.DataFrame([_record("optim/sgd", spread=UNSTEADY_SPREAD * 3), _record("optim/adam")])
    flagged, steady = run_table(frame).splitlines()[2:4]
    assert flagged.split()[-3:] == ["1.00e-03*", "2.59e-02", "25.9×*"] and "*" not in steady
    assert any(line.startswith("*: the timed blocks spread") for line in run_table_notes(frame))
    assert not any(line.startswith("*") for line in run_table_notes(frame.iloc[1:]))


def test_ratio_formats_three_figures_and_missing() -> None:
    assert [ratio(25.91), ratio(0.123), ratio(18143.2), ratio(None), ratio(math.nan)] == [
        "25.9×", "0.123×", "18143×", None, None]
