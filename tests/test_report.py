"""``make_report`` into a temporary folder: every file, staged and committed atomically, never results/."""

from __future__ import annotations

import functools
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import compare.report.build as report
import compare.report.io as io
from compare.perf.bench import BenchResult, bench_frame
from compare.perf.timing import thread_settings
from compare.report.io import STAGING_PREFIX, StagedResults, atomic_write_json, atomic_write_text
from compare.report.speed import SpeedReport, speed_markdown
from compare.studies import logistic_regression_rates

ROOT = Path(__file__).resolve().parents[1]
SHORT_STEPS = 20


def _fingerprint(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _bench_data() -> SpeedReport:
    """What `make bench` leaves in results/speed.json: a dispatch row each side and one verdict."""
    rows = [dict(section="dispatch", name="x + y, 64 elements", backend=backend, device="cpu", dtype="float32",
                 m=64, seconds=seconds, q25=seconds, q75=seconds, samples=3, per_block=10)
            for backend, seconds in (("scratch", 1e-6), ("torch", 4e-6))]
    verdicts = [{"target": "`python -m compare run` (parity suite) time", "measured": None, "shown": "not measured",
                 "goal": "< 60 s", "verdict": "n/a"}]
    bench = BenchResult(bench_frame(rows), verdicts, {"torch_threads": 1, "blas": []}, 1, 3.0, True, "wall",
                        (0.1, 0.2, 0.3))
    return SpeedReport(bench, {"cpu": "test CPU", "cpu_count": 2, "gpu": None})


def _thread_counts(settings: dict, only: dict | None = None) -> dict[str, object]:
    """torch's threads and each BLAS's (those loaded in ``only``: a report may load SciPy's BLAS on the way)."""
    keep = {entry["filepath"] for entry in (only or settings)["blas"]}
    return {"torch": settings["torch_threads"],
            **{entry["filepath"]: entry["threads"] for entry in settings["blas"] if entry["filepath"] in keep}}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short report of logistic regression (both variants, both dtypes), shared by the tests below,
    written into a folder where `make bench` left its speed.json."""
    before = _fingerprint(ROOT / "results")
    out = tmp_path_factory.mktemp("report") / "results"
    atomic_write_json(out / "speed.json", _bench_data().to_json())
    threads_before = thread_settings()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "run_all", functools.partial(report.run_all, steps=SHORT_STEPS))
        patch.setattr(logistic_regression_rates, "ITERATIONS", SHORT_STEPS)  # the study's own test: test_course_figures
        report.make_report(out, names=["logistic_regression"], seeds=[0, 1])
    assert _thread_counts(thread_settings(), threads_before) == _thread_counts(threads_before), \
        "make_report left its thread pinning in force"
    assert _fingerprint(ROOT / "results") == before, "a test wrote into results/"
    return out


def test_report_writes_every_file(written: Path) -> None:
    names = {str(p.relative_to(written)) for p in written.rglob("*") if p.is_file()}
    assert {"parity.csv", "report.md", "environment.json", "runs.json", "plots/logistic_regression_loss.png",
            "plots/logistic_regression_learning_rates.png", "notebooks/logistic_regression.ipynb"} <= names
    page = (written / "study" / "logistic_regression.html").read_text()
    assert 'href="../notebooks/logistic_regression.ipynb"' in page
    assert not list(written.glob(f"{STAGING_PREFIX}*")), "the staging folder was left behind"
    assert (written / "plots" / "logistic_regression_loss.png").read_bytes().startswith(b"\x89PNG")


def test_parity_csv_has_one_passing_row_per_variant_dtype_and_seed(written: Path) -> None:
    frame = pd.read_csv(written / "parity.csv")
    assert len(frame) == 2 * 2 * 2
    assert set(report.TABLE_COLUMNS) <= set(frame.columns)
    assert frame["passed"].all()
    assert set(frame["dtype"]) == {"float64", "float32"} and set(frame["seed"]) == {0, 1}
    assert (frame.loc[frame["dtype"] == "float64", "max_rel_diff_grad"] < 1e-12).all()
    assert (frame["steps"] == SHORT_STEPS).all()
    # Only the first seed is timed.
    assert frame.loc[frame["seed"] == 0, "scratch_seconds_per_step"].notna().all()
    assert frame.loc[frame["seed"] == 1, "scratch_seconds_per_step"].isna().all()


def test_report_md_has_the_table_and_links_the_plot(written: Path) -> None:
    text = (written / "report.md").read_text()
    assert text.startswith("# dlparity report")
    assert "| concept | variant | device | dtype |" in text
    assert "](plots/logistic_regression_loss.png)" in text
    assert text.count("| logistic_regression |") == 4  # 2 variants x 2 dtypes (worst over seeds)


def test_environment_json_describes_the_machine(written: Path) -> None:
    env = json.loads((written / "environment.json").read_text())
    assert {"python", "numpy", "torch", "cpu", "cpu_count", "threads", "gpu"} <= set(env)
    assert env["threads"]["torch_threads"] >= 1


def test_report_files_are_readable_like_any_file(written: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    for name in ("report.md", "environment.json", "runs.json", "parity.csv"):
        assert (written / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


# --- StagedResults: commit on success only ---------------------------------------------------------

def _old_report(folder: Path) -> dict[str, bytes]:
    files = {"report.md": b"old report\n", "parity.csv": b"a,b\n1,2\n", "plots/x.png": b"old png"}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not p.relative_to(folder).parts[0].startswith(STAGING_PREFIX)}


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_run_leaves_the_previous_files_untouched(tmp_path: Path, error: type[BaseException]) -> None:
    old = _old_report(tmp_path)
    with pytest.raises(error), StagedResults(tmp_path) as stage:
        atomic_write_text(stage / "report.md", "new, half done")
        raise error()
    assert _contents(tmp_path) == old
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))


def test_a_successful_run_replaces_files_and_keeps_others(tmp_path: Path) -> None:
    old = _old_report(tmp_path)
    with StagedResults(tmp_path) as stage:
        atomic_write_text(stage / "report.md", "new report\n")
    assert _contents(tmp_path) == {**old, "report.md": b"new report\n"}


def test_a_stale_staging_folder_from_a_killed_run_is_removed(tmp_path: Path) -> None:
    (tmp_path / f"{STAGING_PREFIX}killed").mkdir()
    (tmp_path / f"{STAGING_PREFIX}killed" / "report.md").write_text("partial")
    with StagedResults(tmp_path):
        pass
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))


@pytest.fixture
def sigint_disposition() -> Iterator[Callable[[Callable | int], None]]:
    """``set(handler)`` makes it this process's SIGINT handler for the test; the one before is restored after.

    A test of Ctrl-C must set the disposition it means: a suite started in the background by a shell without job
    control (``nohup make test &``, ``cmd &`` in a script, some CI runners) inherits SIGINT *ignored*, and Python
    then leaves it ignored instead of raising KeyboardInterrupt (found by the loaded default suite, which hung).
    """
    previous = signal.getsignal(signal.SIGINT)
    yield lambda handler: signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGINT, previous)


NEW_FILES = ("report.md", "parity.csv", "plots/x.png")


def _commit_interrupted_by_sigint(folder: Path, monkeypatch: pytest.MonkeyPatch, interrupted: list[str]) -> None:
    """Stage :data:`NEW_FILES` into ``folder`` and commit them, sending this process a SIGINT right after the
    first ``os.replace``, whose destination is appended to ``interrupted`` (left empty if the commit never ran)."""
    real_replace = os.replace

    def replace_then_interrupt(src, dst):
        real_replace(src, dst)
        if not interrupted:
            interrupted.append(dst)
            os.kill(os.getpid(), signal.SIGINT)

    with StagedResults(folder) as stage:
        monkeypatch.setattr(io.os, "replace", replace_then_interrupt)
        (stage / "plots").mkdir()
        for name in NEW_FILES:
            (stage / name).write_bytes(b"new " + name.encode())


def test_ctrl_c_during_the_commit_is_held_back_until_every_file_moved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sigint_disposition: Callable) -> None:
    """Without deferral a SIGINT between two ``os.replace`` calls leaves old and new files mixed."""
    _old_report(tmp_path)
    sigint_disposition(signal.default_int_handler)  # Ctrl-C at a terminal
    interrupted: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _commit_interrupted_by_sigint(tmp_path, monkeypatch, interrupted)
    assert interrupted, "the commit never ran"
    assert _contents(tmp_path) == {name: b"new " + name.encode() for name in NEW_FILES}


def test_a_run_that_ignores_sigint_still_ignores_it_after_a_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sigint_disposition: Callable) -> None:
    """A report started with SIGINT ignored (in the background, ``nohup``) is not interrupted by one that
    arrives during the commit, and SIGINT is ignored again afterwards: holding Ctrl-C back must restore the
    disposition the process had, not Python's default."""
    _old_report(tmp_path)
    sigint_disposition(signal.SIG_IGN)
    interrupted: list[str] = []
    _commit_interrupted_by_sigint(tmp_path, monkeypatch, interrupted)
    assert interrupted, "the commit never ran"
    assert _contents(tmp_path) == {name: b"new " + name.encode() for name in NEW_FILES}
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_report_renders_the_speed_section_from_the_bench_data(written: Path) -> None:
    text = (written / "report.md").read_text()
    section = speed_markdown(_bench_data())
    assert section.startswith("## Speed") and section.strip() in text
    assert "| x + y, 64 elements | scratch | float32 |" in text
    assert json.loads((written / "speed.json").read_text()) == json.loads(json.dumps(_bench_data().to_json()))
    speed_page = (written / "study" / "speed.html").read_text()
    assert "<h2>Speed</h2>" in speed_page and "<td>x + y, 64 elements</td>" in speed_page


def test_an_unusable_speed_json_leaves_the_speed_section_out_with_a_note(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "speed.json").write_text('{"environment": {}}\n')
    assert report.load_speed_for_report(tmp_path) is None
    assert "note: the speed section is left out" in capsys.readouterr().err


def test_failure_lines_name_where_each_failed_run_broke_and_skip_the_passing_ones() -> None:
    rows = [
        {"concept": "c", "variant": "ok", "device": "cpu", "dtype": "float64", "seed": 0, "passed": True,
         "problems": [], "worst_category": "grad", "tolerance": 1e-10, "max_rel_diff_grad": 1e-15,
         "worst": {"array": "grad.W1", "step": 0, "index": [0, 0], "scratch": 1.0, "torch": 1.0},
         "gradient_check": 1e-10},
        {"concept": "c", "variant": "bad", "device": "cpu", "dtype": "float64", "seed": 2, "passed": False,
         "problems": [], "worst_category": "param", "tolerance": 1e-10, "max_rel_diff_params": 3e-3,
         "worst": {"array": "param.b2", "step": 7, "index": [1, 0], "scratch": 0.5, "torch": 0.25},
         "gradient_check": 2e-3},
        {"concept": "c", "variant": "nan", "device": "cpu", "dtype": "float32", "seed": 1, "passed": False,
         "problems": ["scratch diverged at step 4"], "worst_category": None, "tolerance": 2e-4, "worst": None,
         "gradient_check": None},
    ]
    lines = report.failure_lines(pd.DataFrame(rows))
    failed = [line for line in lines if line.startswith("- FAIL")]
    assert failed == [
        "- FAIL c/bad cpu float64 seed 2: param 3.0e-03 > tol 1e-10 in param.b2[1, 0] at step 7: scratch 0.5 vs "
        "torch 0.25; gradient check 2.0e-03 > 1e-05",
        "- FAIL c/nan cpu float32 seed 1: scratch diverged at step 4",
    ]
    assert report.failure_lines(pd.DataFrame(rows[:1])) == []


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``report --quick`` of logistic regression, as the command line runs it."""
    out = tmp_path_factory.mktemp("quick") / "results"
    report.make_report(out, names=["logistic_regression"], seeds=[0], quick=True)
    return out


def test_a_quick_report_says_so_in_its_files(quick: Path) -> None:
    assert json.loads((quick / "report.json").read_text())["kind"] == "quick"
    text = (quick / "report.md").read_text()
    assert text.startswith("# dlparity report (quick)") and report.QUICK_NOTE in text
    for page in ("index.html", "logistic_regression.html"):
        assert '<div class="banner"><p><strong>Quick report</strong>' in (quick / "study" / page).read_text()


def test_a_quick_report_is_a_smoke_test(quick: Path) -> None:
    """float64 on CPU, a few steps, no gradient check, and only the concept's first variant timed."""
    frame = pd.read_csv(quick / "parity.csv")
    assert list(frame["variant"]) == ["loop", "vectorized"] and frame["passed"].all()
    assert set(frame["dtype"]) == {"float64"} and set(frame["device"]) == {"cpu"}
    assert (frame["steps"] == report.QUICK_STEPS).all() and frame["gradient_check"].isna().all()
    assert frame["scratch_seconds_per_step"].notna().tolist() == [True, False]


def test_a_full_report_checks_gradients_and_replays_on_its_first_seed(written: Path) -> None:
    frame = pd.read_csv(written / "parity.csv")
    first, other = frame[frame["seed"] == 0], frame[frame["seed"] == 1]
    assert first.loc[first["dtype"] == "float64", "gradient_check"].lt(1e-5).all()
    assert frame.loc[frame["dtype"] == "float32", "gradient_check"].isna().all()
    assert other["gradient_check"].isna().all() and len(other) == len(first) == 4  # yet every seed is compared
    assert first["replayed"].all() and not other["replayed"].any()
    assert json.loads((written / "report.json").read_text())["kind"] == "partial"


def test_speed_ratios_print_as_multiples() -> None:
    rows = [dict(section="concept", name="optim/sgd", backend=backend, device="cpu", dtype="float64", m=64,
                 seconds=seconds, q25=seconds, q75=seconds, samples=3, per_block=10)
            for backend, seconds in (("scratch", 2.59e-4), ("torch", 1e-5))]
    base = _bench_data()
    bench = BenchResult(bench_frame(rows), base.bench.verdicts, base.bench.threads, 1, 3.0, True, "wall",
                        (0.1, 0.2, 0.3))
    text = speed_markdown(SpeedReport(bench, base.environment))
    row = next(line for line in text.splitlines() if line.startswith("| optim/sgd"))
    assert row.endswith("| 25.9× |")
