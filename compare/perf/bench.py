"""``make bench``: seconds per training step of NumPy, torch CPU and torch CUDA, and how close they get to
the machine's own matmul peak.

Sections (each a ``section`` value in ``speed.csv``; method and reading guide in ``docs/benchmarks.md``):

- ``matmul_peak``: square ``n x n`` matmuls, GFLOP/s = ``2 n^3 / seconds``, per backend and dtype; the
  best size is the peak the dense-net rows are compared with.
- ``dense``: the deep net (``compare/cases/deep_net.py``) trained full-batch with SGD, one factor at a
  time around a base point (batch ``m``, then ``width``, then ``depth``), plus the target point
  ``m=4096, width=1024, depth=4``. Achieved GFLOP/s counts forward and backward matmuls
  (:func:`dense_flops`) and is quoted as a fraction of the same backend's matmul peak.
- ``optimizer``: torch's SGD implementations (for-loop, ``foreach``, ``fused``) and ``torch.compile`` at
  the base point, each parity-checked against the scratch net over a few steps.
- ``concept``: every registered case at its own default size (``python -m compare run``'s problems).
- ``vectorization``: the lectures' loop-vs-vectorized logistic regression and dot product.
- ``dispatch``: the fixed cost of one tiny op in NumPy and torch (what dominates at ``m = 64``).
- ``parity_suite``: wall time of every parity comparison (``python -m compare run``), full mode only.
- ``targets``: the issue's targets at the target point, float32 CPU: the target-shaped matmul and the
  training step of both backends timed in interleaved rounds, so that the fraction of peak and the
  numpy/torch ratio compare measurements taken under the same load; :func:`target_verdicts` turns them
  (and the thread settings and the parity-suite time) into PASS/MISS lines.

Every timing is :func:`compare.perf.timing.time_step`: warm-up, then the median and quartiles of repeated
blocks, CUDA synchronised, NumPy's BLAS and torch pinned to the same thread count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_info

from compare.core.devices import numpy_dtype, resolve_device, torch_dtype
from compare.core.parity import compare_trajectories, tolerance
from compare.core.registry import Case, select
from compare.core.runner import run_trajectories
from compare.perf.timing import Timing, cuda_sync, pin_threads, thread_settings, time_step
from compare.report.environment import environment
from compare.report.io import StagedResults, atomic_write_json, atomic_write_text

COLUMNS = ["section", "name", "backend", "device", "dtype", "m", "width", "depth", "seconds", "q25", "q75",
           "samples", "per_block", "flops", "gflops", "peak_gflops", "fraction_of_peak", "parity_max_rel",
           "parity_passed", "note"]


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


def _row(section: str, name: str, backend: str, device: str, dtype: str, timing: Timing | None, *,
         m: int | None = None, width: int | None = None, depth: int | None = None, flops: float | None = None,
         note: str = "") -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(COLUMNS)
    row.update(section=section, name=name, backend=backend, device=device, dtype=dtype, m=m, width=width,
               depth=depth, flops=flops, note=note)
    if timing is not None:
        row.update(seconds=timing.median, q25=timing.q25, q75=timing.q75, samples=timing.samples,
                   per_block=timing.per_block)
        if flops:
            row["gflops"] = flops / timing.median / 1e9
    return row


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def _time(plan_: Plan, step: Callable[[], None], device: str = "cpu") -> Timing:
    return time_step(step, sync=cuda_sync(torch.device(device)), block_seconds=plan_.block_seconds,
                     samples=plan_.samples, max_seconds=plan_.max_seconds, clock=CLOCKS[plan_.clock])


def _backends(plan_: Plan) -> list[tuple[str, str]]:
    """``(backend, device)`` pairs: NumPy, torch on CPU, torch on CUDA when requested."""
    return [("numpy", "cpu")] + [("torch", device) for device in plan_.devices]


# --- matmul peak -------------------------------------------------------------------------------------------

def matmul_rows(plan_: Plan) -> list[dict[str, object]]:
    """GFLOP/s of ``C = A @ B`` for square matrices, per backend, dtype and size."""
    rows = []
    for backend, device in _backends(plan_):
        for dtype in plan_.dtypes:
            for n in plan_.matmul_sizes:
                rng = np.random.default_rng(0)
                a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
                if backend == "numpy":
                    out = np.empty_like(a)
                    step = lambda a=a, b=b, out=out: np.matmul(a, b, out=out)  # noqa: E731
                else:
                    ta, tb = (torch.from_numpy(x).to(device) for x in (a, b))
                    tout = torch.empty_like(ta)
                    step = lambda ta=ta, tb=tb, tout=tout: torch.matmul(ta, tb, out=tout)  # noqa: E731
                rows.append(_row("matmul_peak", f"matmul {n}x{n}", backend, device, dtype, _time(plan_, step, device),
                                 width=n, flops=2 * n**3))
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

def _deep_net():
    """The networks concept module, imported only when deep-net rows are asked for."""
    import compare.cases.deep_net as deep_net

    return deep_net


def dense_problem(point: DensePoint, dtype: str, seed: int = 0):
    return _deep_net().deep_problem(seed, numpy_dtype(dtype), m=point.m, layer_dims=point.layer_dims,
                                    hidden_activation="relu", init="he", learning_rate=0.01)


def dense_case() -> Case:
    """A registered deep-net case: its parity machinery checks the optimizer rows on the bench's problems."""
    return select(["deep_net"])[0]


