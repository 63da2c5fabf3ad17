"""Study: the ring all-reduce (picture, schedule, bytes sent) and the order of summation in data-parallel training.

- The ring for N = 4 drawn, and the schedule of which chunk each worker sends in each round.
- Bytes sent per worker by :func:`scratch.data_parallel.ring_all_reduce` for the case's gradient (its own
  count), against ``2 (N - 1) / N`` times the gradient's size, and gloo's measured time per all-reduce of
  vectors from the gradient's size up to 10^6 elements (``torch.distributed`` reports no byte counts).
- The summation-order effect: over the case's steps (float64, seed 0), the largest relative difference of the
  parameters between every pair of: scratch full batch, scratch ring, torch full batch (one process), DDP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

import scratch.data_parallel as sdp
import scratch.deep_net as dn
from compare.cases import data_parallel as dpc
from compare.cases.networks import ScratchDeepNet, TorchDeepNet
from compare.core.parity import relative_difference
from compare.core.problem import Trainer
from compare.report.studies import Study, StudyContext, StudyOutput, register_study
from compare.report.tables import markdown_table

SEED = 0
QUICK_STEPS = 20
SIZES = (337, 10_000, 100_000, 1_000_000)


def draw_ring(path: str, n: int = 4) -> None:
    """N workers on a circle, each sending to the next; the chunks each holds after the reduce-scatter."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    angles = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    xs, ys = np.cos(angles), np.sin(angles)
    for k in range(n):
        j = (k + 1) % n
        ax.annotate("", xy=(0.82 * xs[j] + 0.18 * xs[k], 0.82 * ys[j] + 0.18 * ys[k]),
                    xytext=(0.82 * xs[k] + 0.18 * xs[j], 0.82 * ys[k] + 0.18 * ys[j]),
                    arrowprops={"arrowstyle": "->", "lw": 2, "color": "tab:blue"})
        ax.add_patch(plt.Circle((xs[k], ys[k]), 0.2, color="tab:orange", alpha=0.8))
        ax.text(xs[k], ys[k], f"worker {k}\nsum of\nchunk {(k + 1) % n}", ha="center", va="center", fontsize=8)
    ax.text(0, 0, f"N = {n}: vector cut into {n} chunks\nreduce-scatter: {n - 1} rounds, send one chunk, add\n"
            f"all-gather: {n - 1} rounds, send one chunk, copy", ha="center", va="center", fontsize=8)
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def schedule_table(n: int = 4) -> str:
    """Which chunk worker k sends to worker k + 1 in each round (the rule of :func:`sdp.ring_all_reduce`)."""
    rows = []
    for phase, offset in (("reduce-scatter (add)", 0), ("all-gather (copy)", 1)):
        for s in range(n - 1):
            rows.append({"round": f"{phase} {s + 1}",
                         **{f"worker {k} sends": f"chunk {(k + offset - s) % n}" for k in range(n)}})
    return markdown_table(pd.DataFrame(rows))


