"""Data parallelism with ``torch.distributed``: ``DistributedDataParallel`` over gloo (CPU) or NCCL (GPUs).

Each rank is a process with its own copy of the model. ``DistributedSampler(shuffle=False)`` deals rank r the
examples ``r, r + N, r + 2N, ...`` of the batch; the rank computes the mean loss over its shard and calls
``backward()``; DDP's hooks all-reduce the gradients during the backward pass (bucketed, each gradient scaled
by ``1 / world_size`` as it is copied into its bucket, then summed), so after ``backward()`` every rank holds
the average of the ranks' gradients, and the identical ``optimizer.step()`` keeps the copies equal.

Processes are started with ``torch.multiprocessing`` (start method ``spawn``) and meet over TCP on the
loopback address at a free port chosen at run time. Backend: ``gloo`` on CPU; ``nccl`` with one GPU per rank.

Two ways in:

- :func:`spawn_training`: the usual script: ``torch.multiprocessing.spawn(train, nprocs=N)`` trains ``steps``
  steps and rank 0 hands back the losses and final parameters.
- :class:`RankGroup`: a group of ranks kept alive and driven one command at a time from the parent process
  (``setup``, ``step``, ``observe``, ``all_reduce``, ``stop``), for a notebook or a harness that must look at the
  model after every step. Each rank runs :func:`serve`. Every wait on a rank also watches the process, so a rank
  that dies is reported (with its traceback when it raised) instead of hanging the parent; the group then shuts
  every rank down.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import traceback
import weakref
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing import connection
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from torch_ref import validation as v
from torch_ref.deep_net import HIDDEN_ACTIVATIONS, DeepNet, make_training
from torch_ref.training import train_step

LOOPBACK = "127.0.0.1"
#: How long a collective waits for a missing rank before it raises (torch's default is 30 minutes).
COLLECTIVE_TIMEOUT = timedelta(seconds=120)
DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: What :func:`serve` answers (besides ``stop``).
COMMANDS = ("setup", "all_reduce", "time_all_reduce", "step", "observe")


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def backend_for(device_type: str) -> str:
    """``"nccl"`` for CUDA (one GPU per rank), ``"gloo"`` for CPU."""
    if device_type not in ("cpu", "cuda"):
        raise ValueError(f"device_type must be 'cpu' or 'cuda', got {device_type!r}")
    return "nccl" if device_type == "cuda" else "gloo"


def check_devices(device_type: str, world_size: int) -> None:
    """``device_type`` is 'cpu' or 'cuda', and on 'cuda' there is one GPU per rank (NCCL's rule)."""
    backend_for(device_type)
    if device_type == "cuda" and torch.cuda.device_count() < world_size:
        raise ValueError(f"device_type 'cuda' needs one GPU per rank: world_size is {world_size}, but this machine "
                         f"has {torch.cuda.device_count()} CUDA GPU(s)")


def setup(rank: int, world_size: int, port: int, backend: str) -> torch.device:
    """Join the process group on ``tcp://127.0.0.1:port``; returns this rank's device."""
    dist.init_process_group(backend, init_method=f"tcp://{LOOPBACK}:{port}", rank=rank, world_size=world_size,
                            timeout=COLLECTIVE_TIMEOUT)
    if backend == "nccl":
        torch.cuda.set_device(rank)
        return torch.device("cuda", rank)
    return torch.device("cpu")


@dataclass
class RankSpec:
    """What every rank trains: a ``DeepNet`` with these initial ``state`` (``state_dict`` keys), full batch
    ``x`` ``(m, n_x)`` and ``y`` ``(m, 1)`` (each rank keeps its shard), ``BCEWithLogitsLoss`` and SGD."""

    layer_dims: list[int]
    hidden_activation: str
    learning_rate: float
    dtype: str
    state: dict[str, np.ndarray]
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        """Checked here, in the parent: a bad spec would otherwise fail inside every rank."""
        dims = v.check_sizes("layer_dims", self.layer_dims, at_least=2)
        if self.hidden_activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"hidden_activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}, "
                             f"got {self.hidden_activation!r}")
        v.check_number("learning_rate", self.learning_rate, low=0.0, low_open=True)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)} (a name), got {self.dtype!r}")
        for name, expected in (("x", dims[0]), ("y", 1)):
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.ndim != 2 or array.shape[1] != expected:
                raise ValueError(f"{name} must be a NumPy array of shape (m, {expected}) (examples are rows), got "
                                 f"{getattr(array, 'shape', type(array).__name__)}")
        if len(self.x) != len(self.y):
            raise ValueError(f"x and y must hold the same number of examples, got {len(self.x)} and {len(self.y)}")


