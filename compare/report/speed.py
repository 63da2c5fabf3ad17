"""The speed report: ``speed.csv``, ``speed.json``, ``speed.md`` and ``plots/speed_*.png`` drawn from a
:class:`compare.perf.bench.BenchResult`.

``speed.json`` holds everything the tables are made from (the rows, the verdicts, the thread settings, the
environment and the plot links), so ``make report`` and the study site render the speed section from data
(:func:`load_speed`), never by reading ``speed.md`` back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from compare.perf.bench import BenchResult, peak_candidates  # noqa: E402
from compare.perf.microbench import MICROBENCH  # noqa: E402
from compare.perf.timing import numpy_blas  # noqa: E402
from compare.report.io import StagedResults, atomic_write_json, atomic_write_text  # noqa: E402
from compare.report.tables import markdown_table, ratio  # noqa: E402

SPEED_JSON = "speed.json"
BACKEND_STYLE = {("scratch", "cpu"): ("scratch", "tab:blue"), ("torch", "cpu"): ("torch CPU", "tab:orange"),
                 ("torch", "cuda"): ("torch CUDA", "tab:green")}
DTYPE_LINE = {"float32": "-", "float64": "--"}


def seconds_text(value: float) -> str:
    if pd.isna(value):
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _table(frame: pd.DataFrame) -> str:
    """Speed tables leave a cell blank where nothing was measured (e.g. no FLOP count for a concept row)."""
    return markdown_table(frame, ".3g", missing="")


def _label(backend: str, device: str) -> str:
    return BACKEND_STYLE.get((backend, device), (f"{backend} {device}", None))[0]


def _with_spread(frame: pd.DataFrame) -> pd.Series:
    """``median (q25-q75)`` as text: the spread says how far to trust a ratio on a busy machine."""
    return frame.apply(lambda r: f"{seconds_text(r['seconds'])} ({seconds_text(r['q25'])}–"
                                 f"{seconds_text(r['q75'])})", axis=1)


def base_point(frame: pd.DataFrame) -> tuple[int, int, int] | None:
    """The dense point every sweep passes through: the point that the most other sweep points differ from
    in at most one factor (the bench measures each point once, so counting rows cannot find it)."""
    dense = frame[(frame["section"] == "dense") & (frame["name"] == "sweep")]
    if dense.empty:
        return None
    points = {(int(m), int(w), int(d)) for m, w, d in zip(dense["m"], dense["width"], dense["depth"], strict=True)}

    def neighbours(point: tuple[int, int, int]) -> int:
        return sum(sum(a != b for a, b in zip(point, other, strict=True)) <= 1 for other in points)

    return max(sorted(points), key=neighbours)


def sweep(frame: pd.DataFrame, factor: str) -> pd.DataFrame:
    """Dense rows of the one-factor sweep over ``factor`` (the other two at the base point)."""
    base = base_point(frame)
    dense = frame[(frame["section"] == "dense") & (frame["name"] == "sweep")]
    if base is None:
        return dense
    fixed = dict(zip(("m", "width", "depth"), base, strict=True))
    for other, value in fixed.items():
        if other != factor:
            dense = dense[dense[other] == value]
    return dense.sort_values(factor)


def crossover(frame: pd.DataFrame) -> dict[str, int | None]:
    """Per dtype, the smallest batch of the m-sweep at which torch CUDA beats both CPU backends."""
    result: dict[str, int | None] = {}
    data = sweep(frame, "m")
    for dtype, group in data.groupby("dtype"):
        if "cuda" not in set(group["device"]):
            continue
        table = group.pivot_table(index="m", columns=["backend", "device"], values="seconds")
        cpu_best = table[[c for c in table.columns if c[1] == "cpu"]].min(axis=1)
        wins = table.index[table[("torch", "cuda")] < cpu_best]
        result[str(dtype)] = int(wins.min()) if len(wins) else None
    return result


def _dense_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (m, width, depth, dtype): seconds per backend, scratch/torch ratio, fractions of peak."""
    rows = rows.assign(label=[_label(b, d) for b, d in zip(rows["backend"], rows["device"], strict=True)])
    keys = ["m", "width", "depth", "dtype"]
    seconds = rows.pivot_table(index=keys, columns="label", values="seconds")
    fraction = rows.pivot_table(index=keys, columns="label", values="fraction_of_peak")
    table = pd.DataFrame(index=seconds.index)
    for label in seconds.columns:
        table[f"{label} s/step"] = seconds[label].map(seconds_text)
    if {"scratch", "torch CPU"} <= set(seconds.columns):
        table["scratch / torch CPU time"] = (seconds["scratch"] / seconds["torch CPU"]).map(ratio)
    if "torch CUDA" in seconds.columns:
        table["CUDA speed-up vs best CPU"] = (seconds.drop(columns="torch CUDA").min(axis=1)
                                              / seconds["torch CUDA"]).map(ratio)
    for label in fraction.columns:
        table[f"{label} % of peak"] = (100 * fraction[label]).round(1)
    return table.reset_index()


