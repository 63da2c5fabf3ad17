"""Data parallelism: N workers, each with a shard of the batch, gradients averaged by an all-reduce.

The network is the shared dense net of :mod:`compare.cases.networks` (2 -> 16 -> 16 -> 1, tanh hidden,
sigmoid output, binary cross-entropy from the logits, SGD) on 600 points of the planar flower: 600 is divisible
by 2, 3 and 4, so every worker's shard has the same size and the average of the workers' gradients is the
full-batch gradient (docs/data_parallel.md). tanh, not ReLU: the torch side runs in other processes, where the
kink watch cannot look.

The torch side is always real ``DistributedDataParallel``: N spawned processes in one gloo group on the loopback
address (NCCL with one GPU per rank when the machine has N GPUs), each with its ``DistributedSampler`` shard,
driven one step at a time (:class:`torch_ref.data_parallel.RankGroup`). Two scratch sides face it:

- ``ring_<N>workers``: scratch's N simulated workers and ring all-reduce (:mod:`scratch.data_parallel`);
- ``full_batch_<N>workers``: scratch's single-process full-batch training (:mod:`scratch.deep_net`): the
  step DDP claims to reproduce.

Rank groups are expensive to start (each rank imports torch), so a group is kept, idle, once its trainer is
gone, and the next trainer of the same size reuses it (a fresh DDP model on the same process group); every
group is stopped when the process exits.
"""

from __future__ import annotations

import atexit
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

import scratch.data_parallel as sdp
import scratch.deep_net as dn
import torch_ref.data_parallel as tdp
from compare.cases.networks import (
    TORCH_BACKWARD,
    TORCH_COST,
    TORCH_UPDATE,
    ScratchDeepNet,
    build_torch_model,
    check_gradients,
    column,
    deep_problem,
    gradient_check_point,
)
from compare.core.problem import Observation, Problem
from compare.core.registry import Case, Excerpt, Stage, register
from compare.core.trainers import ScratchTrainer, observation
from compare.data import datasets
from scratch.gradient_check import gradient_check_n

LAYER_DIMS = [2, 16, 16, 1]
M = 600
LEARNING_RATE = 0.5
STEPS = 100
WORKER_COUNTS = (2, 4)


def make_problem(seed: int, dtype: np.dtype, *, n_workers: int) -> Problem:
    """The planar flower (600 x 2), Xavier-initialised tanh net; ``hyper["n_workers"]`` workers."""
    problem = deep_problem(seed, dtype, layer_dims=LAYER_DIMS, dataset=datasets.planar_flower(m=M, seed=seed + 1),
                           hidden_activation="tanh", init="xavier", learning_rate=LEARNING_RATE)
    problem.hyper["n_workers"] = n_workers
    return problem


class ScratchRing(ScratchTrainer):
    """N simulated workers: local gradients on their shards, ring all-reduce with DDP's ``1/N`` weights, SGD."""

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.X, self.Y = problem.data["X"], problem.data["Y"]
        self.n_workers = problem.hyper["n_workers"]
        self.hidden_activation = problem.hyper["hidden_activation"]
        self.learning_rate = problem.hyper["learning_rate"]
        self.traffic: sdp.RingTraffic | None = None
        dn.check_inputs(self.X, self.params, self.hidden_activation, self.Y)

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        cost, grads, self.traffic = sdp.data_parallel_loss_and_grads(
            self.params, self.X, self.Y, self.n_workers, hidden_activation=self.hidden_activation, check=False)
        return cost, grads

    def update(self) -> None:
        dn.update_parameters(self.params, self.grads, self.learning_rate)


