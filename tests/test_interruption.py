"""Interrupting ``python -m compare report`` (SIGINT and SIGKILL, at several points) never touches the
previous report: every file is byte-identical afterwards. Each run must still be running when its
signal is sent, and the ``writing`` point is only reached once a run has really produced new files, so
the points are real (``tests/test_report.py`` shows an uninterrupted report replacing the files).

The runs are started together; each stops at its point and says ``ready`` on a pipe
(``tests/interrupted_report.py``), and only then is it signalled: ``start`` (importing), ``running`` (the
staging folder exists, the comparisons are next), ``writing`` (``parity.csv`` is staged: plots, environment
and report.md are next). No sleep and no deadline: the test waits for the child's own signal, so it holds on
a loaded machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from compare.report.io import STAGING_PREFIX

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = {
    "parity.csv": b"concept,variant\nprevious,run\n",
    "report.md": b"# the previous report\n",
    "environment.json": b'{"previous": true}\n',
    "runs.json": b"[]\n",
    # a partial report: one concept's report may replace it (a full one it may not: tests/test_cli_front_door.py)
    "report.json": b'{"kind": "partial"}\n',
    "plots/logistic_regression_loss.png": b"\x89PNG previous",
    "bench.csv": b"not written by report: must survive any run\n",
    # read (as make bench's data) but never written by report; not bench data, so the speed section is left out
    "speed.json": b'{"previous": true}\n',
}
SIGNALS = {"SIGINT": signal.SIGINT, "SIGKILL": signal.SIGKILL}
# Ctrl-C while Python is still importing is Python's own default handling, not scratch_out: killed only.
CASES = [("start", "SIGKILL"), ("running", "SIGINT"), ("running", "SIGKILL"), ("writing", "SIGINT"),
         ("writing", "SIGKILL")]


@dataclass
class Run:
    point: str
    signal_name: str
    out: Path
    process: subprocess.Popen
    signalled_while_running: bool = False


def _previous_report(out: Path) -> None:
    for name, data in PREVIOUS.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and not p.relative_to(out).parts[0].startswith(STAGING_PREFIX)}


def _start(point: str, out: Path, log: Path) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "tests" / "interrupted_report.py"), point, "report",
               "logistic_regression/vectorized", "--seeds", "1", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as handle:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=handle, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    base = tmp_path_factory.mktemp("interrupt")
    plan = [(point, name) for point, name in CASES]
    started = []
    for point, name in plan:
        out = base / f"{name}-{point}" / "results"
        out.mkdir(parents=True)
        _previous_report(out)
        started.append(Run(point, name, out, _start(point, out, out.parent / "log.txt")))
    for run in started:
        if run.process.stdout.readline().strip() == "ready":  # "" when it ended before its point
            run.signalled_while_running = run.process.poll() is None
            run.process.send_signal(SIGNALS[run.signal_name])
    for run in started:
        run.process.communicate()
    return started


def _log(run: Run) -> str:
    return (run.out.parent / "log.txt").read_text(errors="replace")


@pytest.mark.parametrize("point, signal_name", CASES)
def test_an_interrupted_report_leaves_the_previous_files_byte_identical(runs: list[Run], point: str,
                                                                        signal_name: str) -> None:
    (run,) = [r for r in runs if (r.point, r.signal_name) == (point, signal_name)]
    assert run.signalled_while_running, f"the run ended before reaching {point!r}:\n{_log(run)}"
    assert run.process.returncode != 0
    assert _files(run.out) == PREVIOUS
    if signal_name == "SIGINT":
        # Interrupted inside the CLI: one line, the staging folder removed, exit status 130.
        assert run.process.returncode == 130, _log(run)
        assert "Traceback" not in _log(run)
        assert _log(run).rstrip().endswith("error: interrupted; earlier results were left untouched")
        assert not list(run.out.glob(f"{STAGING_PREFIX}*"))


def test_a_later_run_cleans_up_what_a_killed_run_left(runs: list[Run]) -> None:
    from compare.report.io import StagedResults

    (run,) = [r for r in runs if (r.point, r.signal_name) == ("writing", "SIGKILL")]
    assert list(run.out.glob(f"{STAGING_PREFIX}*")), "SIGKILL cannot clean up: a staging folder is expected"
    with StagedResults(run.out):
        pass
    assert not list(run.out.glob(f"{STAGING_PREFIX}*"))
    assert _files(run.out) == PREVIOUS