def traffic_rows(problem_params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> list[dict[str, object]]:
    """The ring's own byte count for one step's gradient, for N = 2, 3, 4, 8."""
    rows = []
    for n in (2, 3, 4, 8):
        _, _, traffic = sdp.data_parallel_loss_and_grads(problem_params, X, Y, n, hidden_activation="tanh")
        rows.append({"N": n, "gradient bytes": traffic.vector_bytes, "sent per worker (max)": max(traffic.sent_bytes),
                     "sent / gradient": traffic.per_worker_fraction, "2 (N - 1) / N": 2 * (n - 1) / n})
    return rows


def timing_rows(world_size: int) -> list[dict[str, object]]:
    """gloo's seconds per all-reduce of float64 vectors of :data:`SIZES` elements on ``world_size`` ranks."""
    rows = []
    for length in SIZES:
        repeats = max(3, min(200, 2_000_000 // length))
        with dpc.borrowed_group(world_size) as group:
            seconds = max(reply[1] for reply in group.request("time_all_reduce", length, repeats, "float64"))
        bytes_sent = 2 * (world_size - 1) / world_size * 8 * length
        rows.append({"ranks": world_size, "elements": length, "s per all-reduce": seconds,
                     "ring bytes per rank": bytes_sent, "MB/s per rank": bytes_sent / seconds / 1e6})
    return rows


def _train(side: Trainer, steps: int) -> dict[str, np.ndarray]:
    """Each observed array (gradients and parameters) stacked over the steps: ``{key: (steps, ...)}``."""
    observed: dict[str, list[np.ndarray]] = {}
    for _ in range(steps):
        side.step()
        for key, value in side.observe().arrays.items():
            observed.setdefault(key, []).append(np.array(value, copy=True))  # scratch updates in place
    return {key: np.stack(values) for key, values in observed.items()}


def _max_rel(a: dict[str, np.ndarray], b: dict[str, np.ndarray], category: str) -> float:
    """The harness's figure: the largest ``max|a - b| / max|b|`` over the arrays of ``category``."""
    return max(relative_difference(a[key], b[key])[1] for key in a if key.startswith(f"{category}."))


def order_table(steps: int) -> str:
    """Max relative differences of gradients and parameters between the four ways of training, N = 2 and 4."""
    rows = []
    for n in dpc.WORKER_COUNTS:
        problem = dpc.make_problem(SEED, np.dtype("float64"), n_workers=n)
        runs = {"scratch full batch": _train(ScratchDeepNet(problem), steps),
                f"scratch ring N={n}": _train(dpc.ScratchRing(problem), steps),
                "torch full batch": _train(TorchDeepNet(problem, torch.device("cpu")), steps),
                f"DDP N={n}": _train(dpc.TorchDataParallel(problem, torch.device("cpu")), steps)}
        names = list(runs)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                rows.append({"N": n, "a": a, "b": b, "grad": _max_rel(runs[a], runs[b], "grad"),
                             "param": _max_rel(runs[a], runs[b], "param")})
    return markdown_table(pd.DataFrame(rows), ".1e")


def run(context: StudyContext) -> StudyOutput:
    steps = QUICK_STEPS if context.quick else dpc.STEPS
    draw_ring(context.plot("data_parallel_ring.png"))
    problem = dpc.make_problem(SEED, np.dtype("float64"), n_workers=2)
    traffic = markdown_table(pd.DataFrame(traffic_rows(problem.params, problem.data["X"], problem.data["Y"])), ".3g")
    timing = markdown_table(pd.DataFrame(timing_rows(2) + ([] if context.quick else timing_rows(4))), ".3g")
    first_grads = dn.loss_and_grads(problem.params, problem.data["X"], problem.data["Y"], hidden_activation="tanh")[1]
    markdown = "\n".join([
        "![the ring](plots/data_parallel_ring.png)", "",
        "Which chunk each worker sends in each round (N = 4): after the reduce-scatter worker k holds the full sum "
        "of chunk k + 1, summed in the order g_{k+1}, g_{k+2}, ... round the ring; the all-gather copies the sums "
        "round.", "", schedule_table(), "",
        f"**Communication per step**, counted by the scratch ring itself for the case's gradient "
        f"({sum(v.size for v in first_grads.values())} float64 numbers): each worker sends 2 (N - 1) / N of the "
        f"gradient's size, whatever N (uneven chunks when N does not divide it, so the fraction is then close to, "
        f"not exactly, the formula).", "", traffic, "",
        "`torch.distributed` reports no byte counts; the time of gloo's all-reduce on the loopback, per call "
        "(max over the ranks), for growing vectors: a small gradient costs the fixed latency of the rounds, "
        "a large one grows with the bytes each rank sends. (Ranks share this machine's cores.)", "", timing, "",
        f"**The order of summation** over {steps} steps (float64, seed {SEED}): the largest relative difference "
        "(max|a - b| / max|b| per array, the harness's figure) of the gradients and of the parameters along the "
        "whole trajectory. All four train the same model on the same batch; they differ only "
        "in the order of the floating-point additions of the gradient (one matrix product over the batch, or "
        "per-worker sums then the all-reduce in the ring's or gloo's order) and in NumPy's vs torch's kernels. "
        "The differences stay at rounding level: that is the only effect of data parallelism on equal shards.",
        "", order_table(steps),
    ])
    return StudyOutput(markdown + "\n", ("plots/data_parallel_ring.png",))


register_study(Study("data_parallel_ring", "data_parallel",
                     "Data parallelism: the ring, its traffic, and the order of summation", run, seconds=13))
