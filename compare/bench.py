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

Every timing is :func:`compare.timing.time_step`: warm-up, then the median and quartiles of repeated
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

from compare.devices import numpy_dtype, resolve_device, torch_dtype
from compare.environment import environment
from compare.io import StagedResults, atomic_write_json, atomic_write_text
from compare.parity import compare_trajectories, tolerance
from compare.registry import Case, select
from compare.runner import run_trajectories
from compare.timing import Timing, cuda_sync, pin_threads, thread_settings, time_step

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


TARGET = DensePoint(m=4096, width=1024, depth=4)


def plan(*, quick: bool, dtypes: Sequence[str], devices: Sequence[str], clock: str = "wall") -> Plan:
    """The sweeps; ``clock`` is ``"wall"`` or ``"cpu"`` (process CPU time: one thread, CPU devices only)."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
    if clock == "cpu" and "cuda" in devices:
        raise ValueError("clock 'cpu' counts host CPU seconds and cannot time CUDA work; use --device cpu")
    if quick:
        return Plan(True, tuple(dtypes), tuple(devices), DensePoint(256, 16, 2), (64, 256), (16, 64), (2,),
                    None, (256,), (64, 256), 10_000, 0.02, 3, 0.3, clock)
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


def peaks(frame: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """Best matmul GFLOP/s per ``(backend, device, dtype)``."""
    matmul = frame[frame["section"] == "matmul_peak"]
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


# --- every registered concept at its default size --------------------------------------------------------------

def concept_rows(plan_: Plan, cases: Sequence[Case]) -> list[dict[str, object]]:
    """Every case in every dtype; ``--quick`` takes the first variant of each concept in the first dtype."""
    if plan_.quick:
        cases = list({case.concept: case for case in reversed(cases)}.values())
    rows = []
    for case in cases:
        for dtype in plan_.dtypes[:1] if plan_.quick else plan_.dtypes:
            problem = case.make_problem(0, numpy_dtype(dtype))
            m = int(problem.data["X"].shape[1]) if "X" in problem.data else None
            for backend, device in _backends(plan_):
                if device not in case.devices:
                    continue
                trainer = case.scratch(problem) if backend == "numpy" else case.torch(problem, torch.device(device))
                rows.append(_row("concept", case.name, backend, device, dtype, _time(plan_, trainer.step, device),
                                 m=m))
    return rows


# --- the lectures' vectorization demos ----------------------------------------------------------------------

def vectorization_rows(plan_: Plan) -> list[dict[str, object]]:
    """Loop vs vectorized: the logistic-regression gradient (``propagate``) and the dot product."""
    import scratch.logistic_regression as lr
    from compare.datasets import make_blobs

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
    from compare.runner import run_case

    started = time.perf_counter()
    results = [run_case(case, timed=False) for case in cases]
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
    from compare.speed_report import speed_markdown, speed_plots

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
                     ("optimizer implementations", lambda: optimizer_rows(plan_))]
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
    with StagedResults(Path(out_dir)) as stage:
        frame.to_csv(stage / "speed.csv", index=False, float_format="%.6g")
        images = speed_plots(frame, stage / "plots")
        atomic_write_text(stage / "speed.md", speed_markdown(frame, env, plan_, images))
        atomic_write_json(stage / "speed.json", {"environment": env, "threads": thread_settings()})
    return frame
