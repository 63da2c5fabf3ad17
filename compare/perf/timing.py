"""Timing a training step: warm-up, then the median of repeated blocks, CUDA synchronised.

Each block runs the step enough times to last about ``block_seconds`` (so timer resolution and Python
overhead of the timing loop vanish), and the per-step time of each block is one sample. NumPy's BLAS and
torch are pinned to the same thread count (:func:`pinned_threads`) so the comparison is like for like.
This is the same design as ``torch.utils.benchmark.Timer.blocked_autorange``, written out because that
timer pins torch's threads only, not NumPy's BLAS.

Only real steps are timed: a trainer that offers ``finished`` (true once its ``step()`` would do nothing, e.g.
after early stopping) is replaced by a fresh one from the same problem (:class:`RenewingSteps`), with the clock
paused, so a stopped trainer's no-op never passes for a fast step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from compare.core.devices import numpy_dtype, resolve_device
from compare.core.problem import Trainer
from compare.core.record import Timing
from compare.core.registry import Case
from compare.core.runner import CaseRun


def thread_settings() -> dict[str, object]:
    """The thread counts in force: ``{"torch_threads": n, "blas": [...]}``, one entry per loaded BLAS.

    Each BLAS entry is ``{library, version, threads, filepath, numpy}``; ``numpy`` is true for the BLAS that
    NumPy itself calls (the library inside NumPy's install, e.g. a wheel's ``numpy.libs``), or for every
    loaded BLAS when none lies there (a system or conda NumPy). Other copies may be loaded too (SciPy's,
    pulled in by scikit-learn) and keep their own thread counts; the timed NumPy code never calls them.
    """
    loaded = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    home = str(Path(np.__file__).parent)
    inside = {id(info) for info in loaded if str(info.get("filepath", "")).startswith(home)}
    blas = [{"library": info.get("internal_api"), "version": info.get("version"), "threads": info.get("num_threads"),
             "filepath": portable_library_path(info.get("filepath")), "numpy": not inside or id(info) in inside}
            for info in loaded]
    return {"torch_threads": torch.get_num_threads(), "blas": blas}


def portable_library_path(path: str | None) -> str | None:
    """A loaded library's path without the machine's own prefix: relative to the ``site-packages`` it lies in
    (``numpy.libs/libscipy_openblas64_-....so``), else its file name. The reports are committed and published,
    so they name no folder of the machine that wrote them."""
    if path is None:
        return None
    parts = Path(path).parts
    if "site-packages" in parts:
        return Path(*parts[len(parts) - parts[::-1].index("site-packages"):]).as_posix()
    return Path(path).name


def numpy_blas(settings: dict[str, object]) -> list[dict[str, object]]:
    """The entries of ``settings["blas"]`` (from :func:`thread_settings`) that NumPy calls."""
    return [entry for entry in settings.get("blas", []) if entry.get("numpy")]


@contextmanager
def pinned_threads(threads: int | None = None) -> Iterator[int]:
    """``with pinned_threads(n) as n:`` NumPy's BLAS and torch use ``n`` threads (default: all cores).

    Timing NumPy and torch with different thread counts would compare the thread counts, not the code.
    On exit the previous BLAS limits and torch's previous thread count are restored, so the setting never
    leaks into the rest of the process (a test run, a notebook).
    """
    threads = threads or os.cpu_count() or 1
    previous_torch = torch.get_num_threads()
    with threadpool_limits(limits=threads, user_api="blas"):
        torch.set_num_threads(threads)
        try:
            yield threads
        finally:
            torch.set_num_threads(previous_torch)


@contextmanager
def pinned_cores(cores: Collection[int] | None) -> Iterator[list[int] | None]:
    """``with pinned_cores(cores) as cores:`` every thread of this process runs on ``cores`` only (and so do the
    threads it starts, which inherit the mask); the previous mask is restored on exit. ``None``, or an OS without
    CPU affinity (macOS, Windows), pins nothing and yields None.

    ``os.sched_setaffinity(0, ...)`` sets the calling thread's mask only (Linux), so the thread pools that
    NumPy's BLAS and torch started already would keep running anywhere: each thread of ``/proc/self/task`` is
    pinned by its id. The bench's spread ranks use it to keep off each other's cores.
    """
    if cores is None or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    previous = os.sched_getaffinity(0)
    _set_affinity(cores)
    try:
        yield sorted(os.sched_getaffinity(0))
    finally:
        _set_affinity(previous)


def _set_affinity(cores: Collection[int]) -> None:
    tasks = Path("/proc/self/task")
    for thread in sorted(int(task.name) for task in tasks.iterdir()) if tasks.is_dir() else [0]:
        try:
            os.sched_setaffinity(thread, cores)
        except ProcessLookupError:  # the thread ended since the folder was listed
            pass


class RenewingSteps:
    """The steps of a trainer made by ``make()``, which is made anew whenever it reports ``finished``."""

    def __init__(self, make: Callable[[], Trainer]):
        self.make = make
        self.trainer = make()
        self.renewals = 0

    def step(self) -> None:
        self.trainer.step()

    def finished(self) -> bool:
        return bool(getattr(self.trainer, "finished", False))

    def renew(self) -> None:
        self.trainer = self.make()
        self.renewals += 1


def _timed_block(step: Callable[[], None], count: int, sync: Callable[[], None], clock: Callable[[], float],
                 renewing: RenewingSteps | None) -> float:
    """Seconds of ``count`` steps; a finished trainer is renewed with the clock stopped."""
    elapsed, start = 0.0, clock()
    for _ in range(count):
        step()
        if renewing is not None and renewing.finished():
            sync()
            elapsed += clock() - start
            renewing.renew()
            start = clock()
    sync()
    return elapsed + clock() - start


def time_step(step: Callable[[], None] | RenewingSteps, *, sync: Callable[[], None] = lambda: None,
              warmup: int = 2, block_seconds: float = 0.02, samples: int = 5, max_seconds: float | None = None,
              clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Time ``step`` (one training step); ``sync`` waits for queued device work (CUDA).

    ``clock`` is wall time by default; ``time.process_time`` (CPU seconds of this process, all threads)
    resists a busy machine's load but is honest only with one thread, since idle BLAS threads spin.

    ``max_seconds`` caps the measuring time of a slow step: fewer blocks (at least 3) are taken when
    ``samples`` blocks would last longer, so a benchmark sweep stays within its budget. A
    :class:`RenewingSteps` is renewed, outside the timed intervals, whenever its trainer has finished.
    """
    renewing = step if isinstance(step, RenewingSteps) else None
    step = renewing.step if renewing is not None else step
    _timed_block(step, warmup, sync, clock, renewing)
    single = max(_timed_block(step, 1, sync, clock, renewing), 1e-9)
    per_block = max(1, int(block_seconds / single))
    if max_seconds is not None:
        samples = max(3, min(samples, int(max_seconds / (single * per_block))))
    results = []
    for _ in range(samples):
        results.append(_timed_block(step, per_block, sync, clock, renewing) / per_block)
    q25, median, q75 = np.percentile(results, [25, 50, 75])
    return Timing(float(median), float(q25), float(q75), samples, per_block, load_per_core())


def load_per_core() -> float | None:
    """The 1-minute load average divided by the cores, or None where the OS does not report it (Windows)."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except (AttributeError, OSError):
        return None


def cuda_sync(device: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def time_sides(case: Case, seed: int, dtype: str, device: torch.device, *, block_seconds: float = 0.02,
               samples: int = 5) -> tuple[Timing, Timing]:
    """Seconds per training step of fresh trainers on each side (no observing, no host syncs)."""
    problem = case.make_problem(seed, numpy_dtype(dtype))
    scratch_timing = time_step(RenewingSteps(lambda: case.scratch(problem)), block_seconds=block_seconds,
                               samples=samples)
    torch_timing = time_step(RenewingSteps(lambda: case.torch(problem, device)), sync=cuda_sync(device),
                             block_seconds=block_seconds, samples=samples)
    return scratch_timing, torch_timing


def time_case(run: CaseRun, *, block_seconds: float = 0.02, samples: int = 5) -> CaseRun:
    """Fill ``run``'s seconds per step for each side (fresh trainers, same case, seed, dtype and device)."""
    run.scratch_timing, run.torch_timing = time_sides(run.case, run.seed, run.dtype, resolve_device(run.device),
                                                      block_seconds=block_seconds, samples=samples)
    return run
