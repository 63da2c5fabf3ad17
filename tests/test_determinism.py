"""The same command twice gives bit-identical float64 CPU results: in-process (every recorded loss and
array compared bit for bit) and as two separate ``python -m compare run --json`` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compare.core.record import Trajectory
from compare.core.registry import all_cases
from compare.core.runner import run_case

ROOT = Path(__file__).resolve().parents[1]
STEPS = 25


def _assert_bit_identical(first: Trajectory, second: Trajectory) -> None:
    assert np.array_equal(np.array(first.losses), np.array(second.losses))
    assert first.snapshots.keys() == second.snapshots.keys()
    for step, arrays in first.snapshots.items():
        assert arrays.keys() == second.snapshots[step].keys()
        for key, value in arrays.items():
            other = second.snapshots[step][key]
            assert value.dtype == other.dtype and value.tobytes() == other.tobytes(), (step, key)


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.name)
def test_two_runs_in_one_process_are_bit_identical(case) -> None:
    first = run_case(case, seed=1, steps=STEPS)
    second = run_case(case, seed=1, steps=STEPS)
    _assert_bit_identical(first.scratch, second.scratch)
    _assert_bit_identical(first.torch, second.torch)


def test_two_cli_processes_write_identical_records(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    paths = [tmp_path / "first.json", tmp_path / "second.json"]
    processes = [subprocess.Popen([sys.executable, "-m", "compare", "run", "logistic_regression", "--steps",
                                   str(STEPS), "--seed", "2", "--no-timing", "--json", str(path)],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for path in paths]
    for process in processes:
        _, err = process.communicate()
        assert process.returncode == 0, err.decode()
    first, second = (json.loads(path.read_text()) for path in paths)
    assert len(first) == 2 and all(record["dtype"] == "float64" for record in first)
    assert first == second  # floats round-trip through JSON exactly (repr), so this is bit for bit
    assert paths[0].read_bytes() == paths[1].read_bytes()
