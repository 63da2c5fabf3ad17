"""``make bench``: seconds per training step of scratch (NumPy), torch CPU and torch CUDA, and how close they
get to the machine's own matmul peak.

:func:`run_bench` measures and returns a :class:`BenchResult` (a frame of rows plus the target verdicts and
the thread settings in force); :mod:`compare.report.speed` renders and writes it. Sections (each a
``section`` value of the frame; method and reading guide in ``docs/benchmarks.md``):

- ``matmul_peak``: square ``n x n`` matmuls, GFLOP/s = ``2 n^3 / seconds``, per backend and dtype; the
  best size is the peak the dense-net rows are compared with.
- ``dense``: the registered deep-net case's trainers (:data:`DENSE_CASE`) trained full-batch with SGD on
  problems of the bench's sizes (:func:`dense_problem`), one factor at a time around a base point (batch
  ``m``, then ``width``, then ``depth``), plus the target point ``m=4096, width=1024, depth=4``. Achieved
  GFLOP/s counts forward and backward matmuls (:func:`dense_flops`) and is quoted as a fraction of the same
  backend's matmul peak.
- ``optimizer``: torch's SGD implementations (for-loop, ``foreach``, ``fused``) and ``torch.compile`` at
  the base point, each parity-checked against the scratch net over a few steps.
- ``concept``: every registered case at its own default size (``python -m compare run``'s problems).
- ``microbench``: what a selected concept brings of its own (:mod:`compare.perf.microbench`): the conv
  layer's three scratch implementations against ``F.conv2d``, the LSTM against ``nn.LSTM``, ...
- ``vectorization``: the lectures' loop-vs-vectorized logistic regression and dot product.
- ``dispatch``: the fixed cost of one tiny op in NumPy and torch (what dominates at ``m = 64``).
- ``parity_suite``: wall time of every parity comparison (``python -m compare run``), full mode only.
- ``targets``: the speed goals at the target point, float32 CPU: the target-shaped matmul and the
  training step of both sides timed in interleaved rounds, so that the fraction of peak and the
  scratch/torch ratio compare measurements taken under the same load; :func:`target_verdicts` turns them
  (and the thread settings and the parity-suite time) into PASS/MISS lines.

The ``backend`` column names the side: ``scratch`` (NumPy) or ``torch``; the ``matmul_peak`` and
``dispatch`` rows of ``scratch`` time NumPy itself, the library the scratch side computes with.
Every timing is :func:`compare.perf.timing.time_step`: warm-up, then the median and quartiles of repeated
blocks, CUDA synchronised, NumPy's BLAS and torch pinned to the same thread count.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from compare.core.devices import numpy_dtype, resolve_device, torch_dtype
from compare.core.parity import compare_trajectories, tolerance
from compare.core.problem import Problem, Trainer
from compare.core.registry import Case, select
from compare.core.runner import run_trajectories
from compare.core.sweep import Ranks, deal_by_cost, gather_sweep, gather_to_leader, run_share
from compare.core.trainers import TorchTrainer
from compare.data.datasets import make_blobs
from compare.perf.microbench import CLOCKS, COLUMNS, bench_row, concept_benches, time_on, verdict
from compare.perf.timing import RenewingSteps, Timing, numpy_blas, pinned_cores, pinned_threads, thread_settings
from scratch.initialization import initialize_parameters

#: The ranks of a bench in one process.
SINGLE_PROCESS = Ranks()
INT_COLUMNS = ("m", "width", "depth", "samples", "per_block", "rank")
FLOAT_COLUMNS = ("seconds", "q25", "q75", "flops", "gflops", "peak_gflops", "fraction_of_peak", "parity_max_rel")


@dataclass(frozen=True)
class DensePoint:
    """A dense net: ``depth`` weight layers (the course's L), ``width`` units per hidden layer, ``n_x = width``
    inputs, one sigmoid output unit, batch ``m``: ``layer_dims = [width] * depth + [1]``."""

    m: int
    width: int
    depth: int

    @property
    def layer_dims(self) -> list[int]:
        return [self.width] * self.depth + [1]


@dataclass(frozen=True)
class Plan:
    """What one bench run measures; :func:`plan` builds the full and the ``--quick`` versions."""

    quick: bool
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    base: DensePoint
    m_sweep: tuple[int, ...]
    width_sweep: tuple[int, ...]
    depth_sweep: tuple[int, ...]
    target: DensePoint | None
    matmul_sizes: tuple[int, ...]
    lr_sizes: tuple[int, ...]
    dot_size: int
    block_seconds: float
    samples: int
    max_seconds: float
    clock: str = "wall"

    def dense_points(self) -> list[DensePoint]:
        """Base point, one-factor-at-a-time sweeps around it, then the target; no duplicates."""
        points = [replace(self.base, m=m) for m in self.m_sweep]
        points += [replace(self.base, width=w) for w in self.width_sweep]
        points += [replace(self.base, depth=d) for d in self.depth_sweep]
        points += [self.target] if self.target else []
        return list(dict.fromkeys(points))

    def brief(self) -> Plan:
        """Shorter timing for the ~200 small rows of the concept section (steps of 0.1-2 ms): 0.02 s blocks
        still hold 10-200 steps, and 7 blocks of 0.2 s each would make that section alone take minutes."""
        return replace(self, block_seconds=min(self.block_seconds, 0.02), samples=min(self.samples, 5))


TARGET = DensePoint(m=4096, width=1024, depth=4)
#: ``--quick``'s stand-in for :data:`TARGET` (a smoke test of the targets machinery; its verdicts prove nothing).
QUICK_TARGET = DensePoint(m=512, width=256, depth=4)


def plan(*, quick: bool, dtypes: Sequence[str], devices: Sequence[str], clock: str = "wall") -> Plan:
    """The sweeps; ``clock`` is ``"wall"`` or ``"cpu"`` (process CPU time: one thread, CPU devices only)."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
    if clock == "cpu" and "cuda" in devices:
        raise ValueError("clock 'cpu' counts host CPU seconds and cannot time CUDA work; use --device cpu")
    if quick:
        return Plan(True, tuple(dtypes), tuple(devices), DensePoint(256, 16, 2), (64, 256), (16, 64), (2,),
                    QUICK_TARGET, (256,), (64, 256), 10_000, 0.02, 3, 0.3, clock)
    return Plan(False, tuple(dtypes), tuple(devices), DensePoint(1024, 128, 4), (64, 256, 1024, 4096, 16384),
                (16, 128, 512, 2048), (2, 4, 8), TARGET, (1024, 2048), (64, 256, 1024, 4096), 1_000_000,
                0.2, 7, 8.0, clock)


def dense_flops(layer_dims: Sequence[int], m: int) -> int:
    """FLOPs of one full-batch training step of a dense net, counted as a BLAS-bound step does the work.

    Per layer ``l`` with ``Z[l] = W[l] A[l-1] + b[l]`` of shape ``(n_l, m)``: forward ``2 m n_l n_{l-1}``,
    ``dW[l] = dZ[l] A[l-1]^T`` another ``2 m n_l n_{l-1}`` and ``dA[l-1] = W[l]^T dZ[l]`` another
    ``2 m n_l n_{l-1}`` except for layer 1 (the input needs no gradient; torch skips it, so scratch must
    too to keep up). Elementwise work, small beside the matmuls, is counted as ``5 m n_l`` per layer
    (bias, activation, its derivative, the product with it, ``db``) plus ``2`` per parameter for the update.
    """
    matmul = sum(6 * m * n * n_prev for n_prev, n in zip(layer_dims[:-1], layer_dims[1:], strict=True))
    matmul -= 2 * m * layer_dims[1] * layer_dims[0]
    elementwise = sum(5 * m * n for n in layer_dims[1:])
    update = sum(2 * (n * n_prev + n) for n_prev, n in zip(layer_dims[:-1], layer_dims[1:], strict=True))
    return matmul + elementwise + update


def _backends(plan_: Plan) -> list[tuple[str, str]]:
    """``(backend, device)`` pairs: scratch (NumPy), torch on CPU, torch on CUDA when requested."""
    return [("scratch", "cpu")] + [("torch", device) for device in plan_.devices]


# --- matmul peak -------------------------------------------------------------------------------------------

def matmul_rows(plan_: Plan) -> list[dict[str, object]]:
    """GFLOP/s of ``C = A @ B`` for square matrices, per backend, dtype and size."""
    rows = []
    for backend, device in _backends(plan_):
        for dtype in plan_.dtypes:
            for n in plan_.matmul_sizes:
                rng = np.random.default_rng(0)
                a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
                if backend == "scratch":
                    out = np.empty_like(a)
                    step = lambda a=a, b=b, out=out: np.matmul(a, b, out=out)  # noqa: E731
                else:
                    ta, tb = (torch.from_numpy(x).to(device) for x in (a, b))
                    tout = torch.empty_like(ta)
                    step = lambda ta=ta, tb=tb, tout=tout: torch.matmul(ta, tb, out=tout)  # noqa: E731
                rows.append(bench_row("matmul_peak", f"matmul {n}x{n}", backend, device, dtype,
                                      time_on(plan_, step, device), width=n, flops=2 * n**3))
    return rows


def peak_candidates(frame: pd.DataFrame) -> pd.DataFrame:
    """The matmul rows a peak is taken from: the square sizes and the targets section's own matmul shape."""
    return frame[(frame["section"] == "matmul_peak")
                 | ((frame["section"] == "targets") & frame["name"].str.startswith("matmul"))]


def peaks(frame: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """Best matmul GFLOP/s per ``(backend, device, dtype)`` over :func:`peak_candidates`.

    Taking the highest makes every ``fraction_of_peak`` the conservative (lower) one.
    """
    matmul = peak_candidates(frame)
    return {key: float(group["gflops"].max()) for key, group in matmul.groupby(["backend", "device", "dtype"])}


# --- the deep net --------------------------------------------------------------------------------------------

#: The registered case whose trainers the dense rows time: ReLU hidden layers, He init, full-batch SGD.
DENSE_CASE = "deep_net/relu_depth4"
#: Learning rate of the bench's dense problems: small enough that 5 parity steps of a 2048-wide net stay finite.
DENSE_LEARNING_RATE = 0.01


def dense_case() -> Case:
    """The registered deep-net case: its trainers are timed and its tolerance checks the optimizer rows."""
    return select([DENSE_CASE])[0]


def dense_problem(point: DensePoint, dtype: str, seed: int = 0) -> Problem:
    """A problem in the deep-net case's layout at the bench's size: ``m`` blobs with ``width`` features,
    He-initialised ``layer_dims = [width] * depth + [1]``, ReLU hidden layers.

    ``hyper`` carries what the case's trainers read (``learning_rate``, ``hidden_activation``,
    ``layer_dims``, ``init``). The weights come from their own random stream, apart from the data's.
    """
    dims = point.layer_dims
    data = make_blobs(m=point.m, n_x=dims[0], seed=seed)
    params = initialize_parameters(dims, method="he", rng=np.random.default_rng([seed, 1]), dtype=numpy_dtype(dtype))
    arrays = {"X": np.ascontiguousarray(data.X, dtype=dtype), "Y": np.ascontiguousarray(data.Y, dtype=dtype)}
    hyper = {"learning_rate": DENSE_LEARNING_RATE, "hidden_activation": "relu", "layer_dims": dims, "init": "he"}
    return Problem(seed, numpy_dtype(dtype), arrays, params, hyper)


def dense_rows(plan_: Plan) -> list[dict[str, object]]:
    """Every dense point of the plan, in every dtype, on every backend."""
    case = dense_case()
    rows = []
    for point in plan_.dense_points():
        flops = dense_flops(point.layer_dims, point.m)
        for dtype in plan_.dtypes:
            problem = dense_problem(point, dtype)
            for backend, device in _backends(plan_):
                if backend == "scratch":
                    trainer = case.scratch(problem)
                else:
                    trainer = case.torch(problem, torch.device(device))
                timing = time_on(plan_, trainer.step, device)
                rows.append(bench_row("dense", "target" if point == plan_.target else "sweep", backend, device,
                                      dtype, timing, m=point.m, width=point.width, depth=point.depth, flops=flops))
                del trainer
    return rows


#: ``(name, SGD keyword arguments, compile the model)``: the implementations torch offers.
SGD_VARIANTS: tuple[tuple[str, dict[str, object], bool], ...] = (
    ("SGD for-loop", {"foreach": False}, False),
    ("SGD foreach", {"foreach": True}, False),
    ("SGD fused", {"fused": True}, False),
    ("torch.compile(model) + SGD foreach", {"foreach": True}, True),
)


def optimizer_rows(plan_: Plan, *, parity_steps: int = 5) -> list[dict[str, object]]:
    """torch optimizer implementations and ``torch.compile`` at the base point, each parity-checked."""
    case = dense_case()
    point = plan_.base
    rows = []
    for device in plan_.devices:
        for dtype in plan_.dtypes:
            problem = dense_problem(point, dtype)
            for name, kwargs, compiled in SGD_VARIANTS:
                if compiled and plan_.quick:
                    continue
                factory = _variant_factory(case, kwargs, compiled)
                try:
                    parity = _variant_parity(case, problem, factory, device, parity_steps)
                    timing = time_on(plan_, factory(problem, torch.device(device)).step, device)
                except Exception as error:  # a variant this torch build or device lacks: say so, keep going
                    rows.append(bench_row("optimizer", name, "torch", device, dtype, None, m=point.m,
                                          width=point.width, depth=point.depth,
                                          note=f"unavailable: {type(error).__name__}: {str(error)[:120]}"))
                    continue
                row = bench_row("optimizer", name, "torch", device, dtype, timing, m=point.m, width=point.width,
                                depth=point.depth, flops=dense_flops(point.layer_dims, point.m))
                row.update(parity_max_rel=parity.max_rel_overall, parity_passed=parity.passed)
                rows.append(row)
    return rows


def torch_dense_trainer(case: Case, problem: Problem, device: torch.device, *,
                        sgd_kwargs: dict[str, object] | None = None, compiled: bool = False) -> Trainer:
    """``case``'s torch trainer on ``problem``, with a chosen SGD implementation and optionally compiled.

    Without arguments it is the case's own torch trainer (SGD with torch's default implementation choice).
    The optimizer and the model are swapped on the trainer (a :class:`compare.core.trainers.TorchTrainer`),
    so the parameter map it observes stays the same.
    """
    trainer = case.torch(problem, device)
    if sgd_kwargs is None and not compiled:
        return trainer
    if not isinstance(trainer, TorchTrainer):
        raise TypeError(f"case {case.name}'s torch trainer must be a TorchTrainer to swap its optimizer or "
                        f"compile its model, got {type(trainer).__name__}")
    if sgd_kwargs is not None:
        trainer.optimizer = torch.optim.SGD(trainer.model.parameters(), lr=problem.hyper["learning_rate"],
                                            **sgd_kwargs)
    if compiled:
        trainer.model = torch.compile(trainer.model)  # shares the parameters the mapping observes
    return trainer


def _variant_factory(case: Case, sgd_kwargs: dict[str, object], compiled: bool):
    def factory(problem: Problem, device: torch.device) -> Trainer:
        return torch_dense_trainer(case, problem, device, sgd_kwargs=sgd_kwargs, compiled=compiled)
    return factory


def _variant_parity(case: Case, problem: Problem, factory, device: str, steps: int):
    variant = replace(case, make_problem=lambda seed, dtype: problem, torch=factory)
    scratch_run, torch_run = run_trajectories(variant, problem.seed, str(problem.dtype), torch.device(device), steps)
    return compare_trajectories(scratch_run, torch_run,
                                tolerance(str(problem.dtype), device, case.tolerance_factor))


# --- the speed goals at the target point ---------------------------------------------------------------------

#: Goals for the scratch float32 step at the target point: close to NumPy's own matmul peak, and no slower
#: than torch's eager CPU step by more than 10%; the parity comparisons short enough to run on every change.
MIN_FRACTION_OF_PEAK = 0.60
MAX_SCRATCH_OVER_TORCH = 1.10
MAX_PARITY_SUITE_SECONDS = 60.0
FRACTION_GOAL = f">= {MIN_FRACTION_OF_PEAK:.0%}"
RATIO_GOAL = f"scratch / torch time <= {MAX_SCRATCH_OVER_TORCH}"


def interleaved_timings(steps: dict[str, Callable[[], object]], *, rounds: int, block_seconds: float,
                        clock: Callable[[], float] = time.perf_counter, warmup: int = 2) -> dict[str, Timing]:
    """Time several steps in interleaved rounds (one block of each per round), median and quartiles per step.

    On a shared machine the load drifts; timing ``a`` for a minute and then ``b`` for a minute compares two
    different machines. Interleaving exposes every step to the same drift, so ratios of the medians (a
    fraction of peak, scratch/torch) stay meaningful even when the absolute times do not.
    """
    per_block = {}
    for name, step in steps.items():
        for _ in range(warmup):
            step()
        start = clock()
        step()
        per_block[name] = max(1, int(block_seconds / max(clock() - start, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = clock()
            for _ in range(per_block[name]):
                step()
            samples[name].append((clock() - start) / per_block[name])
    timings = {}
    for name, values in samples.items():
        q25, median, q75 = np.percentile(values, [25, 50, 75])
        timings[name] = Timing(float(median), float(q25), float(q75), rounds, per_block[name])
    return timings


def target_rows(plan_: Plan, dtype: str = "float32") -> list[dict[str, object]]:
    """The target point on the CPU: ``W @ A`` of the target's hidden-layer shape (``(n, n) @ (n, m)``, the
    bulk of the step's work) and one training step, scratch and torch, interleaved (:func:`interleaved_timings`).
    """
    point = plan_.target
    n, m = point.width, point.m
    case = dense_case()
    problem = dense_problem(point, dtype)
    rng = np.random.default_rng(0)
    W, A = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, m)).astype(dtype)
    out = np.empty((n, m), dtype=dtype)
    tW, tA = torch.from_numpy(W), torch.from_numpy(A)
    tout = torch.empty_like(tA)
    steps = {
        ("matmul", "scratch"): lambda: np.matmul(W, A, out=out),
        ("matmul", "torch"): lambda: torch.matmul(tW, tA, out=tout),
        ("step", "scratch"): case.scratch(problem).step,
        ("step", "torch"): case.torch(problem, torch.device("cpu")).step,
    }
    timings = interleaved_timings(steps, rounds=plan_.samples, block_seconds=plan_.block_seconds,
                                  clock=CLOCKS[plan_.clock])
    flops = {"matmul": 2 * n * n * m, "step": dense_flops(point.layer_dims, m)}
    names = {"matmul": f"matmul ({n}x{n}) @ ({n}x{m})", "step": "dense training step"}
    return [bench_row("targets", names[kind], backend, "cpu", dtype, timing, m=m, width=n, depth=point.depth,
                      flops=flops[kind], note="interleaved rounds")
            for (kind, backend), timing in timings.items()]


def target_verdicts(frame: pd.DataFrame, threads: dict[str, object]) -> list[dict[str, object]]:
    """The speed goals as ``{target, measured, shown, goal, verdict}``, computed from ``frame`` and the
    ``threads`` in force while it was measured (:func:`compare.perf.timing.thread_settings`).

    ``verdict`` is PASS or MISS (``n/a`` when the run did not measure it, e.g. no parity suite in
    ``--quick``). The fraction of peak uses :func:`peaks` (the higher of the square and target-shaped
    matmul), the scratch/torch ratio the interleaved medians of the ``targets`` section.
    """
    return [*_step_verdicts(frame), _thread_verdict([threads]), _parity_suite_verdict(frame)]


def _step_verdicts(frame: pd.DataFrame) -> list[dict[str, object]]:
    rows = frame[frame["section"] == "targets"]
    step = rows[rows["name"] == "dense training step"].set_index("backend")
    if not {"scratch", "torch"} <= set(step.index):
        return [verdict(target, None, goal, None, "not measured (deep_net not benchmarked)")
                for target, goal in (("scratch step vs NumPy's matmul peak", FRACTION_GOAL),
                                     ("scratch step vs torch CPU eager", RATIO_GOAL))]
    scratch_row, torch_row = step.loc["scratch"], step.loc["torch"]
    point = f"{scratch_row['dtype']}, m={scratch_row['m']}, width={scratch_row['width']}, depth={scratch_row['depth']}"
    fraction = float(scratch_row["fraction_of_peak"])
    ratio = float(scratch_row["seconds"] / torch_row["seconds"])
    return [
        verdict(f"scratch step ({point}) vs NumPy's matmul peak", fraction, FRACTION_GOAL,
                 fraction >= MIN_FRACTION_OF_PEAK,
                 f"{fraction:.1%} ({scratch_row['gflops']:.1f} of {scratch_row['peak_gflops']:.1f} GFLOP/s)"),
        verdict(f"scratch step vs torch CPU eager ({point})", ratio, RATIO_GOAL, ratio <= MAX_SCRATCH_OVER_TORCH,
                 f"{ratio:.3f} ({scratch_row['seconds'] * 1e3:.1f} ms vs {torch_row['seconds'] * 1e3:.1f} ms; "
                 f"torch at {float(torch_row['fraction_of_peak']):.1%} of its peak)"),
    ]


def _thread_verdict(settings: Sequence[dict[str, object]]) -> dict[str, object]:
    """PASS when every process that timed rows (each rank of a spread bench) gave both libraries one count."""
    shown, passed = [], True
    for rank, threads in enumerate(settings):
        blas = {entry["threads"] for entry in numpy_blas(threads)}
        torch_threads = threads.get("torch_threads")
        passed = passed and blas == {torch_threads}
        shown.append(("" if len(settings) == 1 else f"rank {rank}: ")
                     + f"NumPy's BLAS {', '.join(map(str, sorted(blas)))}, torch {torch_threads}")
    return verdict("NumPy's BLAS and torch use the same thread count", None, "equal", passed, "; ".join(shown))


def _parity_suite_verdict(frame: pd.DataFrame) -> dict[str, object]:
    target = "parity comparisons in-process (no start-up, gradient checks or timing)"
    goal = f"< {MAX_PARITY_SUITE_SECONDS:.0f} s"
    suite = frame[frame["section"] == "parity_suite"]
    if suite.empty:
        return verdict(target, None, goal, None, "not measured (--quick)")
    seconds = float(suite["seconds"].iloc[0])
    return verdict(target, seconds, goal, seconds < MAX_PARITY_SUITE_SECONDS,
                    f"{seconds:.1f} s ({suite['note'].iloc[0]})")


# --- every registered concept at its default size --------------------------------------------------------------

def _trainer(case: Case, problem: Problem, backend: str, device: str) -> Trainer:
    return case.scratch(problem) if backend == "scratch" else case.torch(problem, torch.device(device))


def concept_rows(plan_: Plan, cases: Sequence[Case]) -> list[dict[str, object]]:
    """Every case in every dtype; ``--quick`` takes the first variant of each concept in the first dtype."""
    if plan_.quick:
        cases = list({case.concept: case for case in reversed(cases)}.values())
    rows = []
    timing_plan = plan_.brief()
    for case in cases:
        for dtype in plan_.dtypes[:1] if plan_.quick else plan_.dtypes:
            problem = case.make_problem(0, numpy_dtype(dtype))
            m = int(problem.data["X"].shape[1]) if "X" in problem.data else None
            for backend, device in _backends(plan_):
                if device not in case.devices:
                    continue
                steps = RenewingSteps(functools.partial(_trainer, case, problem, backend, device))
                rows.append(bench_row("concept", case.name, backend, device, dtype, time_on(timing_plan, steps, device),
                                      m=m))
    return rows


# --- the lectures' vectorization demos ----------------------------------------------------------------------

def vectorization_rows(plan_: Plan) -> list[dict[str, object]]:
    """Loop vs vectorized: the logistic-regression gradient (``propagate``) and the dot product."""
    import scratch.logistic_regression as lr
    from compare.data.datasets import make_blobs

    rows = []
    for m in plan_.lr_sizes:
        data = make_blobs(m=m, n_x=10, seed=0)
        X, Y = data.X.astype(np.float64), data.Y.astype(np.float64)
        w, b = np.full((10, 1), 0.01), np.float64(0.0)
        for name, step in (("propagate_loop", lambda X=X, Y=Y, w=w, b=b: lr.propagate_loop(w, b, X, Y)),
                           ("propagate", lambda X=X, Y=Y, w=w, b=b: lr.propagate(w, b, X, Y, check=False))):
            rows.append(bench_row("vectorization", f"logistic regression {name}", "scratch", "cpu", "float64",
                                  time_on(plan_, step), m=m, width=10))
    rng = np.random.default_rng(0)
    a, b_vec = rng.random(plan_.dot_size), rng.random(plan_.dot_size)

    def dot_loop() -> float:
        total = 0.0
        for i in range(len(a)):
            total += a[i] * b_vec[i]
        return total

    rows.append(bench_row("vectorization", "dot product for-loop", "scratch", "cpu", "float64",
                          time_on(plan_, dot_loop), m=plan_.dot_size))
    rows.append(bench_row("vectorization", "dot product np.dot", "scratch", "cpu", "float64",
                          time_on(plan_, lambda: np.dot(a, b_vec)), m=plan_.dot_size))
    return rows


# --- recurrent networks --------------------------------------------------------------------------------------

def dispatch_rows(plan_: Plan) -> list[dict[str, object]]:
    """The fixed cost of one tiny elementwise op: ``x + y`` on 64 elements, NumPy (scratch's) and torch eager."""
    rows = []
    for backend, device in _backends(plan_):
        for dtype in plan_.dtypes:
            x = np.ones(64, dtype=dtype)
            if backend == "scratch":
                out = np.empty_like(x)
                step = lambda x=x, out=out: np.add(x, x, out=out)  # noqa: E731
            else:
                tx = torch.ones(64, dtype=torch_dtype(dtype), device=device)
                tout = torch.empty_like(tx)
                step = lambda tx=tx, tout=tout: torch.add(tx, tx, out=tout)  # noqa: E731
            rows.append(bench_row("dispatch", "x + y, 64 elements", backend, device, dtype,
                                  time_on(plan_, step, device), m=64))
    return rows


def parity_suite_row(cases: Sequence[Case]) -> dict[str, object]:
    """Wall time of the parity comparisons alone, in this process: ``run_case`` of the given cases (float64 CPU,
    default sizes). Not the ``python -m compare run`` command a user types, which adds the interpreter's start-up,
    the imports, the gradient checks and the timing."""
    from compare.core.runner import run_case

    started = time.perf_counter()
    results = [run_case(case) for case in cases]
    elapsed = time.perf_counter() - started
    passed = sum(r.parity.passed for r in results)
    row = bench_row("parity_suite", f"in-process parity comparisons ({len(results)} cases)", "both", "cpu", "float64",
                    Timing(elapsed, elapsed, elapsed, 1, 1), note=f"{passed}/{len(results)} passed")
    row["parity_passed"] = passed == len(results)
    return row


# --- putting it together ---------------------------------------------------------------------------------------

def add_fractions(frame: pd.DataFrame) -> pd.DataFrame:
    """``peak_gflops`` and ``fraction_of_peak`` for every row that counts FLOPs.

    In a spread bench each rank's rows are divided by that rank's own peak (its ``rank`` column): a peak taken
    on other cores, or with another thread count, would not be the limit the row was measured under."""
    for _, part in frame.groupby(frame["rank"].fillna(-1)):
        best = peaks(part)
        for index, row in part.iterrows():
            peak = best.get((row["backend"], row["device"], row["dtype"]))
            if peak and isinstance(row["gflops"], float) and not math.isnan(row["gflops"]):
                frame.at[index, "peak_gflops"] = peak
                frame.at[index, "fraction_of_peak"] = row["gflops"] / peak
    return frame


@dataclass(frozen=True)
class BenchResult:
    """What one bench run measured: the rows (:data:`COLUMNS`), the verdicts of :func:`target_verdicts`, the
    thread settings in force while timing (:func:`compare.perf.timing.thread_settings`), the thread count
    pinned, the run's wall seconds, ``quick``, the clock and the load average (1/5/15 min) at its end, which
    says how busy the machine was. A spread bench (``--jobs``, torchrun) adds ``ranks``: one
    :func:`rank_summary` per rank (its threads, cores, sections and seconds); ``threads`` and ``threads_pinned``
    are then rank 0's."""

    frame: pd.DataFrame
    verdicts: list[dict[str, object]]
    threads: dict[str, object]
    threads_pinned: int
    seconds: float
    quick: bool
    clock: str
    load_average: tuple[float, float, float]
    ranks: tuple[dict[str, object], ...] = ()

    def to_json(self) -> dict[str, object]:
        """Plain JSON values; missing cells become ``null``, :meth:`from_json` reads it back."""
        rows = self.frame.astype(object).where(self.frame.notna(), None).to_dict("records")
        value = {"rows": rows, "targets": self.verdicts, "threads": self.threads,
                 "threads_pinned": self.threads_pinned, "seconds": self.seconds, "quick": self.quick,
                 "clock": self.clock, "load_average": list(self.load_average)}
        return {**value, "ranks": list(self.ranks)} if self.ranks else value

    @classmethod
    def from_json(cls, value: dict[str, object]) -> BenchResult:
        return cls(bench_frame(value["rows"]), list(value["targets"]), dict(value["threads"]),
                   int(value["threads_pinned"]), float(value["seconds"]), bool(value["quick"]), str(value["clock"]),
                   tuple(value["load_average"]), tuple(value.get("ranks", ())))


def bench_frame(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """The rows as a frame with :data:`COLUMNS` and their types: a missing count is ``<NA>``, a missing float
    NaN, a missing text or ``parity_passed`` ``None``, whether the rows were just measured or read from JSON."""
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    frame = frame.astype({**{c: "float64" for c in FLOAT_COLUMNS}, **{c: "Int64" for c in INT_COLUMNS}})
    for column in set(COLUMNS) - set(FLOAT_COLUMNS) - set(INT_COLUMNS):
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna(), None)
    return frame


def run_bench(*, concepts: Sequence[str] = (), device: str = "auto", dtypes: Sequence[str] = ("float32", "float64"),
              quick: bool = False, threads: int | None = None, clock: str = "wall",
              progress: Callable[[str], None] = lambda message: None, ranks: Ranks = SINGLE_PROCESS
              ) -> BenchResult | None:
    """Measure everything the plan asks for, NumPy's BLAS and torch pinned to ``threads`` for the run only.

    With ``ranks`` of a spread bench, this process measures its share of the sections (:func:`spread_bench`)
    and rank 0 returns the whole result (the other ranks return None)."""
    cases = select(concepts)
    torch_devices = ["cpu"] + (["cuda"] if resolve_device(device).type == "cuda" else [])
    plan_ = plan(quick=quick, dtypes=[str(numpy_dtype(d)) for d in dtypes], devices=torch_devices, clock=clock)
    if ranks.spread:
        return spread_bench(plan_, cases, threads=threads, ranks=ranks, progress=progress)
    started = time.perf_counter()
    with pinned_threads(threads) as pinned:
        rows: list[dict[str, object]] = []
        for section in _sections(plan_, cases):
            section_started = time.perf_counter()
            rows += section.measure()
            progress(f"bench: {section.title} ({time.perf_counter() - section_started:.1f}s)")
        settings = thread_settings()
    frame = add_fractions(bench_frame(rows))
    verdicts = _verdicts(frame, [settings], cases, progress)
    return BenchResult(frame, verdicts, settings, pinned, time.perf_counter() - started, quick, clock,
                       os.getloadavg())


def _verdicts(frame: pd.DataFrame, settings: Sequence[dict[str, object]], cases: Sequence[Case],
              progress: Callable[[str], None]) -> list[dict[str, object]]:
    """:func:`target_verdicts` (its thread verdict over every rank's ``settings``) and the concepts' own."""
    verdicts = [*_step_verdicts(frame), _thread_verdict(settings), _parity_suite_verdict(frame)]
    verdicts += [line for bench in concept_benches({case.concept for case in cases}) if bench.verdicts is not None
                 for line in bench.verdicts(frame)]
    for line in verdicts:
        progress(f"target: {line['target']}: {line['shown']} (goal {line['goal']}): {line['verdict']}")
    return verdicts


@dataclass(frozen=True)
class Section:
    """One part of the bench: ``measure()`` returns its rows; ``seconds`` is its rough cost in this plan, by
    which a spread bench deals the sections to its ranks, longest first."""

    title: str
    measure: Callable[[], list[dict[str, object]]]
    seconds: float


def _sections(plan_: Plan, cases: Sequence[Case]) -> list[Section]:
    """The sections the plan and the chosen concepts call for, the matmul peak first (each rank of a spread
    bench measures its own, :func:`spread_bench`). The costs are each section's seconds in one ``make bench``
    and one ``bench --quick`` of every concept, measured on the 2-core development machine (2026-12-02)."""
    names = {case.concept for case in cases}

    def section(title: str, measure: Callable[[], list[dict[str, object]]], full: float, quick: float) -> Section:
        return Section(title, measure, quick if plan_.quick else full)

    sections = [
        section(PEAK_SECTION, lambda: matmul_rows(plan_), 15.0, 1.1),
        section("dispatch overhead", lambda: dispatch_rows(plan_), 3.0, 0.2),
        section("concepts at default size", lambda: concept_rows(plan_, cases), 66.0, 47.0),
    ]
    if "logistic_regression" in names:
        sections.append(section("loop vs vectorized", lambda: vectorization_rows(plan_), 15.0, 0.8))
    if "deep_net" in names:
        sections += [section("dense-net sweeps", lambda: dense_rows(plan_), 120.0, 12.2),
                     section("optimizer implementations", lambda: optimizer_rows(plan_), 21.0, 3.8),
                     section("targets (interleaved)", lambda: target_rows(plan_), 17.0, 3.2)]
    sections += [section(bench.title, functools.partial(bench.measure, plan_), bench.seconds, bench.quick_seconds)
                 for bench in concept_benches(names)]
    if not plan_.quick:
        sections.append(Section("parity suite", lambda: [parity_suite_row(cases)], 258.0))
    return sections


#: The first section: the matmul peak that every fraction of peak is measured against.
PEAK_SECTION = "matmul peak"


# --- a bench spread over processes (``bench --jobs N``, torchrun) ----------------------------------------------

def spread_bench(plan_: Plan, cases: Sequence[Case], *, threads: int | None, ranks: Ranks,
                 progress: Callable[[str], None]) -> BenchResult | None:
    """This rank's share of the sections, pinned to its own cores and threads; rank 0 returns the whole result.

    Each rank measures its own matmul peak first, under the same cores and threads as its other sections, and
    its rows' fractions of peak are against that peak (:func:`add_fractions`); the other sections are dealt out
    longest first by their declared seconds (:func:`bench_deal`). Every row carries the rank that measured it,
    and :func:`rank_summary` says what each rank ran on.
    """
    cores = ranks.cores(_available_cores())
    started = time.perf_counter()
    with pinned_cores(cores) as pinned_to, pinned_threads(threads or _rank_threads(ranks, cores)) as pinned:
        sections = _sections(plan_, cases)
        jobs = [sections[0]] * ranks.world + sections[1:]
        seconds: dict[str, float] = {}

        def run_one(index: int, section: Section) -> list[dict[str, object]]:
            section_started = time.perf_counter()
            rows = [{**row, "rank": ranks.rank} for row in section.measure()]
            seconds[section.title] = time.perf_counter() - section_started
            progress(f"{ranks.label()}bench: {section.title} ({seconds[section.title]:.1f}s)")
            return rows

        share = run_share(jobs, run_one, ranks, lambda section: section.title, deal=bench_deal(sections, ranks.world))
        settings = thread_settings()
    results = gather_sweep(share, ranks)
    summaries = gather_to_leader(rank_summary(ranks, pinned, pinned_to, settings, seconds), ranks)
    if results is None or summaries is None:
        return None
    frame = add_fractions(bench_frame([row for rows in results for row in rows]))
    verdicts = _verdicts(frame, [summary["thread_settings"] for summary in summaries], cases, progress)
    return BenchResult(frame, verdicts, settings, pinned, time.perf_counter() - started, plan_.quick, plan_.clock,
                       os.getloadavg(), tuple(summaries))


def bench_deal(sections: Sequence[Section], world: int) -> list[list[int]]:
    """Job indices per rank for the jobs ``[peak] * world + sections[1:]``: job ``r`` (the matmul peak) to rank
    ``r``, then the other sections longest first by their ``seconds``, each to the rank with the least so far
    (:func:`compare.core.sweep.deal_by_cost`; every rank starts with one peak, so their loads start equal)."""
    rest = deal_by_cost([section.seconds for section in sections[1:]], world)
    return [[rank] + [world + index for index in share] for rank, share in enumerate(rest)]


def _available_cores() -> list[int]:
    """The cores this process may run on (its affinity mask: a container or ``taskset`` may allow fewer than
    the machine has); every core where the OS offers no mask."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _rank_threads(ranks: Ranks, cores: list[int] | None) -> int:
    """One thread per core of the rank's own; one when the ranks share too few cores to have any of their own."""
    return len(cores) if cores else ranks.threads(len(_available_cores()))


def rank_summary(ranks: Ranks, threads: int, cores: list[int] | None, settings: dict[str, object],
                 seconds: dict[str, float]) -> dict[str, object]:
    """What one rank of a spread bench ran on: ``rank``, ``node`` (torchrun's ``GROUP_RANK``), ``local_rank``
    of ``local_world``, the ``threads`` pinned, the ``cores`` it was pinned to (``None``: not pinned, the
    machine has fewer cores than local ranks) and how many it could use, its ``sections`` with their seconds,
    their sum ``seconds`` (its own work, without the start-up and the waits for the other ranks) and its
    ``thread_settings``."""
    return {"rank": ranks.rank, "node": ranks.node, "local_rank": ranks.local_rank, "local_world": ranks.local_world,
            "threads": threads, "cores": cores, "available_cores": len(_available_cores()),
            "sections": {title: round(value, 3) for title, value in seconds.items()},
            "seconds": round(sum(seconds.values()), 3),
            "thread_settings": settings}