def targets_markdown(verdicts: list[dict[str, object]], quick: bool) -> list[str]:
    """The speed goals, each with what was measured and PASS/MISS (computed by ``bench.target_verdicts``)."""
    if not verdicts:
        return []
    table = pd.DataFrame(verdicts)[["target", "shown", "goal", "verdict"]].rename(columns={"shown": "measured"})
    lines = ["### Targets", "", _table(table), ""]
    if quick:
        lines += ["`--quick` measures a scaled-down stand-in for the target point: these verdicts test the "
                  "machinery and say nothing about the targets.", ""]
    lines += ["The step and the target-shaped matmul were timed in interleaved rounds (same load for both); the "
              "peak is the higher of that matmul and the square-matmul peak below, so the fraction is the "
              "conservative one.", ""]
    return lines


@dataclass(frozen=True)
class SpeedReport:
    """A bench run with the machine it ran on (:func:`compare.report.environment.environment`) and the
    links of the plots drawn from it (relative to the results folder)."""

    bench: BenchResult
    environment: dict[str, object]
    images: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {**self.bench.to_json(), "environment": self.environment, "images": list(self.images)}

    @classmethod
    def from_json(cls, value: dict[str, object]) -> SpeedReport:
        return cls(BenchResult.from_json(value), dict(value["environment"]), tuple(value["images"]))


def write_speed(out_dir: Path, bench: BenchResult, env: dict[str, object]) -> SpeedReport:
    """Write ``speed.csv``, ``speed.json``, ``speed.md`` and the speed plots into ``out_dir``, atomically: an
    interrupted run leaves the earlier files untouched."""
    with StagedResults(Path(out_dir)) as stage:
        bench.frame.to_csv(stage / "speed.csv", index=False, float_format="%.6g")
        report = SpeedReport(bench, env, tuple(speed_plots(bench.frame, stage / "plots")))
        atomic_write_json(stage / SPEED_JSON, report.to_json())
        atomic_write_text(stage / "speed.md", speed_markdown(report))
    return report


def load_speed(folder: Path) -> SpeedReport | None:
    """The speed report ``make bench`` left in ``folder`` (its ``speed.json``), or ``None`` when there is none.

    A ``speed.json`` that is not a bench run's data (unreadable, or missing a field) raises ``ValueError``
    naming the file and the fix.
    """
    path = Path(folder) / SPEED_JSON
    if not path.is_file():
        return None
    try:
        return SpeedReport.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path} is not the data of a `python -m compare bench` run "
                         f"({type(error).__name__}: {error}); run the bench again to refresh it") from None


def _blas_text(entries: list[dict[str, object]]) -> str:
    return ", ".join(f"{b['library']} {b['version']} ({b['threads']} threads)" for b in entries)


