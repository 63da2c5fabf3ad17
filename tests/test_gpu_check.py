"""``make gpu-check`` (compare/gpu_check.py): its CPU-only answer, its plan, and how it runs and records a step."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from compare import gpu_check

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_says_no_gpu_writes_nothing_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no GPU:") and "make gpu-check" in out
    assert list(tmp_path.iterdir()) == []


def test_the_folder_is_named_after_the_device() -> None:
    assert gpu_check.folder_name("NVIDIA H200") == "gpu-check-nvidia-h200"
    assert gpu_check.folder_name("NVIDIA GeForce RTX 4090 (1)") == "gpu-check-nvidia-geforce-rtx-4090-1"


def test_the_plan_fits_the_budget_and_ddp_needs_two_gpus(tmp_path: Path) -> None:
    steps = gpu_check.plan(1)
    assert [s.name for s in steps] == ["cuda-tests", "run-cuda-float64", "run-cuda-float32", "bench-cuda", "ddp-nccl"]
    assert sum(s.limit for s in steps) <= gpu_check.BUDGET_SECONDS < 8 * 60
    assert all(not os.path.isabs(part) for s in steps for part in s.argv)  # outputs by relative path only
    ddp = steps[-1]
    skipped = gpu_check.run_step(ddp, tmp_path, ROOT, ddp.limit, n_gpus=1)
    assert (skipped.status, skipped.log) == ("skipped", None) and "2+ GPUs" in skipped.detail
    assert gpu_check.run_step(steps[0], tmp_path, ROOT, 0.0, n_gpus=1).detail == "no time left in the budget"


def test_a_step_runs_in_the_folder_and_its_log_has_no_absolute_path(tmp_path: Path) -> None:
    folder = tmp_path / "gpu-check-test"
    folder.mkdir()
    passing = gpu_check.Step("list-cwd", ("compare.gpu_check", "--help"), 120)
    outcome = gpu_check.run_step(passing, folder, ROOT, passing.limit, n_gpus=1)
    assert (outcome.status, outcome.returncode, outcome.log) == ("ok", 0, "list-cwd.log")
    assert "--out-root" in (folder / "list-cwd.log").read_text()
    failing = gpu_check.Step("broken", ("no_such_module_here",), 120)
    outcome = gpu_check.run_step(failing, folder, ROOT, failing.limit, n_gpus=1)
    assert outcome.status == "FAIL" and outcome.returncode == 1
    assert str(tmp_path) not in (folder / "broken.log").read_text() + outcome.detail


def test_the_summary_fits_one_screen() -> None:
    outcomes = [gpu_check.Outcome(s.name, "ok", 12.3, 0, f"{s.name}.log") for s in gpu_check.plan(2)]
    outcomes[1].status = "FAIL"
    lines = gpu_check.summary_lines("NVIDIA H200", 2, "gpu-check-nvidia-h200", outcomes, 300.0)
    assert len(lines) <= gpu_check.SUMMARY_LINES and all(len(line) <= 120 for line in lines)
    assert lines[-1] == "failed: run-cuda-float64 (see their .log files)"
    assert lines[0] == "gpu-check on 2 x NVIDIA H200: 300 s, everything in gpu-check-nvidia-h200/"