@dataclass
class RankTraining:
    """One rank's training objects."""

    model: DistributedDataParallel
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    loader: DataLoader
    epoch: int = 0
    loss: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, DistributedDataParallel):
            raise TypeError(f"model must be a DistributedDataParallel (a plain module does not all-reduce its "
                            f"gradients), got {type(self.model).__name__}")
        if isinstance(self.epoch, bool) or not isinstance(self.epoch, int) or self.epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {self.epoch!r}")


def shard_loader(x: torch.Tensor, y: torch.Tensor, rank: int, world_size: int) -> DataLoader:
    """This rank's shard of ``(x, y)`` in one batch per epoch: ``DistributedSampler`` without shuffling."""
    v.check_positive_int("world_size", world_size)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an integer in 0..{world_size - 1} (world_size {world_size}), got {rank!r}")
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and {len(y)}")
    dataset = TensorDataset(x, y)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=False)
    return DataLoader(dataset, batch_size=len(sampler), sampler=sampler)


def build(spec: RankSpec, rank: int, world_size: int, device: torch.device) -> RankTraining:
    """The rank's DDP model (DDP broadcasts rank 0's parameters at construction), loss, optimizer and loader."""
    model = DeepNet(spec.layer_dims, spec.hidden_activation, dtype=DTYPES[spec.dtype], device=device)
    model.load_state_dict({key: torch.from_numpy(value) for key, value in spec.state.items()})
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    loss_fn, optimizer = make_training(ddp, learning_rate=spec.learning_rate)
    x, y = (torch.from_numpy(array).to(device) for array in (spec.x, spec.y))
    return RankTraining(ddp, loss_fn, optimizer, shard_loader(x, y, rank, world_size))


def train_epoch(training: RankTraining) -> torch.Tensor:
    """One pass over the rank's shard (one batch: one step); DDP all-reduces the gradients in ``backward()``."""
    training.loader.sampler.set_epoch(training.epoch)
    for x, y in training.loader:
        training.loss = train_step(training.model, training.loss_fn, training.optimizer, x, y)
    training.epoch += 1
    return training.loss


def parameters_and_grads(model: DistributedDataParallel) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The wrapped module's parameters and gradients, by ``named_parameters`` name, as NumPy arrays."""
    params = {name: p.detach().cpu().numpy().copy() for name, p in model.module.named_parameters()}
    grads = {name: p.grad.detach().cpu().numpy().copy() for name, p in model.module.named_parameters()
             if p.grad is not None}
    return params, grads


def train(rank: int, world_size: int, port: int, backend: str, spec: RankSpec, steps: int,
          results: connection.Connection) -> None:
    """The ``torch.multiprocessing.spawn`` target: ``steps`` epochs; rank 0 sends ``(losses, params)`` through
    ``results`` (its own shard's losses: the logged loss of rank 0)."""
    torch.set_num_threads(1)  # the ranks share the machine's cores
    device = setup(rank, world_size, port, backend)
    try:
        training = build(spec, rank, world_size, device)
        losses = [float(train_epoch(training)) for _ in range(steps)]
        if rank == 0:
            results.send((losses, parameters_and_grads(training.model)[0]))
    finally:
        dist.destroy_process_group()
        results.close()


def spawn_training(spec: RankSpec, world_size: int, steps: int, *, device_type: str = "cpu"
                   ) -> tuple[list[float], dict[str, np.ndarray]]:
    """Train with ``world_size`` spawned ranks; returns rank 0's losses and the final parameters.

    The result is read while the ranks still run (a rank blocked sending into a full pipe would never exit),
    waiting on the pipe and on every rank's sentinel: a rank that fails raises here with its traceback
    (``torch.multiprocessing.ProcessRaisedException``), and the others are terminated.
    """
    if not isinstance(spec, RankSpec):
        raise TypeError(f"spec must be a RankSpec, got {type(spec).__name__}")
    v.check_positive_int("world_size", world_size)
    v.check_positive_int("steps", steps)
    check_devices(device_type, world_size)
    reader, writer = mp.get_context("spawn").Pipe(duplex=False)
    ranks = mp.spawn(train, args=(world_size, free_port(), backend_for(device_type), spec, steps, writer),
                     nprocs=world_size, join=False)
    writer.close()
    result = None
    while result is None:
        connection.wait([reader, *ranks.sentinels])
        if reader.poll():
            try:
                result = reader.recv()
            except EOFError:  # every rank closed its end, none sent: wait for the failure to be raised
                while not ranks.join():
                    pass
                raise RuntimeError("the ranks ended without rank 0's result") from None
        elif ranks.join(0):  # every rank ended (join raises if one failed) and none sent a result
            raise RuntimeError("the ranks ended without rank 0's result")
    while not ranks.join():
        pass
    return result