def speed_markdown(report: SpeedReport) -> str:
    """The ``## Speed`` section: how it was measured, the verdicts, then one table per section measured."""
    bench, env = report.bench, report.environment
    threads = bench.threads
    blas = _blas_text(numpy_blas(threads))
    others = [b for b in threads.get("blas", []) if not b.get("numpy")]
    if others:
        blas += "; other BLAS loaded but not used by NumPy: " + _blas_text(others)
    load = " / ".join(f"{x:.2f}" for x in bench.load_average)
    lines = [
        "## Speed",
        "",
        f"Measured by `python -m compare bench{' --quick' if bench.quick else ''}` in "
        f"{bench.seconds:.0f} s on {env['cpu']} ({env['cpu_count']} cores), "
        f"GPU: {(env.get('gpu') or {}).get('name', 'none')}"
        f"{f', spread over {len(bench.ranks)} processes (below)' if bench.ranks else ''}. "
        f"Threads{' of rank 0' if bench.ranks else ''}: NumPy's BLAS {blas}; torch "
        f"{threads.get('torch_threads')} threads (pinned equal: {bench.threads_pinned}). "
        f"Load average at the end (1/5/15 min): {load}. Each time is the median of repeated blocks after "
        "warm-up, with the interquartile range; method and FLOP counting in `docs/benchmarks.md`."
        + (" Times are this process's CPU seconds (`--clock cpu`), not wall time." if bench.clock == "cpu"
           else ""),
        "",
    ]
    frame = bench.frame
    lines += ranks_markdown(bench.ranks)
    lines += targets_markdown(bench.verdicts, bench.quick)
    matmul = peak_candidates(frame)
    if not matmul.empty:
        keys = (["rank"] if bench.ranks else []) + ["backend", "device", "dtype"]
        best = matmul.loc[matmul.groupby(keys)["gflops"].idxmax()]
        size = [name.removeprefix("matmul ") for name in best["name"]]
        lines += ["### Matmul peak (the machine's own limit)", "",
                  _table(best.assign(size=size)[[*keys, "size", "section", "gflops"]]
                         .rename(columns={"gflops": "GFLOP/s", "section": "measured in"})), ""]
    target = frame[(frame["section"] == "dense") & (frame["name"] == "target")]
    if not target.empty:
        m, width, depth = (int(target[column].iloc[0]) for column in ("m", "width", "depth"))
        lines += [f"### Dense net at the target point m={m}, width={width}, depth={depth} (both dtypes)", "",
                  _table(_dense_table(target)), ""]
    for factor in ("m", "width", "depth"):
        rows = sweep(frame, factor)
        if rows[factor].nunique() > 1:
            lines += [f"### Dense net: sweep over {factor} (others at the base point)", "",
                      _table(_dense_table(rows)), ""]
    found = crossover(frame)
    if found:
        lines += ["### GPU crossover", "",
                  *(f"- {dtype}: torch CUDA beats the CPU from m = {m}" if m else
                    f"- {dtype}: torch CUDA never beat the CPU in the m-sweep" for dtype, m in found.items()), ""]
    optimizer = frame[frame["section"] == "optimizer"]
    if not optimizer.empty:
        table = optimizer.assign(time=_with_spread(optimizer))[
            ["name", "device", "dtype", "m", "width", "depth", "time", "parity_max_rel", "parity_passed", "note"]]
        lines += ["### torch implementations (parity-checked against scratch)", "", _table(table), ""]
    concept = frame[frame["section"] == "concept"]
    if not concept.empty:
        rows = concept.assign(label=[_label(b, d) for b, d in zip(concept["backend"], concept["device"], strict=True)])
        table = rows.pivot_table(index=["name", "dtype", "m"], columns="label", values="seconds")
        speed_ratio = (table["scratch"] / table["torch CPU"] if {"scratch", "torch CPU"} <= set(table.columns)
                       else None)
        table = table.map(seconds_text)
        if speed_ratio is not None:
            table["scratch / torch CPU time"] = speed_ratio.map(ratio)
        lines += ["### Every concept at its default size (seconds per step)", "", _table(table.reset_index()), ""]
    for name, rows in frame[frame["section"] == MICROBENCH].groupby("name", sort=False):
        lines += [f"### {name}: forward + backward (each implementation)", "", _table(_microbench_table(rows)), ""]
    vector = frame[frame["section"] == "vectorization"]
    if not vector.empty:
        lines += ["### Loop vs vectorized (the lectures' demos)", "", _table(_vectorization_table(vector)), ""]
    dispatch = frame[frame["section"] == "dispatch"]
    if not dispatch.empty:
        table = dispatch.assign(backend=[_label(b, d) for b, d in zip(dispatch["backend"], dispatch["device"],
                                                                      strict=True)],
                                time=_with_spread(dispatch))[["name", "backend", "dtype", "time"]]
        lines += ["### Fixed cost per op (why torch loses on tiny problems)", "", _table(table), ""]
    suite = frame[frame["section"] == "parity_suite"]
    if not suite.empty:
        row = suite.iloc[0]
        lines += [f"The {row['name']}, float64 CPU, took {row['seconds']:.1f} s ({row['note']}): the comparisons "
                  "alone, in one process; `python -m compare run` adds start-up, imports, gradient checks and "
                  "timing.", ""]
    lines += [f"![{Path(image).stem}]({image})" for image in report.images]
    return "\n".join(lines) + "\n"