#: The ring variants' step, stage by stage: scratch's simulated workers beside the code one DDP rank runs. DDP has
#: no separate all-reduce call: wrapping the model registers hooks that all-reduce each gradient bucket during
#: ``loss.backward()``, so that line is both the local gradient and the all-reduce.
STAGES = (
    Stage("shard", (sdp.shard_indices,), (tdp.shard_loader,)),
    Stage("local gradients",
          (Excerpt(sdp.data_parallel_loss_and_grads, ("for shard, weight in zip(", "X_k, Y_k = X[:, shard]",
                                                      "cost, grads = loss_and_grads(")), dn.loss_and_grads),
          (tdp.train_epoch, TORCH_COST, TORCH_BACKWARD)),
    Stage("all-reduce",
          (Excerpt(sdp.data_parallel_loss_and_grads, ("weights = worker_weights(", "scaled.append(",
                                                      "reduced, traffic = ring_all_reduce(")),
           sdp.worker_weights, sdp.chunk_bounds, sdp.ring_all_reduce),
          (tdp.setup, Excerpt(tdp.build, ("ddp = DistributedDataParallel(",)), TORCH_BACKWARD)),
    Stage("update", (ScratchRing.update, dn.update_parameters),
          (Excerpt(tdp.build, ("loss_fn, optimizer = make_training(",)), TORCH_UPDATE)),
)


# ------------------------------------------------------------------ the torch side: real DDP in other processes

_GROUPS: list[tuple[tdp.RankGroup, list[weakref.ref]]] = []


def acquire_group(world_size: int, device_type: str, owner: object) -> tdp.RankGroup:
    """A live rank group of ``world_size`` on ``device_type`` whose previous owner is gone, or a new one."""
    for group, holder in _GROUPS:
        if (group.world_size, group.device_type) == (world_size, device_type) and group.alive and (
                not holder or holder[0]() is None):
            holder[:] = [weakref.ref(owner)]
            return group
    group = tdp.RankGroup(world_size, device_type=device_type)
    _GROUPS.append((group, [weakref.ref(owner)]))
    return group


class _Loan:
    """The owner of a group lent by :func:`borrowed_group` (anything weakly referenceable will do)."""


@contextmanager
def borrowed_group(world_size: int, device_type: str = "cpu") -> Iterator[tdp.RankGroup]:
    """``with borrowed_group(n) as group:`` a pooled rank group, handed back to the pool on exit."""
    loan = _Loan()
    yield acquire_group(world_size, device_type, loan)
    del loan


@atexit.register
def close_groups() -> None:
    """Stop every rank group this process started."""
    while _GROUPS:
        _GROUPS.pop()[0].close()


def scratch_name(torch_name: str) -> tuple[str, bool]:
    """``linears.{l-1}.weight`` -> ``(W{l}, False)``, ``linears.{l-1}.bias`` -> ``(b{l}, True)`` (a column)."""
    _, index, kind = torch_name.split(".")
    return (f"W{int(index) + 1}", False) if kind == "weight" else (f"b{int(index) + 1}", True)


