"""The CLI's front door: instant ``--help`` and name errors, output paths checked first, no half report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import compare.report.build as build
from compare.case_index import CASES
from compare.cli import main
from compare.names import check_names, render_index, unknown_name

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sklearn", "pandas", "matplotlib", "compare.cases", "compare.core.registry")


def _one_error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ") and "Traceback" not in text
    return lines[0]


def test_the_index_equals_the_registry() -> None:
    from compare.core.registry import name_index

    live = name_index()
    assert {c: sorted(v) for c, v in CASES.items()} == {c: sorted(v) for c, v in live.items()}, (
        "compare/case_index.py is stale: run `python -m compare index`")
    assert (ROOT / "compare" / "case_index.py").read_text() == render_index(live)


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["run", "nope"], ["run", "optim/nope"],
                                  ["report", "optm", "--out", "/proc/nowhere"]])
def test_help_and_a_misspelt_name_import_no_heavy_module(argv: list[str]) -> None:
    code = ("import sys\nfrom compare.cli import main\n"
            f"try:\n    code = main({argv!r})\nexcept SystemExit as e:\n    code = e.code\n"
            f"print(code, [m for m in {HEAVY!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    last = done.stdout.strip().splitlines()[-1]
    assert last.endswith("[]"), f"{argv} imported {last}"
    assert last.split()[0] == ("0" if "--help" in argv else "2")


def test_a_bad_variant_lists_that_concepts_variants_and_the_near_miss(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "optim/adm"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "unknown variant 'adm' of concept 'optim'" in line and "did you mean 'adam'" in line
    assert all(variant in line for variant in CASES["optim"]) and "shallow_net" not in line


@pytest.mark.parametrize("name, hint", [("optm", "did you mean 'optim'?"), ("adam", "did you mean 'optim/adam'?"),
                                        ("regularisation/dropout", "did you mean 'regularization'?")])
def test_near_misses_get_a_suggestion(name: str, hint: str) -> None:
    message = unknown_name(name)
    assert message is not None and hint in message and "known concepts: augmentation" in message


def test_the_registry_gives_the_same_message() -> None:
    from compare.core.registry import select

    with pytest.raises(ValueError) as error:
        select(["optim/adm"])
    assert str(error.value) == unknown_name("optim/adm")


def test_known_names_pass_and_nothing_close_gets_no_suggestion() -> None:
    check_names(["optim", "optim/adam", "deep_net/relu_depth2"])
    message = unknown_name("zzzz")
    assert message is not None and "did you mean" not in message


def test_option_prefixes_are_not_expanded(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "logistic_regression", "--step", "5"])
    assert exit_info.value.code == 2
    assert "--step" in _one_error_line(capsys.readouterr().err)


def _no_work(*args: object, **kwargs: object) -> None:
    raise AssertionError("the run started although its output could not be written")


@pytest.mark.parametrize("option", ["json_below_a_file", "json_is_a_folder", "json_in_proc"])
def test_an_unwritable_json_path_fails_before_any_work(option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(build, "run_all", _no_work)
    (tmp_path / "file").write_text("x")
    path = {"json_below_a_file": tmp_path / "file" / "records.json", "json_is_a_folder": tmp_path,
            "json_in_proc": Path("/proc/no_such_folder/records.json")}[option]
    assert main(["run", "logistic_regression", "--json", str(path)]) == 2
    assert "--json" in _one_error_line(capsys.readouterr().err)


def test_an_unwritable_out_folder_fails_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(build, "run_all", _no_work)
    (tmp_path / "file").write_text("x")
    assert main(["report", "logistic_regression", "--out", str(tmp_path / "file" / "results")]) == 2
    assert "--out" in _one_error_line(capsys.readouterr().err)


def test_an_unwritable_plot_folder_fails_before_checking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "mine.py").write_text("def sigmoid(z):\n    return z\n")
    assert main(["check", str(tmp_path / "mine.py"), "--plot", str(tmp_path / "file")]) == 2
    assert "--plot" in _one_error_line(capsys.readouterr().err)


def test_an_os_error_during_the_run_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", str(tmp_path / "out.json"))

    monkeypatch.setattr("compare.report.io.atomic_write_json", disk_full)
    assert main(["run", "logistic_regression/vectorized", "--steps", "2", "--no-timing",
                 "--json", str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("error")]  # after the run's progress lines
    assert "Traceback" not in err and line.startswith("error: ")
    assert "No space left on device" in line and "out.json" in line


def _full_report(folder: Path, marker: bool) -> dict[str, bytes]:
    folder.mkdir()
    (folder / "runs.json").write_text("[]")
    (folder / "report.md").write_text("# the full report\n")
    if marker:
        (folder / "report.json").write_text(json.dumps({"kind": "full", "concepts": sorted(CASES), "seeds": 3}))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("argv", [["report", "logistic_regression"], ["report", "--quick"]])
@pytest.mark.parametrize("marker", [True, False], ids=["report.json", "runs.json only"])
def test_a_partial_or_quick_report_never_replaces_a_full_one(argv: list[str], marker: bool, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(build, "run_all", _no_work)
    out = tmp_path / "results"
    before = _full_report(out, marker)
    assert main([*argv, "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "holds a full report" in line and "--out" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_report_kind_reads_the_marker(tmp_path: Path) -> None:
    assert build.report_kind(tmp_path) is None
    (tmp_path / "report.json").write_text(json.dumps({"kind": "partial"}))
    assert build.report_kind(tmp_path) == "partial"


def test_report_quick_is_one_seed_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    calls = []

    def fake_report(out: Path, **kwargs: object) -> pd.DataFrame:
        calls.append(kwargs)
        return pd.DataFrame({"passed": [True]})

    monkeypatch.setattr(build, "make_report", fake_report)
    assert main(["report", "--quick", "--out", str(tmp_path / "quick")]) == 0
    (kwargs,) = calls
    assert list(kwargs["seeds"]) == [0] and kwargs["quick"] is True
    assert "(quick: a smoke test, not the full report)" in capsys.readouterr().out
