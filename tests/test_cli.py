"""``python -m compare``: list, run, --json, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import scratch.logistic_regression as lr
from compare.cli import main
from compare.perf.timing import numpy_blas, thread_settings

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_KEYS = {"concept", "variant", "device", "dtype", "passed", "max_rel_diff_loss", "max_rel_diff_grad",
               "max_rel_diff_params", "steps", "scratch_seconds_per_step", "torch_seconds_per_step", "worst",
               "worst_category", "gradient_check"}


def _one_error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ")
    assert "Traceback" not in text
    return lines[0]


def test_list_names_every_registered_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "logistic_regression/vectorized" in out
    assert "logistic_regression/loop" in out


def test_run_prints_a_table_and_writes_the_json_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    path = tmp_path / "out" / "records.json"
    threads = _numpy_and_torch_threads()
    assert main(["run", "logistic_regression/vectorized", "--steps", "10", "--seed", "2", "--json", str(path)]) == 0
    assert _numpy_and_torch_threads() == threads, "run left its thread pinning in force"
    out = capsys.readouterr().out
    assert out.startswith("cpu float64, seed 2\n")
    header, rule, row = out.splitlines()[1:4]
    assert header.split() == ["case", "max", "rel", "diff", "in", "tol", "passed", "scratch", "s", "torch", "s",
                              "torch/scratch"]
    assert row.split()[0] == "logistic_regression/vectorized" and row.split()[3:5] == ["1e-10", "ok"]
    assert row.endswith("×") or row.endswith("×*")
    assert "1 passed, 0 failed" in out
    (record,) = json.loads(path.read_text())
    assert SCHEMA_KEYS <= set(record)
    assert (record["concept"], record["variant"], record["device"], record["dtype"]) == (
        "logistic_regression", "vectorized", "cpu", "float64")
    assert record["passed"] is True and record["steps"] == 10 and record["seed"] == 2
    for key in ("max_rel_diff_loss", "max_rel_diff_grad", "max_rel_diff_params"):
        assert isinstance(record[key], float) and 0 <= record[key] <= record["tolerance"]
    for key in ("scratch_seconds_per_step", "torch_seconds_per_step"):
        assert isinstance(record[key], float) and record[key] > 0
    assert 0 <= record["gradient_check"] < 1e-7  # float64 runs check the scratch gradients
    worst = record["worst"]
    assert worst["array"].split(".")[0] == record["worst_category"] or worst["array"] == "loss"
    assert 0 <= worst["step"] < 10


def _numpy_and_torch_threads() -> tuple[int, list[tuple[str, int]]]:
    """The thread counts ``run`` pins (other BLAS copies, e.g. SciPy's, may be loaded on the way)."""
    settings = thread_settings()
    return settings["torch_threads"], [(entry["filepath"], entry["threads"]) for entry in numpy_blas(settings)]


def test_run_float32_without_timing_has_null_timings(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    assert main(["run", "logistic_regression", "--dtype", "float32", "--steps", "3", "--no-timing",
                 "--json", str(path)]) == 0
    records = json.loads(path.read_text())
    assert {r["variant"] for r in records} == {"vectorized", "loop"}
    assert all(r["dtype"] == "float32" and r["scratch_seconds_per_step"] is None for r in records)
    assert all(r["gradient_check"] is None for r in records)  # checked once per case, in float64 runs


def test_parity_failure_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    correct = lr.propagate

    def dw_not_averaged(w, b, X, Y, *, check=True):
        grads, cost = correct(w, b, X, Y, check=check)
        return {"dw": grads["dw"] * X.shape[1], "db": grads["db"]}, cost

    monkeypatch.setattr(lr, "propagate", dw_not_averaged)
    path = tmp_path / "records.json"
    assert main(["run", "logistic_regression/vectorized", "--steps", "5", "--no-timing", "--json", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL logistic_regression/vectorized float64 cpu seed 0" in out
    assert "0 passed, 1 failed" in out
    (record,) = json.loads(path.read_text())
    assert record["passed"] is False and record["max_rel_diff_grad"] > record["tolerance"]
    # The FAIL line and the record say where it broke: the array, the step, the entry and both values.
    worst = record["worst"]
    assert worst["array"] in ("grad.w", "param.w") and worst["array"].startswith(record["worst_category"])
    entry = f"{worst['array']}[{', '.join(map(str, worst['index']))}] at step {worst['step']}"
    assert f"in {entry}: scratch {worst['scratch']:.17g} vs torch {worst['torch']:.17g}" in out
    assert worst["scratch"] != worst["torch"]
    assert worst["first_step"] is not None and 0 <= worst["first_step"] <= worst["step"]
    if worst["first_step"] != worst["step"]:
        assert f"(first beyond tolerance at step {worst['first_step']})" in out
    assert record["gradient_check"] > 1e-5 and "gradient check" in out  # the wrong dw fails its own check too


def test_unknown_concept_is_one_line_listing_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no_such_concept"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "no_such_concept" in line and "logistic_regression" in line


@pytest.mark.parametrize("argv, named", [
    (["run", "--dtype", "float16"], "--dtype"),
    (["run", "--device", "tpu"], "--device"),
    (["run", "--steps", "0"], "--steps"),
    (["run", "--steps", "ten"], "--steps"),
    (["run", "--seed", "-1"], "--seed"),
    (["report", "--seeds", "0"], "--seeds"),
    (["bogus"], "bogus"),
    ([], "command"),
])
def test_bad_options_are_one_line_exit_2(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert named in _one_error_line(capsys.readouterr().err)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "logistic_regression", "--device", "cuda", "--steps", "1"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "cuda" in line and "no CUDA GPU" in line


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run_passes_its_tolerance(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    assert main(["run", "logistic_regression", "--device", "cuda", "--steps", "50", "--no-timing",
                 "--json", str(path)]) == 0
    assert all(r["device"] == "cuda" and r["passed"] for r in json.loads(path.read_text()))


def test_the_real_entry_point_prints_no_traceback() -> None:
    done = subprocess.run([sys.executable, "-m", "compare", "run", "nope"], cwd=ROOT, capture_output=True,
                          text=True, env=_env())
    assert done.returncode == 2
    assert "nope" in _one_error_line(done.stderr)
    assert done.stdout == ""


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}
