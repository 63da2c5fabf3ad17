"""Progress on the long phases (bars on a terminal, clean lines in a log) and timings flagged when untrustworthy."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

import compare.core.progress as progress
import compare.report.build as build
from compare.core.registry import select
from compare.report.studies import QUICK_FRACTION, StudyContext


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_no_bar_reaches_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress.tracked(range(5), desc="steps")) == [0, 1, 2, 3, 4]
    progress.note("[1/1] done")
    err = capsys.readouterr().err
    assert err == "[1/1] done\n"


def test_on_a_terminal_a_bar_counts_the_items(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert list(progress.tracked(["a", "b", "c"], desc="runs", unit="run")) == ["a", "b", "c"]
    progress.note("a line above the bar")
    text = terminal.getvalue()
    assert "runs" in text and "3/3" in text and "a line above the bar" in text


def test_a_nested_bar_stays_hidden_for_a_short_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert sum(progress.tracked(range(3), desc="steps", nested=True)) == 3
    assert "steps" not in terminal.getvalue()


def test_a_run_logs_one_clean_line_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    runs = build.run_all(select(["logistic_regression"]), dtypes=["float64"], devices=["cpu"], seeds=[0], steps=2,
                         timed=False)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(runs) == 2 and len(lines) == 2
    assert lines[0].startswith("[1/2] logistic_regression/loop cpu float64 seed=0: ok")
    assert lines[0].endswith("s left)") and lines[1].endswith("s)") and "left" not in lines[1]
    assert "\r" not in err and "\x1b" not in err


def test_quick_runs_are_short_unchecked_and_time_one_variant_per_concept() -> None:
    runs = build.run_all(select(["logistic_regression"]), dtypes=["float64"], devices=["cpu"], seeds=[0], quick=True)
    assert [run.steps for run in runs] == [build.QUICK_STEPS] * 2
    assert all(run.gradient_check is None for run in runs)
    assert [run.scratch_timing is not None for run in runs] == [True, False]


@pytest.mark.parametrize("full", [1, 2, 99, 100, 2000])
def test_a_quick_study_takes_a_fraction_of_its_steps(full: int, tmp_path) -> None:
    assert StudyContext(tmp_path).steps(full) == full
    assert StudyContext(tmp_path, quick=True).steps(full) == max(2, full // QUICK_FRACTION)


def _records(spread: float, load: float | None) -> pd.DataFrame:
    record = dict(concept="c", variant="v", device="cpu", dtype="float64", seed=0, steps=3, passed=True,
                  tolerance=1e-10, max_rel_diff_loss=1e-16, max_rel_diff_grad=2e-16, max_rel_diff_params=1e-16,
                  max_rel_diff_state=math.nan, worst_category="grad", gradient_check=None, steps_compared=3,
                  scratch_seconds_per_step=1e-4, torch_seconds_per_step=5e-2, scratch_seconds_spread=spread,
                  torch_seconds_spread=0.1, load_per_core=load)
    return pd.DataFrame([record])


@pytest.mark.parametrize("spread, load, why", [(0.9, 0.5, "spread by more than 50%"),
                                               (0.1, 5.0, "the machine was loaded (load average up to 5.0 per core"),
                                               (0.9, 5.0, "spread by more than 50% of their median or the machine")])
def test_an_untrustworthy_timing_is_flagged_next_to_its_figures(spread: float, load: float, why: str) -> None:
    frame = _records(spread, load)
    table = build.run_table(frame)
    assert "500×*" in table and ("5.00e-02*" in table) == (load > build.LOADED)
    notes = build.run_table_notes(frame)
    assert any(why in line for line in notes) and any("do not trust" in line for line in notes)
    assert build.summary_table(frame)["torch/scratch time"].tolist() == ["500×*"]


@pytest.mark.parametrize("load", [0.5, None])
def test_a_steady_timing_on_a_quiet_machine_is_not_flagged(load: float | None) -> None:
    frame = _records(0.1, load)
    assert "*" not in build.run_table(frame)
    assert build.untrusted_timing_notes(frame) == []
    assert build.summary_table(frame)["torch/scratch time"].tolist() == ["500×"]