# ------------------------------------------------------------------ a group of ranks driven step by step


def time_all_reduce(length: int, repeats: int, dtype: str, *, device: torch.device) -> float:
    """Seconds per ``dist.all_reduce`` of ``length`` elements: the mean of ``repeats``, after a barrier and one
    untimed call (every rank must call it: it is a collective)."""
    v.check_positive_int("length", length)
    v.check_positive_int("repeats", repeats)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)} (a name), got {dtype!r}")
    tensor = torch.zeros(length, dtype=DTYPES[dtype], device=device)
    dist.all_reduce(tensor)
    dist.barrier()
    started = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(tensor)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - started) / repeats



def _command(training: RankTraining | None, command: tuple, rank: int, world_size: int,
             device: torch.device) -> tuple[RankTraining | None, tuple]:
    """Run one command of :func:`serve`; returns the (new) training objects and the reply."""
    name, *args = command
    if name not in COMMANDS:
        raise ValueError(f"unknown command {name!r}; expected one of {', '.join(COMMANDS)} or 'stop'")
    if name == "setup":
        return build(args[0], rank, world_size, device), ("ready",)
    if name == "all_reduce":
        tensor = torch.from_numpy(np.array(args[0])).to(device)
        dist.all_reduce(tensor)
        return training, ("reduced", tensor.cpu().numpy())
    if name == "time_all_reduce":
        return training, ("timed", time_all_reduce(*args, device=device))
    if training is None:
        raise RuntimeError(f"command {name!r} before 'setup'")
    if name == "step":
        train_epoch(training)
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the reply means the step is done
        return training, ("done",)
    params, grads = parameters_and_grads(training.model)  # "observe"
    return training, ("observed", float(training.loss), params, grads)


def serve(rank: int, world_size: int, port: int, backend: str, conn: connection.Connection) -> None:
    """A rank's loop: join the group, reply ``("ready",)``, then answer commands until ``("stop",)``.

    A command that raises is answered ``("error", traceback)`` and ends the rank. A parent that goes away
    (end of file on ``conn``) ends it too.
    """
    torch.set_num_threads(1)  # the ranks share the machine's cores
    training: RankTraining | None = None
    try:
        device = setup(rank, world_size, port, backend)
        conn.send(("ready",))
        while True:
            try:
                command = conn.recv()
            except EOFError:
                break
            if command[0] == "stop":
                break
            training, reply = _command(training, command, rank, world_size, device)
            conn.send(reply)
    except Exception:  # noqa: BLE001 (any failure is sent to the parent with its traceback)
        conn.send(("error", traceback.format_exc()))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        conn.close()


def _serve_then_exit(rank: int, world_size: int, port: int, backend: str, conn: connection.Connection) -> None:
    """:func:`serve`, then end the process at once: tearing down an interpreter that imported torch takes
    seconds, and a rank has nothing left to clean up (its pipe and process group are closed)."""
    serve(rank, world_size, port, backend, conn)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class RankFailed(RuntimeError):
    """A rank raised, died or did not answer in time; the group has been shut down."""


def _shutdown(processes: list, conns: list, grace: float, failed: list[bool]) -> None:
    """``stop`` to every rank, ``grace`` seconds each to exit, then kill. After a failure (``failed[0]``) the
    ranks are killed at once: a rank waiting in a collective for a dead peer would never read ``stop``."""
    for conn in conns:
        try:
            conn.send(("stop",))
        except (OSError, ValueError):
            pass  # the rank is gone already, or the pipe was closed
    for process in processes:
        process.join(0.0 if failed[0] else grace)
        if process.is_alive():
            process.kill()
            process.join(grace)  # a killed process ends; the limit only guards against a stuck kernel
    for conn in conns:
        conn.close()


