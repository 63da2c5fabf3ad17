"""The README's front door stays true: the make targets it names, the pictures it shows, the ./dlparity wrapper."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compare.case_index import CASES
from compare.names import COURSE_ORDER

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_make_target_the_readme_names_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", README))
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    assert {"report", "test", "venv", "run"} <= named
    assert named <= targets, f"the README names make targets that do not exist: {sorted(named - targets)}"


def test_the_reading_order_is_the_course_order_of_the_site() -> None:
    """The README's reading order names every concept once, in :data:`compare.names.COURSE_ORDER`."""
    section = README.split("### Reading order", 1)[1].split("\n### ", 1)[0]
    named = [name for name in re.findall(r"`([a-z_]+)`", section) if name in CASES]
    assert named == list(COURSE_ORDER) and sorted(COURSE_ORDER) == sorted(CASES)


def test_every_picture_the_readme_shows_is_committed() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert pictures
    for picture in pictures:
        assert not picture.startswith(("/", "http")), picture
        assert (ROOT / picture).read_bytes().startswith(b"\x89PNG"), picture


def _wrapper_in(folder: Path) -> Path:
    wrapper = folder / "dlparity"
    shutil.copy2(ROOT / "dlparity", wrapper)
    return wrapper


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_the_wrapper_without_a_venv_says_how_to_make_one(tmp_path: Path) -> None:
    done = subprocess.run([str(_wrapper_in(tmp_path)), "list"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and "make venv" in line


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_the_wrapper_runs_the_command_line_with_the_venvs_python(tmp_path: Path) -> None:
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wrapper = str(_wrapper_in(tmp_path))
    helped = subprocess.run([wrapper, "--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert helped.returncode == 0 and "usage: python -m compare" in helped.stdout
    misspelt = subprocess.run([wrapper, "run", "optm"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert misspelt.returncode == 2 and "did you mean 'optim'?" in misspelt.stderr