def ranks_markdown(ranks: tuple[dict[str, object], ...]) -> list[str]:
    """A spread bench's ranks: what each ran on and what it measured (nothing for a single process)."""
    if not ranks:
        return []
    table = pd.DataFrame([{
        "rank": rank["rank"], "machine": rank["node"], "threads": rank["threads"],
        "cores": (", ".join(map(str, rank["cores"])) if rank["cores"] is not None
                  else f"not pinned (shares {rank['available_cores']})"),
        "sections": "; ".join(f"{title} ({seconds:.1f} s)" for title, seconds in rank["sections"].items()),
        "seconds": rank["seconds"]} for rank in ranks])
    return [f"### Spread over {len(ranks)} processes", "",
            f"Each section was measured by one of {len(ranks)} processes (`bench --jobs N` or torchrun), each "
            "pinned to its own threads and, where the machine has a core for each, its own cores; every process "
            "measured its own matmul peak, and its rows' fractions of peak are against that peak (the `rank` "
            "column of `speed.csv` says which process measured a row). These times are of processes with the "
            "threads below, beside each other: they are not the times of one process with all the cores.", "",
            _table(table), ""]


def _microbench_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One workload a concept benchmarks: each implementation's time (with spread), its batch, time per
    example against torch CPU's (the course's loops run on fewer examples), GFLOP/s and fraction of peak."""
    per_example = rows["seconds"] / rows["m"].astype("float64")
    reference = per_example[(rows["backend"] == "torch") & (rows["device"] == "cpu")]
    table = pd.DataFrame({
        "implementation": [f"{_label(b, d)}: {note}" for b, d, note in zip(rows["backend"], rows["device"],
                                                                             rows["note"], strict=True)],
        "m": rows["m"],
        "time per step": _with_spread(rows),
        "per example": per_example.map(seconds_text),
        "GFLOP/s": rows["gflops"],
        "fraction of peak": rows["fraction_of_peak"],
    })
    if not reference.empty:
        table["time per example / torch CPU's"] = (per_example / float(reference.iloc[0])).map(ratio)
    return table


def _vectorization_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Loop and vectorized times side by side with the speed-up, per demo and size."""
    demo = rows["name"].str.replace(r" (propagate_loop|propagate|for-loop|np\.dot)$", "", regex=True)
    kind = rows["name"].str.contains("loop").map({True: "loop", False: "vectorized"})
    table = rows.assign(demo=demo, kind=kind).pivot_table(index=["demo", "m"], columns="kind", values="seconds")
    table["speed-up"] = table["loop"] / table["vectorized"]
    table["loop"] = table["loop"].map(seconds_text)
    table["vectorized"] = table["vectorized"].map(seconds_text)
    return table.reset_index()


# --- plots ----------------------------------------------------------------------------------------------------------