class TorchDataParallel:
    """The torch side: ``DistributedDataParallel`` on ``n_workers`` ranks, one DDP step per ``step()``.

    ``step()`` returns when every rank has finished its step. ``observe()`` asks every rank for its loss (the
    mean over its shard), parameters and gradients; the ranks must hold bit-identical copies (DDP's promise),
    and the logged loss is ``sum_k (1/N) J_k``, the same formula as the scratch side's.
    """

    def __init__(self, problem: Problem, device: torch.device):
        self.n_workers, self.device_type = problem.hyper["n_workers"], device.type
        model, _ = build_torch_model(problem, torch.device("cpu"))
        state = {key: value.numpy().copy() for key, value in model.state_dict().items()}
        self.spec = tdp.RankSpec(list(problem.hyper["layer_dims"]), problem.hyper["hidden_activation"],
                                 problem.hyper["learning_rate"], str(problem.dtype), state,
                                 np.ascontiguousarray(problem.data["X"].T), np.ascontiguousarray(problem.data["Y"].T))
        self.group: tdp.RankGroup | None = None

    def step(self) -> None:
        if self.group is None:  # started on the first step: building a trainer costs no process
            self.group = acquire_group(self.n_workers, self.device_type, self)
            self.group.request("setup", self.spec)
        self.group.request("step")

    def observe(self) -> Observation:
        if self.group is None:
            raise RuntimeError("observe() called before step()")
        replies = self.group.request("observe")
        _, _, params, grads = replies[0]
        for rank, (_, _, other, _) in enumerate(replies[1:], start=1):
            for name, value in params.items():
                if value.tobytes() != other[name].tobytes():
                    raise RuntimeError(f"DDP ranks 0 and {rank} hold different {name} (max difference "
                                       f"{np.max(np.abs(value - other[name])):.3g}): the replicas diverged")
        loss = sum((1.0 / self.n_workers) * reply[1] for reply in replies)
        return observation(loss, *(self._scratch_layout(arrays) for arrays in (params, grads)))

    @staticmethod
    def _scratch_layout(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        converted = {}
        for torch_name, value in arrays.items():
            name, is_bias = scratch_name(torch_name)
            converted[name] = column(value) if is_bias else value
        return converted


def check_ring_gradients(problem: Problem) -> float:
    """The ring's averaged gradient against two-sided differences of the *full-batch* cost (float64)."""
    X, Y = problem.data["X"].astype(np.float64), problem.data["Y"].astype(np.float64)
    params = gradient_check_point(problem)
    activation = problem.hyper["hidden_activation"]
    _, grads, _ = sdp.data_parallel_loss_and_grads(params, X, Y, problem.hyper["n_workers"],
                                                   hidden_activation=activation)

    def cost(point: dict[str, np.ndarray]) -> float:
        ZL, _ = dn.L_model_logits(X, point, hidden_activation=activation, check=False)
        return float(dn.cost_from_logits(ZL, Y))

    return gradient_check_n(cost, params, grads)


EQUATIONS = (
    r"g_k = \frac{1}{m_k}\sum_{i \in S_k} \nabla \ell^{(i)}, \qquad S_k = \{k,\ k + N,\ k + 2N, \ldots\}",
    r"g = \sum_{k=0}^{N-1} \frac{1}{N}\, g_k = \frac{1}{m}\sum_{i=1}^{m} \nabla \ell^{(i)} = \nabla J "
    r"\quad (m_k = m / N)",
    r"W := W - \alpha\, g \quad \text{on every worker: the copies stay identical}",
    r"\text{ring: each worker sends } 2\,\frac{N-1}{N}\, L \text{ elements per all-reduce of } L",
)
NOTES = (
    "DDP averages gradients, it does not change them: with equal shards the average of the workers' mean "
    "gradients is the full-batch gradient, so both scratch sides (the simulated ring and plain full-batch "
    "training) follow DDP's trajectory to rounding. The one difference is the order of the additions: the "
    "full-batch gradient sums all m terms inside one matrix product; DDP sums m/N terms per rank, scales each "
    "rank's gradient by 1/N as it copies it into its bucket, and gloo's all-reduce adds the N partial sums; the "
    "scratch ring adds chunk c in the order g_c, g_{c+1}, ... round the ring. For N = 2 the sum of two numbers "
    "does not depend on the order and 1/2 is exact, so the ring and gloo give bit-identical sums; for N = 4 "
    "they may round differently. The logged loss is the mean of the ranks' shard losses on both sides. Where "
    "data parallelism is not full-batch training (BatchNorm, dropout, uneven shards) is shown in "
    "docs/data_parallel.md and the study."
)


def _register(kind: str, n_workers: int) -> None:
    def problem(seed: int, dtype: np.dtype) -> Problem:
        return make_problem(seed, dtype, n_workers=n_workers)

    ring = kind == "ring"
    scratch_side = "simulated ring all-reduce" if ring else "single-process full-batch training"
    register(Case(
        concept="data_parallel",
        variant=f"{kind}_{n_workers}workers",
        summary=f"DDP on {n_workers} gloo processes vs scratch {scratch_side}; tanh {LAYER_DIMS}, flower {M} x 2",
        make_problem=problem,
        scratch=ScratchRing if ring else ScratchDeepNet,
        torch=TorchDataParallel,
        steps=STEPS,
        gradient_check=check_ring_gradients if ring else check_gradients,
        devices=("cpu", "cuda") if torch.cuda.device_count() >= n_workers else ("cpu",),
        equations=EQUATIONS,
        notes=NOTES,
        scratch_source=(sdp.shard_indices, sdp.chunk_bounds, sdp.ring_all_reduce, sdp.data_parallel_loss_and_grads),
        torch_source=(tdp.setup, tdp.shard_loader, tdp.build, tdp.train_epoch, tdp.train),
        stages=STAGES if ring else (),
        notebook=ring and n_workers == 2,
    ))


for _n in WORKER_COUNTS:
    _register("ring", _n)
    _register("full_batch", _n)