def dense_rows(plan_: Plan) -> list[dict[str, object]]:
    """Every dense point of the plan, in every dtype, on every backend."""
    deep_net = _deep_net()
    rows = []
    for point in plan_.dense_points():
        flops = dense_flops(point.layer_dims, point.m)
        for dtype in plan_.dtypes:
            problem = dense_problem(point, dtype)
            for backend, device in _backends(plan_):
                if backend == "numpy":
                    trainer = deep_net.ScratchDeepNet(problem)
                else:
                    trainer = torch_dense_trainer(problem, torch.device(device))
                timing = _time(plan_, trainer.step, device)
                rows.append(_row("dense", "target" if point == plan_.target else "sweep", backend, device,
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
                factory = _variant_factory(kwargs, compiled)
                try:
                    parity = _variant_parity(case, problem, factory, device, parity_steps)
                    timing = _time(plan_, factory(problem, torch.device(device)).step, device)
                except Exception as error:  # a variant this torch build or device lacks: say so, keep going
                    rows.append(_row("optimizer", name, "torch", device, dtype, None, m=point.m,
                                     width=point.width, depth=point.depth,
                                     note=f"unavailable: {type(error).__name__}: {str(error)[:120]}"))
                    continue
                row = _row("optimizer", name, "torch", device, dtype, timing, m=point.m, width=point.width,
                           depth=point.depth, flops=dense_flops(point.layer_dims, point.m))
                row.update(parity_max_rel=parity.max_rel_overall, parity_passed=parity.passed)
                rows.append(row)
    return rows


def torch_dense_trainer(problem, device: torch.device, *, sgd_kwargs: dict[str, object] | None = None,
                        compiled: bool = False):
    """The idiomatic torch side of ``problem``, with a chosen SGD implementation and optionally compiled.

    Without arguments it is the registered deep-net case's own torch trainer (SGD with torch's default
    implementation choice).
    """
    deep_net = _deep_net()
    make_optimizer = None
    if sgd_kwargs is not None:
        def make_optimizer(parameters):
            return torch.optim.SGD(parameters, lr=problem.hyper["learning_rate"], **sgd_kwargs)
    trainer = deep_net.TorchDeepNet(problem, device, make_optimizer=make_optimizer)
    if compiled:
        trainer.model = torch.compile(trainer.model)  # shares the parameters the mapping observes
    return trainer


def _variant_factory(sgd_kwargs: dict[str, object], compiled: bool):
    def factory(problem, device: torch.device):
        return torch_dense_trainer(problem, device, sgd_kwargs=sgd_kwargs, compiled=compiled)
    return factory


def _variant_parity(case: Case, problem, factory, device: str, steps: int):
    variant = replace(case, make_problem=lambda seed, dtype: problem, torch=factory)
    ours, theirs = run_trajectories(variant, problem.seed, str(problem.dtype), torch.device(device), steps)
    return compare_trajectories(ours, theirs, tolerance(str(problem.dtype), device, case.tolerance_factor))


# --- the targets -----------------------------------------------------------------------------------

#: The issue's goals for the scratch float32 step at the target point.
MIN_FRACTION_OF_PEAK = 0.60
MAX_NUMPY_OVER_TORCH = 1.10
MAX_PARITY_SUITE_SECONDS = 60.0
FRACTION_GOAL = f">= {MIN_FRACTION_OF_PEAK:.0%}"
RATIO_GOAL = f"numpy / torch time <= {MAX_NUMPY_OVER_TORCH}"


def numpy_blas() -> list[dict[str, object]]:
    """The BLAS NumPy itself uses (the library inside NumPy's install, e.g. a wheel's ``numpy.libs``) and
    its thread count; every loaded BLAS when none lies there (a system or conda NumPy).

    Other BLAS copies may be loaded too (SciPy's, pulled in by scikit-learn) and keep their own thread
    counts; the timed NumPy code never calls them, so they must not decide the thread-equality check.
    """
    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    own = [info for info in blas if str(info.get("filepath", "")).startswith(str(Path(np.__file__).parent))]
    return [{"library": info.get("internal_api"), "version": info.get("version"), "threads": info.get("num_threads"),
             "filepath": info.get("filepath")} for info in own or blas]


def interleaved_timings(steps: dict[str, Callable[[], object]], *, rounds: int, block_seconds: float,
                        clock: Callable[[], float] = time.perf_counter, warmup: int = 2) -> dict[str, Timing]:
    """Time several steps in interleaved rounds (one block of each per round), median and quartiles per step.

    On a shared machine the load drifts; timing ``a`` for a minute and then ``b`` for a minute compares two
    different machines. Interleaving exposes every step to the same drift, so ratios of the medians (a
    fraction of peak, numpy/torch) stay meaningful even when the absolute times do not.
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
    bulk of the step's work) and one training step, NumPy and torch, interleaved (:func:`interleaved_timings`).
    """
    point = plan_.target
    n, m = point.width, point.m
    deep_net = _deep_net()
    problem = dense_problem(point, dtype)
    rng = np.random.default_rng(0)
    W, A = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, m)).astype(dtype)
    out = np.empty((n, m), dtype=dtype)
    tW, tA = torch.from_numpy(W), torch.from_numpy(A)
    tout = torch.empty_like(tA)
    steps = {
        ("matmul", "numpy"): lambda: np.matmul(W, A, out=out),
        ("matmul", "torch"): lambda: torch.matmul(tW, tA, out=tout),
        ("step", "numpy"): deep_net.ScratchDeepNet(problem).step,
        ("step", "torch"): torch_dense_trainer(problem, torch.device("cpu")).step,
    }
    timings = interleaved_timings(steps, rounds=plan_.samples, block_seconds=plan_.block_seconds,
                                  clock=CLOCKS[plan_.clock])
    flops = {"matmul": 2 * n * n * m, "step": dense_flops(point.layer_dims, m)}
    names = {"matmul": f"matmul ({n}x{n}) @ ({n}x{m})", "step": "dense training step"}
    return [_row("targets", names[kind], backend, "cpu", dtype, timing, m=m, width=n, depth=point.depth,
                 flops=flops[kind], note="interleaved rounds")
            for (kind, backend), timing in timings.items()]