def speed_plots(frame: pd.DataFrame, plots_dir: Path) -> list[str]:
    """Draw every plot the data allows; returns links relative to the results folder."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, draw in (("speed_time_vs_m.png", _time_vs_m), ("speed_gflops.png", _gflops),
                       ("speed_ratio.png", _ratios), ("speed_crossover.png", _crossover)):
        if draw(frame, plots_dir / name):
            drawn.append(f"plots/{name}")
    return drawn


def _lines(axis, rows: pd.DataFrame, x: str, y: str) -> None:
    for (backend, device, dtype), group in rows.groupby(["backend", "device", "dtype"]):
        label, color = BACKEND_STYLE.get((backend, device), (f"{backend} {device}", None))
        group = group.sort_values(x)
        axis.plot(group[x], group[y], DTYPE_LINE.get(dtype, ":"), marker="o", color=color, label=f"{label} {dtype}")


def _time_vs_m(frame: pd.DataFrame, path: Path) -> bool:
    rows = sweep(frame, "m")
    if rows["m"].nunique() < 2:
        return False
    fig, axis = plt.subplots(figsize=(6.5, 4.5))
    _lines(axis, rows, "m", "seconds")
    axis.set(xscale="log", yscale="log", xlabel="batch size m", ylabel="seconds per training step",
             title=f"Dense net step vs batch (width {int(rows['width'].iloc[0])}, depth {int(rows['depth'].iloc[0])})")
    axis.legend(fontsize=8)
    axis.grid(True, which="both", alpha=0.3)
    _save(fig, path)
    return True


def _gflops(frame: pd.DataFrame, path: Path) -> bool:
    dense = frame[(frame["section"] == "dense")]
    if dense.empty:
        return False
    fig, axis = plt.subplots(figsize=(6.5, 4.5))
    _lines(axis, dense, "flops", "gflops")
    matmul = peak_candidates(frame)
    matmul = matmul[matmul["rank"].fillna(-1).isin(dense["rank"].fillna(-1))]  # the peaks the rows were divided by
    for (backend, device, dtype), group in matmul.groupby(["backend", "device", "dtype"]):
        label, color = BACKEND_STYLE.get((backend, device), (backend, None))
        axis.axhline(group["gflops"].max(), color=color, ls=DTYPE_LINE.get(dtype, ":"), lw=0.8, alpha=0.7)
        axis.annotate(f"peak {label} {dtype}", (dense["flops"].min(), group["gflops"].max()), fontsize=7,
                      color=color, va="bottom")
    axis.set(xscale="log", yscale="log", xlabel="FLOPs per training step",
             ylabel="achieved GFLOP/s", title="Dense-net steps against the matmul peak (horizontal lines)")
    axis.legend(fontsize=7)
    axis.grid(True, which="both", alpha=0.3)
    _save(fig, path)
    return True


def _ratios(frame: pd.DataFrame, path: Path) -> bool:
    factors = [f for f in ("m", "width", "depth") if sweep(frame, f)[f].nunique() > 1]
    if not factors:
        return False
    fig, axes = plt.subplots(1, len(factors), figsize=(4.5 * len(factors), 4), squeeze=False)
    for axis, factor in zip(axes[0], factors, strict=True):
        rows = sweep(frame, factor)
        table = rows.pivot_table(index=[factor, "dtype"], columns=["backend", "device"], values="seconds")
        for (backend, device) in table.columns:
            if (backend, device) == ("scratch", "cpu"):
                continue
            label, color = BACKEND_STYLE.get((backend, device), (backend, None))
            for dtype in table.index.get_level_values("dtype").unique():
                part = table.xs(dtype, level="dtype")
                axis.plot(part.index, part[("scratch", "cpu")] / part[(backend, device)],
                          DTYPE_LINE.get(dtype, ":"), marker="o", color=color, label=f"scratch / {label} {dtype}")
        axis.axhline(1.0, color="k", lw=0.8)
        axis.set(xscale="log", yscale="log", xlabel=factor, ylabel="speed-up over scratch (>1: torch faster)")
        axis.legend(fontsize=7)
        axis.grid(True, which="both", alpha=0.3)
    fig.suptitle("scratch time / torch time")
    _save(fig, path)
    return True


def _crossover(frame: pd.DataFrame, path: Path) -> bool:
    rows = sweep(frame, "m")
    if "cuda" not in set(rows["device"]):
        return False
    fig, axis = plt.subplots(figsize=(6.5, 4.5))
    _lines(axis, rows, "m", "seconds")
    for dtype, m in crossover(frame).items():
        if m is not None:
            axis.axvline(m, ls=DTYPE_LINE.get(dtype, ":"), color="tab:green", alpha=0.6)
            axis.annotate(f"GPU wins from m={m} ({dtype})", (m, rows["seconds"].min()), fontsize=8, rotation=90)
    axis.set(xscale="log", yscale="log", xlabel="batch size m", ylabel="seconds per training step",
             title="Where the GPU overtakes the CPU")
    axis.legend(fontsize=8)
    _save(fig, path)
    return True


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
