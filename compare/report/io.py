"""Atomic writes: a crashed or interrupted run never leaves a half-written or destroyed report.

Single files go through a temporary file in the same folder and ``os.replace`` (atomic on POSIX).
A whole report is built in a staging folder (:class:`StagedResults`) and its files are moved into
place one ``os.replace`` each only after everything was produced; on any exception, SIGINT included,
the staging folder is deleted and the previous files are untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

STAGING_PREFIX = ".tmp-"


def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 minus the umask); ``mkstemp`` uses 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_file_mode())  # readable like any other report file, not owner-only
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, value: object) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


class StagedResults:
    """``with StagedResults(results_dir) as stage:`` write under ``stage``; committed on success only."""

    def __init__(self, target: Path):
        self.target = Path(target)
        self.stage: Path | None = None

    def __enter__(self) -> Path:
        self.target.mkdir(parents=True, exist_ok=True)
        for stale in self.target.glob(f"{STAGING_PREFIX}*"):  # left by a run that was SIGKILLed
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
        try:
            # A Ctrl-C inside mkdtemp would leave a folder nobody owns: hold it until the name is kept.
            with _sigint_deferred():
                self.stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.target))
        except KeyboardInterrupt:  # delivered right after: the with-block never starts, so clean up here
            if self.stage is not None:
                shutil.rmtree(self.stage, ignore_errors=True)
            raise
        return self.stage

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.stage is not None
        try:
            if exc_type is None:
                self._commit()
        finally:
            shutil.rmtree(self.stage, ignore_errors=True)

    def _commit(self) -> None:
        """Move every staged file into place. SIGINT is held back until all moves are done, so Ctrl-C
        never leaves a mix of old and new files; a SIGKILL inside this (millisecond) window can, but
        each file is still either the complete old or the complete new version."""
        assert self.stage is not None
        with _sigint_deferred():
            for source in sorted(p for p in self.stage.rglob("*") if p.is_file()):
                destination = self.target / source.relative_to(self.stage)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, destination)


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold back Ctrl-C for the block and deliver it afterwards (main thread only: signal handlers
    can only be changed there). A signal mask would not do: torch's worker threads leave SIGINT
    unblocked, so the kernel hands it to one of them and Python raises in the main thread at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)
