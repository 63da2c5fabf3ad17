"""Data parallelism from scratch: N simulated workers, each with a shard of the batch, and a ring all-reduce.

One data-parallel step of gradient descent on the L-layer net of :mod:`scratch.deep_net`:

1. **Shard.** The batch ``X`` ``(n_x, m)`` is split over N workers by columns, the way PyTorch's
   ``DistributedSampler(shuffle=False)`` deals it out: worker k gets examples ``k, k + N, k + 2N, ...``
   (:func:`shard_indices`), ``m_k`` of them.
2. **Local gradients.** Every worker holds the same parameters and computes the gradient of the mean loss over
   its own shard, ``g_k = (1/m_k) sum_{i in shard k} grad l_i`` (the course's backward pass, unchanged).
3. **All-reduce.** Each worker scales its flattened gradient by a weight ``w_k`` and the workers sum the
   scaled vectors with a **ring all-reduce** (:func:`ring_all_reduce`) so that every worker ends with
   ``g = sum_k w_k g_k``. PyTorch's ``DistributedDataParallel`` uses ``w_k = 1/N`` ("workers" weighting).
4. **Update.** Every worker applies the same update to its copy of the parameters, so the copies stay equal.

Why this is the full-batch step (on paper). With equal shards (``m_k = m / N``)::

    sum_k (1/N) g_k = sum_k (1/N) (N/m) sum_{i in shard k} grad l_i = (1/m) sum_{i=1}^{m} grad l_i = grad J

because the shards partition the batch and the loss is a mean of per-example terms that do not interact.
So the averaged gradient is the gradient of the full-batch cost, and the update is the single-worker
full-batch update. The one thing that changes is the **order of the floating-point additions**: the full-batch
gradient sums the m terms inside one matrix product (``dZ A^T``), here each worker sums its m/N terms and the
ring then adds the N partial sums, chunk c in the order ``g_c, g_{c+1}, ..., g_{c-1}`` round the ring
(:func:`ring_all_reduce`). Addition in floating point is not associative, so the results differ at rounding
level (a few units of roundoff of the terms per step); nothing else differs.

Where it is *not* the full-batch step:

- **Uneven last shards.** With ``m`` not divisible by N the shards differ in size, and ``w_k = 1/N`` gives the
  mean of the workers' means: an example in a small shard weighs ``1/(N m_k)``, more than ``1/m``. The exact
  full-batch gradient needs ``w_k = m_k / m`` ("examples" weighting here; in PyTorch, a loss summed per
  worker and divided by the global m). ``DistributedSampler`` instead pads the last shards with repeated
  examples (``drop_last=False``) or drops the tail (``drop_last=True``): either way a different batch.
- **BatchNorm.** Each worker normalises with the mean and variance of its own shard, not of the batch:
  a different function of the data, unless the statistics are all-reduced too (``nn.SyncBatchNorm``).
- **Dropout.** Each worker draws its own masks; the union of the workers' masks is one valid draw for the
  whole batch, but not the one a single process with the same seed draws.
- Anything else computed from the batch as a whole (a loss that couples examples, gradient clipping of each
  worker's gradient before the average) also differs.

Communication of the ring: a vector of L elements is cut into N chunks (:func:`chunk_bounds`, sizes differ by
at most one when N does not divide L). In the reduce-scatter each worker sends N - 1 chunks and adds what it
receives; in the all-gather it sends N - 1 fully reduced chunks and copies what it receives. Each worker sends
about ``2 (N - 1) / N * L`` elements whatever N, which is why the ring is bandwidth-optimal;
:class:`RingTraffic` counts the bytes actually sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scratch.deep_net import check_inputs, loss_and_grads
from scratch.validation import ANY_SHAPE, as_float_array, check_finite, check_positive_int, float_inputs

#: How the workers' gradients are weighted in the sum: ``1/N`` each (DDP), or ``m_k / m`` (the batch mean).
WEIGHTINGS = ("workers", "examples")


def chunk_bounds(length: int, n_chunks: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of ``n_chunks`` contiguous chunks covering ``range(length)``.

    The first ``length % n_chunks`` chunks hold one element more (``np.array_split``'s rule); chunks are
    empty when ``length < n_chunks``.
    """
    check_positive_int("n_chunks", n_chunks)
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")
    base, extra = divmod(int(length), n_chunks)
    bounds, start = [], 0
    for c in range(n_chunks):
        stop = start + base + (1 if c < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


@dataclass
class RingTraffic:
    """What one ring all-reduce sent: ``sent_bytes[k]`` by worker k, over ``rounds`` rounds of messages."""

    sent_bytes: list[int]
    rounds: int
    vector_bytes: int

    @property
    def per_worker_fraction(self) -> float:
        """Bytes sent by the busiest worker over the vector's size: ``2 (N - 1) / N`` when N divides L."""
        return max(self.sent_bytes) / self.vector_bytes if self.vector_bytes else 0.0


def ring_all_reduce(buffers: Sequence[np.ndarray]) -> tuple[list[np.ndarray], RingTraffic]:
    """Sum ``buffers`` (one per worker, same shape and dtype) with a ring; every worker gets the sum.

    Worker k talks only to worker k + 1 (mod N). The flattened vector is cut into N chunks.

    - Reduce-scatter, rounds s = 0 .. N-2: worker k sends chunk ``(k - s) mod N`` to worker k + 1, which adds
      it to its own copy of that chunk. After N - 1 rounds worker k holds the complete sum of chunk
      ``(k + 1) mod N``; chunk c was summed in the order ``g_c, then + g_{c+1}, ..., then + g_{c-1}``.
    - All-gather, rounds s = 0 .. N-2: worker k sends chunk ``(k + 1 - s) mod N`` (complete) to worker k + 1,
      which overwrites its copy. Afterwards every worker holds every complete chunk, bit-identical.

    Messages of one round are taken before any is applied (the workers send at the same time). Returns new
    arrays (the inputs are not modified) and the :class:`RingTraffic`. Each buffer follows the input dtype
    policy (integers and booleans become float64, float16 is refused) and must be finite.
    """
    n = len(buffers)
    if n == 0:
        raise ValueError("buffers must hold one array per worker; got none")
    arrays = [as_float_array(f"buffers[{k}]", b) for k, b in enumerate(buffers)]
    for k, array in enumerate(arrays):
        check_finite(f"buffers[{k}]", array)
    shape, dtype = arrays[0].shape, arrays[0].dtype
    for k, array in enumerate(arrays):
        if array.shape != shape or array.dtype != dtype:
            raise ValueError(f"buffers[{k}] is {array.dtype} {array.shape}; every worker's buffer must be "
                             f"{dtype} {shape} like buffers[0]")
    work = [array.reshape(-1).copy() for array in arrays]
    chunks = [slice(start, stop) for start, stop in chunk_bounds(work[0].size, n)]
    sent = [0] * n
    for s in range(n - 1):  # reduce-scatter
        messages = [work[k][chunks[(k - s) % n]].copy() for k in range(n)]
        for k in range(n):
            sent[k] += messages[k].nbytes
            work[(k + 1) % n][chunks[(k - s) % n]] += messages[k]
    for s in range(n - 1):  # all-gather
        messages = [work[k][chunks[(k + 1 - s) % n]].copy() for k in range(n)]
        for k in range(n):
            sent[k] += messages[k].nbytes
            work[(k + 1) % n][chunks[(k + 1 - s) % n]] = messages[k]
    traffic = RingTraffic(sent, 2 * (n - 1), work[0].nbytes)
    return [w.reshape(shape) for w in work], traffic


def shard_indices(m: int, n_workers: int) -> list[np.ndarray]:
    """Worker k's example indices ``k, k + N, k + 2N, ... < m`` (``DistributedSampler(shuffle=False)`` without
    its padding); the first ``m % N`` workers get one example more. Every worker needs at least one."""
    check_positive_int("m", m)
    check_positive_int("n_workers", n_workers)
    if n_workers > m:
        raise ValueError(f"n_workers ({n_workers}) must not exceed the number of examples m ({m}): a worker "
                         f"with an empty shard has no gradient")
    return [np.arange(k, m, n_workers) for k in range(n_workers)]


@float_inputs(grads=ANY_SHAPE)
def flatten(grads: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """The gradients ``d<name>`` for ``names`` as one vector (what an all-reduce sends)."""
    return np.concatenate([grads[f"d{name}"].reshape(-1) for name in names])


@float_inputs(vector=1)
def unflatten(vector: np.ndarray, like: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{"d<name>": array}`` shaped like ``like[name]``, cut from ``vector`` in ``like``'s order."""
    grads, start = {}, 0
    for name, value in like.items():
        shape = np.shape(value)
        size = int(np.prod(shape))
        grads[f"d{name}"] = vector[start:start + size].reshape(shape)
        start += size
    if start != vector.size:
        raise ValueError(f"vector has {vector.size} elements; the parameters hold {start}")
    return grads


def worker_weights(shard_sizes: Sequence[int], weighting: str) -> list[float]:
    """``w_k``: ``1/N`` for every worker ("workers", as DDP), or ``m_k / m`` ("examples", the batch mean)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    n, m = len(shard_sizes), sum(shard_sizes)
    return [1.0 / n] * n if weighting == "workers" else [size / m for size in shard_sizes]


@float_inputs(params=2, X=2, Y=2)
def data_parallel_loss_and_grads(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, n_workers: int,
                                 *, hidden_activation: str = "relu", weighting: str = "workers",
                                 check: bool = True) -> tuple[float, dict[str, np.ndarray], RingTraffic]:
    """The cost and gradients of one data-parallel step, and the ring's traffic.

    Worker k computes ``(J_k, g_k) = loss_and_grads(params, X[:, shard_k], Y[:, shard_k])``; the workers'
    ``w_k g_k`` (flattened) are summed by :func:`ring_all_reduce`. The cost is ``sum_k w_k J_k`` (the logged
    loss; it takes no part in the update). With equal shards either weighting gives the full-batch gradient
    up to the order of summation (see the module docstring). Returns worker 0's copy of the sum (all are equal).
    The inputs are validated once, on the whole batch (as :func:`scratch.deep_net.loss_and_grads` does);
    ``check=False`` skips that, for loops whose inputs were validated once.
    """
    if check:
        check_inputs(X, params, hidden_activation, Y)
    shards = shard_indices(X.shape[1], n_workers)
    weights = worker_weights([len(shard) for shard in shards], weighting)
    names = list(params)
    costs, scaled = [], []
    for shard, weight in zip(shards, weights, strict=True):
        X_k, Y_k = X[:, shard], Y[:, shard]
        cost, grads = loss_and_grads(params, X_k, Y_k, hidden_activation=hidden_activation, check=False)
        costs.append(float(cost))
        scaled.append(flatten(grads, names) * X.dtype.type(weight))
    reduced, traffic = ring_all_reduce(scaled)
    cost = sum(weight * cost for weight, cost in zip(weights, costs, strict=True))
    return cost, unflatten(reduced[0], params), traffic