def _verdict(target: str, measured: float | None, goal: str, passed: bool | None, text: str) -> dict[str, object]:
    verdict = "n/a" if passed is None else ("PASS" if passed else "MISS")
    return {"target": target, "measured": measured, "shown": text, "goal": goal, "verdict": verdict}


def target_verdicts(frame: pd.DataFrame, env: dict[str, object]) -> list[dict[str, object]]:
    """The issue's targets as ``{target, measured, shown, goal, verdict}``, all computed from ``frame``/``env``.

    ``verdict`` is PASS or MISS (``n/a`` when the run did not measure it, e.g. no parity suite in
    ``--quick``). The fraction of peak uses :func:`peaks` (the higher of the square and target-shaped
    matmul), the numpy/torch ratio the interleaved medians of the ``targets`` section.
    """
    verdicts = []
    rows = frame[frame["section"] == "targets"]
    step = rows[rows["name"] == "dense training step"].set_index("backend")
    if {"numpy", "torch"} <= set(step.index):
        numpy_row, torch_row = step.loc["numpy"], step.loc["torch"]
        point = f"{numpy_row['dtype']}, m={numpy_row['m']}, width={numpy_row['width']}, depth={numpy_row['depth']}"
        fraction = float(numpy_row["fraction_of_peak"])
        verdicts.append(_verdict(
            f"scratch NumPy step ({point}) vs NumPy's matmul peak", fraction,
            FRACTION_GOAL, fraction >= MIN_FRACTION_OF_PEAK,
            f"{fraction:.1%} ({numpy_row['gflops']:.1f} of {numpy_row['peak_gflops']:.1f} GFLOP/s)"))
        ratio = float(numpy_row["seconds"] / torch_row["seconds"])
        shown = (f"{ratio:.3f} ({numpy_row['seconds'] * 1e3:.1f} ms vs {torch_row['seconds'] * 1e3:.1f} ms; "
                 f"torch at {float(torch_row['fraction_of_peak']):.1%} of its peak)")
        verdicts.append(_verdict(f"scratch NumPy step vs torch CPU eager ({point})", ratio, RATIO_GOAL,
                                 ratio <= MAX_NUMPY_OVER_TORCH, shown))
    else:
        for target, goal in (("scratch NumPy step vs NumPy's matmul peak", FRACTION_GOAL),
                             ("scratch NumPy step vs torch CPU eager", RATIO_GOAL)):
            verdicts.append(_verdict(target, None, goal, None, "not measured (deep_net not benchmarked)"))
    blas = {entry["threads"] for entry in env.get("numpy_blas", [])}
    torch_threads = env.get("threads", {}).get("torch_threads")
    verdicts.append(_verdict("NumPy's BLAS and torch use the same thread count", None, "equal",
                             blas == {torch_threads},
                             f"NumPy's BLAS {', '.join(map(str, sorted(blas)))}, torch {torch_threads}"))
    suite = frame[frame["section"] == "parity_suite"]
    if suite.empty:
        verdicts.append(_verdict("`python -m compare run` (parity suite) time", None,
                                 f"< {MAX_PARITY_SUITE_SECONDS:.0f} s", None, "not measured (--quick)"))
    else:
        seconds = float(suite["seconds"].iloc[0])
        verdicts.append(_verdict("`python -m compare run` (parity suite) time", seconds,
                                 f"< {MAX_PARITY_SUITE_SECONDS:.0f} s", seconds < MAX_PARITY_SUITE_SECONDS,
                                 f"{seconds:.1f} s ({suite['note'].iloc[0]})"))
    return verdicts


