"""A sweep (a list of independent jobs) spread over processes and machines with ``torch.distributed``.

The launcher is PyTorch's own: ``torchrun`` (``python -m compare report --jobs N`` starts it for N local
processes). Each process finds its place in the environment torchrun sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``), joins a ``gloo`` process group and runs its share of the sweep: a fixed
round-robin deal (:meth:`Ranks.share`), the same on every launch, that deals the runs of one case (dtypes x
seeds, adjacent in the grid) out to different ranks, so the costly cases are spread too.
:func:`gather_sweep` sends every share to rank 0 (``dist.gather_object``), which puts the results back in grid
order: rank 0 then holds exactly what one process would have produced, and alone writes the results.

Failures stop the sweep through explicit signals, never by waiting a fixed time:

- a job that raises: its rank writes ``which job on which rank, and the error`` under :data:`STOP_KEY` in the
  process group's key-value store and goes to the gather; every other rank looks for that key before each
  job and goes to the gather as soon as it is there; rank 0 raises :class:`SweepFailed` with the message;
- a rank that dies (killed, out of memory): its sockets close, so gloo fails the gather at once on the ranks
  waiting in it; rank 0 then names the ranks that never reported done and the job each had last started
  (``current/<rank>`` in the store). Under torchrun the launcher also stops the other ranks with SIGTERM,
  which :func:`sweep_group` turns into :class:`SweepFailed` so that rank 0 still says what was lost.

A hung rank (an endless loop, a machine that vanished without closing its connections) is caught by the
process group's timeout, :data:`SWEEP_TIMEOUT`, which must outlast the longest share.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

J = TypeVar("J")
R = TypeVar("R")

#: The store key whose presence tells every rank to stop: its value says which job failed on which rank.
STOP_KEY = "dlparity/sweep/stop"
#: How long a collective waits for a silent rank. The gather waits for the slowest share, so this bounds the
#: imbalance between ranks too; a rank that dies is noticed at once, not after this.
SWEEP_TIMEOUT = datetime.timedelta(hours=3)


class SweepFailed(RuntimeError):
    """A job raised, a rank died or a rank was stopped: the message names the job and the rank."""


@dataclass(frozen=True)
class Ranks:
    """This process's place in the sweep: ``rank`` of ``world`` in all, ``local_rank`` of ``local_world`` here."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    def __post_init__(self) -> None:
        if not (0 <= self.rank < self.world and 0 <= self.local_rank < self.local_world <= self.world):
            raise ValueError(f"inconsistent ranks: rank {self.rank} of {self.world}, local rank {self.local_rank} "
                             f"of {self.local_world}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Ranks:
        """The ranks torchrun set in the environment, or a single process (rank 0 of 1) when it set none."""
        if "WORLD_SIZE" not in environ:
            return cls()
        try:
            world = int(environ["WORLD_SIZE"])
            rank = int(environ.get("RANK", "0"))
            local_world = int(environ.get("LOCAL_WORLD_SIZE", str(world)))
            local_rank = int(environ.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise ValueError("RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE must be integers (as torchrun sets "
                             f"them), got {[environ.get(k) for k in ('RANK', 'WORLD_SIZE')]}") from None
        return cls(rank, world, local_rank, local_world)

    @property
    def leader(self) -> bool:
        """Rank 0: it gathers the results and alone writes them."""
        return self.rank == 0

    @property
    def spread(self) -> bool:
        return self.world > 1

    def share(self, count: int) -> list[int]:
        """The indices of this rank's jobs among ``count``, the same on every launch: round-robin whose first
        rank moves on by one each round (round ``k`` deals to ranks ``k, k+1, ...`` mod W), so that a grid whose
        jobs come in rounds alike (with one seed and two ranks, each case's float64 run, which carries the
        gradient check, then its float32 run) does not give one rank every job of one kind, as plain
        round-robin would."""
        return [index for index in range(count) if self._dealt_to(index) == self.rank]

    def _dealt_to(self, index: int) -> int:
        turn, seat = divmod(index, self.world)
        return (seat + turn) % self.world

    def threads(self, cores: int | None = None) -> int:
        """This process's share of the machine's cores (at least one): the threads its BLAS and torch get."""
        return max(1, (cores or os.cpu_count() or 1) // self.local_world)

    def cores(self, available: Iterable[int]) -> list[int] | None:
        """This process's own cores among ``available`` (the ones this machine lets it run on): local rank ``r``
        of ``L`` takes the ``r``-th of ``L`` equal, disjoint slices of the sorted list (a remainder of fewer than
        ``L`` cores is left unused, so every rank has as many). None when there are fewer cores than local
        processes: they cannot each have one, so they share them all."""
        available = sorted(available)
        size = len(available) // self.local_world
        if size == 0:
            return None
        return available[self.local_rank * size:(self.local_rank + 1) * size]

    @property
    def node(self) -> int:
        """The index of this machine among the sweep's (torchrun's ``GROUP_RANK``; 0 without torchrun)."""
        return int(os.environ.get("GROUP_RANK", "0")) if self.spread else 0

    def label(self) -> str:
        """``"rank 1/2: "`` in a spread sweep, ``""`` in a single process (progress lines say who wrote them)."""
        return f"rank {self.rank}/{self.world}: " if self.spread else ""


def _current_key(rank: int) -> str:
    return f"dlparity/sweep/current/{rank}"


def _done_key(rank: int) -> str:
    return f"dlparity/sweep/done/{rank}"


def _store() -> dist.Store:
    return dist.distributed_c10d._get_default_store()


@contextmanager
def sweep_group(ranks: Ranks, *, timeout: datetime.timedelta = SWEEP_TIMEOUT) -> Iterator[None]:
    """``with sweep_group(ranks):`` a gloo process group for a spread sweep (nothing for a single process).

    Any error inside the block is posted under :data:`STOP_KEY` so the other ranks stop before their next job;
    SIGTERM (torchrun stopping the survivors of a dead rank) raises :class:`SweepFailed` instead of killing
    the process where it stands, so rank 0's staged results are discarded and the lost jobs named.
    """
    if not ranks.spread:
        yield
        return
    dist.init_process_group("gloo", timeout=timeout)  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    if torch.cuda.is_available():  # the local ranks of a GPU machine take its GPUs in turn
        torch.cuda.set_device(ranks.local_rank % torch.cuda.device_count())
    try:
        with _sigterm_raises(ranks):
            yield
    except BaseException as error:
        _post_stop(f"rank {ranks.rank} stopped: {type(error).__name__}: {error}")
        raise
    finally:
        dist.destroy_process_group()


@contextmanager
def _sigterm_raises(ranks: Ranks) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stopped(signum: int, frame: object) -> None:
        raise SweepFailed(f"rank {ranks.rank} was stopped by {signal.Signals(signum).name} (the launcher stops "
                          f"every rank when one fails){_unfinished(ranks.world)}")

    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _post_stop(message: str) -> None:
    """Post ``message`` under :data:`STOP_KEY` unless a first failure is already there (that one is the cause)."""
    try:
        _store().compare_set(STOP_KEY, "", message)
    except (RuntimeError, dist.DistError):  # the store's host is gone: the others learn it from their sockets
        pass


def _stop_message() -> str | None:
    store = _store()
    return store.get(STOP_KEY).decode() if store.check([STOP_KEY]) else None


def _unfinished(world: int) -> str:
    """``"; rank 1 had not finished (last started: X)"`` for every rank that never reported done."""
    try:
        store = _store()
        lost = [(rank, store.get(_current_key(rank)).decode() if store.check([_current_key(rank)]) else "nothing")
                for rank in range(world) if not store.check([_done_key(rank)])]
    except (RuntimeError, dist.DistError):
        return "; the store is gone, so which ranks were lost is unknown"
    return "".join(f"; rank {rank} had not finished (last started: {job})" for rank, job in lost)


def run_share(jobs: Sequence[J], run_one: Callable[[int, J], R], ranks: Ranks, describe: Callable[[J], str],
              track: Callable[[Sequence[int]], Iterable[int]] = iter, costs: Sequence[float] | None = None,
              deal: Sequence[Sequence[int]] | None = None) -> list[tuple[int, R]] | str:
    """Run this rank's share of ``jobs`` (``run_one(index, job)``), stopping early on a posted failure.

    The share is :meth:`Ranks.share` (rotating round-robin), or with ``costs`` (one rough figure per job) the
    deal of :func:`deal_by_cost`, or ``deal[rank]`` when the caller dealt the jobs itself (every job to exactly
    one rank, the same deal on every rank). ``track`` wraps the share's indices (a progress bar). Returns
    ``[(index, result), ...]``, or the failure message when one of its own jobs raised (posted under
    :data:`STOP_KEY` for the others). A single process runs every job in order and lets an error propagate.
    """
    if not ranks.spread:
        return [(index, run_one(index, jobs[index])) for index in track(range(len(jobs)))]
    store = _store()
    store.delete_key(_done_key(ranks.rank))  # done with an earlier sweep of this run, not with this one
    _agree_on_jobs(jobs, describe, ranks)
    if deal is not None:
        share = deal[ranks.rank]
    else:
        share = ranks.share(len(jobs)) if costs is None else deal_by_cost(costs, ranks.world)[ranks.rank]
    done = []
    for index in track(share):
        if store.check([STOP_KEY]):
            break
        store.set(_current_key(ranks.rank), describe(jobs[index]))
        try:
            done.append((index, run_one(index, jobs[index])))
        except SweepFailed:  # stopped from outside (SIGTERM), not by this job
            raise
        except Exception as error:  # noqa: BLE001 (any error is the finding: named, posted, sent to rank 0)
            message = (f"{describe(jobs[index])} failed on rank {ranks.rank}: {type(error).__name__}: {error}\n"
                       + "".join(traceback.format_exception(error)[-3:]).rstrip())
            _post_stop(message)
            return message
    return done


def deal_by_cost(costs: Sequence[float], world: int, preload: Sequence[float] = ()) -> list[list[int]]:
    """Job indices per rank: longest first, each to the rank with the least cost so far (ties: the lower rank
    and the earlier job), each rank's jobs in their original order. Deterministic, so every rank computes the
    same deal; for a few jobs of very unequal cost (the report's studies), where round-robin can give one rank
    the two longest. ``preload[r]``: work rank ``r`` has besides these jobs (rank 0's loss plots)."""
    loads, deal = [0.0] * world, [[] for _ in range(world)]
    for rank, load in enumerate(preload[:world]):
        loads[rank] = float(load)
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        rank = min(range(world), key=lambda r: (loads[r], r))
        loads[rank] += costs[index]
        deal[rank].append(index)
    return [sorted(indices) for indices in deal]


def _agree_on_jobs(jobs: Sequence[J], describe: Callable[[J], str], ranks: Ranks) -> None:
    """Raise :class:`SweepFailed` on every rank unless all ranks listed the same jobs (same code, same options,
    same devices): shares of different lists would silently skip or repeat jobs."""
    digest = hashlib.sha256("\n".join(map(describe, jobs)).encode()).hexdigest()[:16]
    digests: list[str | None] = [None] * ranks.world
    dist.all_gather_object(digests, (len(jobs), digest))
    if len(set(digests)) > 1:
        raise SweepFailed("the ranks do not list the same jobs (count, digest per rank: "
                          f"{digests}); run the same code with the same options and devices on every machine")


def local_launch(jobs: int, module: str, args: Sequence[str]) -> list[str]:
    """The ``torchrun`` command that runs ``python -m module args`` in ``jobs`` local processes (one machine)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc-per-node",
            str(jobs), "--max-restarts", "0", "-m", module, *args]


def gather_sweep(share: list[tuple[int, R]] | str, ranks: Ranks) -> list[R] | None:
    """Every rank's :func:`run_share` result to rank 0, which returns all results in job order (None elsewhere).

    Every rank raises :class:`SweepFailed` when a job raised on any rank (the first failure posted, which rank
    0 broadcasts), and the ranks still there when a rank died before the gather (its sockets closed), naming the
    job each lost rank had last started.
    """
    if not ranks.spread:
        assert not isinstance(share, str)
        return [result for _, result in share]
    _store().set(_done_key(ranks.rank), "1")
    gathered: list[list[tuple[int, R]] | str] | None = [[] for _ in range(ranks.world)] if ranks.leader else None
    try:
        dist.gather_object(share, gathered, dst=0)
    except (RuntimeError, dist.DistError) as error:
        lost = _unfinished(ranks.world) or "; every rank had finished its share, so one left during the gather"
        raise SweepFailed(f"rank {ranks.rank}: the gather failed ({str(error).splitlines()[0][:160]}){lost}"
                          ) from error
    verdict = [None if gathered is None else _failure(gathered)]
    dist.broadcast_object_list(verdict, src=0)  # every rank stops here on a failure, not in the next collective
    if verdict[0] is not None:
        raise SweepFailed(verdict[0])
    if gathered is None:
        return None
    pairs = sorted((pair for part in gathered for pair in part), key=lambda pair: pair[0])
    return [result for _, result in pairs]


def _failure(gathered: Sequence[list[tuple[int, R]] | str]) -> str | None:
    """The first failure posted (the cause: later ones may be its consequences), else None."""
    stop = _stop_message()
    return stop if stop is not None else next((part for part in gathered if isinstance(part, str)), None)


def gather_to_leader(value: R, ranks: Ranks) -> list[R] | None:
    """Every rank's ``value`` to rank 0, in rank order (None elsewhere; ``[value]`` in a single process): what
    each rank reports of itself after a :func:`gather_sweep` that succeeded, such as the threads and cores it
    ran on. A rank lost here raises :class:`SweepFailed` on the ranks still there."""
    if not ranks.spread:
        return [value]
    gathered: list[R | None] | None = [None] * ranks.world if ranks.leader else None
    try:
        dist.gather_object(value, gathered, dst=0)
    except (RuntimeError, dist.DistError) as error:
        raise SweepFailed(f"rank {ranks.rank}: a rank was lost after its share was done "
                          f"({str(error).splitlines()[0][:160]})") from error
    return gathered  # type: ignore[return-value]