class RankGroup:
    """``world_size`` spawned ranks running :func:`serve`, each joined to one process group.

    ``request(command)`` sends a command to every rank and returns their replies in rank order. ``timeout`` is
    only a guard against a hung rank; readiness and replies are waited for, never slept for.
    """

    def __init__(self, world_size: int, *, device_type: str = "cpu", timeout: float = 300.0):
        v.check_positive_int("world_size", world_size)
        check_devices(device_type, world_size)
        v.check_number("timeout", timeout, low=0.0, low_open=True)
        self.world_size, self.device_type, self.timeout = world_size, device_type, timeout
        backend, port = backend_for(device_type), free_port()
        context = mp.get_context("spawn")
        self.processes, self.conns = [], []
        for rank in range(world_size):
            parent, child = context.Pipe()
            process = context.Process(target=_serve_then_exit, args=(rank, world_size, port, backend, child),
                                      daemon=True, name=f"ddp-rank-{rank}")
            process.start()
            child.close()  # only the rank holds its end now: its death is an end of file here
            self.processes.append(process)
            self.conns.append(parent)
        self._failed = [False]
        self._finalizer = weakref.finalize(self, _shutdown, self.processes, self.conns, 10.0, self._failed)
        self._receive_all("ready")

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and all(process.is_alive() for process in self.processes)

    def request(self, *command: Any) -> list[tuple]:
        """Send ``command`` to every rank, then wait for every reply; any failure closes the group and raises
        :class:`RankFailed` naming the rank."""
        return self.request_each([command] * self.world_size)

    def request_each(self, commands: list[tuple]) -> list[tuple]:
        """Send ``commands[r]`` to rank r (e.g. each rank its own tensor), then wait for every reply."""
        if not self._finalizer.alive:
            raise RankFailed("the rank group is closed")
        if len(commands) != self.world_size:
            raise ValueError(f"commands must hold one command per rank ({self.world_size}), got {len(commands)}")
        for rank, (conn, command) in enumerate(zip(self.conns, commands, strict=True)):
            try:
                conn.send(command)
            except OSError as error:
                self._fail()
                raise RankFailed(f"rank {rank} cannot be reached ({error})") from None
        return self._receive_all(None)

    def _receive_all(self, expected: str | None) -> list[tuple]:
        """Every rank's reply, in rank order, waiting on all ranks at once: the first rank that raises or dies
        ends the wait (a rank blocked in a collective with a dead peer would otherwise hold it up)."""
        try:
            replies = self._gather_replies()
        except RankFailed:
            self._fail()
            raise
        if expected is not None and any(reply[0] != expected for reply in replies):
            self._fail()
            raise RankFailed(f"expected {expected!r} from every rank, got {[reply[0] for reply in replies]}")
        return replies

    def _gather_replies(self) -> list[tuple]:
        replies: dict[int, tuple] = {}
        deadline = time.monotonic() + self.timeout
        while len(replies) < self.world_size:
            waiting = [rank for rank in range(self.world_size) if rank not in replies]
            handles = {self.conns[rank]: rank for rank in waiting}
            handles.update({self.processes[rank].sentinel: rank for rank in waiting})
            ready = connection.wait(list(handles), timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                raise RankFailed(f"ranks {waiting} did not answer within {self.timeout:.0f} s")
            for handle in ready:
                rank = handles[handle]
                if rank not in replies:
                    replies[rank] = self._reply_of(rank)
        return [replies[rank] for rank in range(self.world_size)]

    def _reply_of(self, rank: int) -> tuple:
        """Rank ``rank``'s reply once its pipe or its process sentinel is ready."""
        conn, process = self.conns[rank], self.processes[rank]
        if conn.poll():
            try:
                reply = conn.recv()
            except EOFError:
                pass
            else:
                if reply[0] == "error":
                    raise RankFailed(f"rank {rank} raised:\n{reply[1]}")
                return reply
        process.join(self.timeout)
        raise RankFailed(f"rank {rank} died (exit code {process.exitcode})")

    def _fail(self) -> None:
        self._failed[0] = True
        self.close()

    def close(self) -> None:
        """Stop every rank (``stop``, then kill what has not exited after a grace period)."""
        self._finalizer()