# --- every registered concept at its default size --------------------------------------------------------------

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
                trainer = case.scratch(problem) if backend == "numpy" else case.torch(problem, torch.device(device))
                rows.append(_row("concept", case.name, backend, device, dtype,
                                 _time(timing_plan, trainer.step, device), m=m))
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
            rows.append(_row("vectorization", f"logistic regression {name}", "numpy", "cpu", "float64",
                             _time(plan_, step), m=m, width=10))
    rng = np.random.default_rng(0)
    a, b_vec = rng.random(plan_.dot_size), rng.random(plan_.dot_size)

    def dot_loop() -> float:
        total = 0.0
        for i in range(len(a)):
            total += a[i] * b_vec[i]
        return total

    rows.append(_row("vectorization", "dot product for-loop", "numpy", "cpu", "float64", _time(plan_, dot_loop),
                     m=plan_.dot_size))
    rows.append(_row("vectorization", "dot product np.dot", "numpy", "cpu", "float64",
                     _time(plan_, lambda: np.dot(a, b_vec)), m=plan_.dot_size))
    return rows


def dispatch_rows(plan_: Plan) -> list[dict[str, object]]:
    """The fixed cost of one tiny elementwise op: ``x + y`` on 64 elements, NumPy and torch eager."""
    rows = []
    for backend, device in _backends(plan_):
        for dtype in plan_.dtypes:
            x = np.ones(64, dtype=dtype)
            if backend == "numpy":
                out = np.empty_like(x)
                step = lambda x=x, out=out: np.add(x, x, out=out)  # noqa: E731
            else:
                tx = torch.ones(64, dtype=torch_dtype(dtype), device=device)
                tout = torch.empty_like(tx)
                step = lambda tx=tx, tout=tout: torch.add(tx, tx, out=tout)  # noqa: E731
            rows.append(_row("dispatch", "x + y, 64 elements", backend, device, dtype, _time(plan_, step, device),
                             m=64))
    return rows


def parity_suite_row(cases: Sequence[Case]) -> dict[str, object]:
    """Wall time of ``python -m compare run --no-timing`` (the given cases, float64 CPU, default sizes)."""
    from compare.core.runner import run_case

    started = time.perf_counter()
    results = [run_case(case) for case in cases]
    elapsed = time.perf_counter() - started
    passed = sum(r.parity.passed for r in results)
    row = _row("parity_suite", f"python -m compare run --no-timing ({len(results)} cases)", "both", "cpu", "float64",
               Timing(elapsed, elapsed, elapsed, 1, 1), note=f"{passed}/{len(results)} passed")
    row["parity_passed"] = passed == len(results)
    return row


# --- putting it together ---------------------------------------------------------------------------------------

def add_fractions(frame: pd.DataFrame) -> pd.DataFrame:
    """``peak_gflops`` and ``fraction_of_peak`` for every row that counts FLOPs."""
    best = peaks(frame)
    for index, row in frame.iterrows():
        peak = best.get((row["backend"], row["device"], row["dtype"]))
        if peak and isinstance(row["gflops"], float) and not math.isnan(row["gflops"]):
            frame.at[index, "peak_gflops"] = peak
            frame.at[index, "fraction_of_peak"] = row["gflops"] / peak
    return frame


def run_bench(out_dir: Path, *, concepts: Sequence[str] = (), device: str = "auto",
              dtypes: Sequence[str] = ("float32", "float64"), quick: bool = False, threads: int | None = None,
              clock: str = "wall",
              progress: Callable[[str], None] = lambda message: None) -> pd.DataFrame:
    """Measure everything the plan asks for and write ``speed.csv``, ``speed.md``, ``speed.json`` and plots
    into ``out_dir`` (atomically: an interrupted run leaves earlier files untouched)."""
    from compare.perf.speed_report import speed_markdown, speed_plots

    cases = select(concepts)
    names = {case.concept for case in cases}
    torch_devices = ["cpu"] + (["cuda"] if resolve_device(device).type == "cuda" else [])
    threads = pin_threads(threads)
    plan_ = plan(quick=quick, dtypes=[str(numpy_dtype(d)) for d in dtypes], devices=torch_devices, clock=clock)
    started = time.perf_counter()
    sections: list[tuple[str, Callable[[], list[dict[str, object]]]]] = [
        ("matmul peak", lambda: matmul_rows(plan_)),
        ("dispatch overhead", lambda: dispatch_rows(plan_)),
        ("concepts at default size", lambda: concept_rows(plan_, cases)),
    ]
    if "logistic_regression" in names:
        sections.append(("loop vs vectorized", lambda: vectorization_rows(plan_)))
    if "deep_net" in names:
        sections += [("dense-net sweeps", lambda: dense_rows(plan_)),
                     ("optimizer implementations", lambda: optimizer_rows(plan_)),
                     ("targets (interleaved)", lambda: target_rows(plan_))]
    if not quick:
        sections.append(("parity suite", lambda: [parity_suite_row(cases)]))
    rows: list[dict[str, object]] = []
    for title, measure in sections:
        section_started = time.perf_counter()
        rows += measure()
        progress(f"bench: {title} ({time.perf_counter() - section_started:.1f}s)")
    frame = add_fractions(pd.DataFrame(rows, columns=COLUMNS))
    frame = frame.astype({column: "Int64" for column in ("m", "width", "depth", "samples", "per_block")})
    env = environment()
    env["threads_pinned"] = threads
    env["bench_seconds"] = time.perf_counter() - started
    env["quick"] = quick
    env["clock"] = clock
    env["numpy_blas"] = numpy_blas()
    verdicts = target_verdicts(frame, env)
    for verdict in verdicts:
        progress(f"target: {verdict['target']}: {verdict['shown']} (goal {verdict['goal']}): {verdict['verdict']}")
    with StagedResults(Path(out_dir)) as stage:
        frame.to_csv(stage / "speed.csv", index=False, float_format="%.6g")
        images = speed_plots(frame, stage / "plots")
        atomic_write_text(stage / "speed.md", speed_markdown(frame, env, plan_, images, verdicts))
        atomic_write_json(stage / "speed.json", {"environment": env, "threads": thread_settings(),
                                                 "targets": verdicts})
    return frame
