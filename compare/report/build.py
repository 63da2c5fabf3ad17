"""``make report``: run every comparison, write ``results/`` atomically.

Files: ``parity.csv`` (one row per case, dtype, device and seed), ``report.md``, ``environment.json``,
``runs.json`` (the records), ``report.json`` (what the report covers: ``{"kind": "full" | "partial" | "quick",
"concepts": [...], "seeds": n}``) and ``plots/<concept>_loss.png`` plus whatever the registered studies draw.
A partial report (some concepts) or a quick one (one seed, reduced studies) never replaces a full report: into a
folder holding one it is refused before any work, so ``results/`` is never left half one report and half another.
When ``make bench`` has left its ``speed.json`` in the folder, its speed section is rendered from that data
into ``report.md`` and the study site.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch

from compare.core.progress import note, tracked
from compare.core.registry import Case, select, unavailable
from compare.core.runner import GRADIENT_CHECK_BOUND, CaseRun, run_case
from compare.core.sweep import Ranks, deal_by_cost, gather_sweep, run_share
from compare.names import in_course_order
from compare.perf.timing import pinned_threads, time_case
from compare.report.environment import environment
from compare.report.io import StagedResults, atomic_write_bytes, atomic_write_json, atomic_write_text
from compare.report.notebooks import write_notebooks
from compare.report.plots import loss_curves
from compare.report.site import guides_from_docs, write_site
from compare.report.speed import SpeedReport, load_speed, speed_markdown
from compare.report.studies import QUICK_FRACTION, Study, StudyContext, StudyOutput, all_studies
from compare.report.tables import markdown_table, ratio, text_table

RESULTS_DIR = Path("results")
#: ``report --quick``: one seed in float64 on one CPU thread, at most this many steps per case, a short timing of each
#: concept's first variant: a smoke test of the whole pipeline, aimed at under two minutes on 2 idle cores.
QUICK_STEPS = 5
QUICK_TIMING = {"block_seconds": 0.005, "samples": 3}
QUICK_NOTE = (f"**Quick report**: a smoke test (`report --quick`): one seed, float64 on one CPU thread, at most "
              f"{QUICK_STEPS} steps per case, no gradient check, one timed variant per concept and studies cut to "
              f"1/{QUICK_FRACTION} of their length, so the figures and studies below are not the full report's.")
TABLE_COLUMNS = ["concept", "variant", "device", "dtype", "seed", "passed", "max_rel_diff_loss",
                 "max_rel_diff_grad", "max_rel_diff_params", "max_rel_diff_state",
                 "scratch_seconds_per_step", "torch_seconds_per_step"]


#: The ranks of a sweep run in one process.
SINGLE_PROCESS = Ranks()


def progress(message: str) -> None:
    note(message)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """A line with ``name``'s seconds once it is done: where a report's time goes besides runs and studies."""
    started = time.perf_counter()
    yield
    progress(f"{name} ({time.perf_counter() - started:.1f}s)")


def run_all(cases: Sequence[Case], *, dtypes: Sequence[str], devices: Sequence[str], seeds: Sequence[int],
            steps: int | None = None, timed: bool = True, quick: bool = False,
            ranks: Ranks = SINGLE_PROCESS) -> list[CaseRun] | None:
    """Every (case, device, dtype, seed) combination, with a bar on a terminal and a line per run on stderr
    (its verdict, its seconds and an estimate of the time left).

    The first seed's runs also carry the checks that depend on the code rather than on the draw: the
    gradient check (float64) and the replay of the scratch side alone (each dtype); every seed's lock-step
    run compares every gradient with autograd's at every step, which the two-sided differences of one point
    only illustrate. ``quick`` (the smoke test of ``report --quick``): at most :data:`QUICK_STEPS` steps per
    case, no gradient check, and a short timing of the first variant of each concept only. With ``ranks`` of a
    spread sweep (:mod:`compare.core.sweep`), this process runs its share of the grid and rank 0 returns every
    run in grid order (the other ranks return None); a run that raises on any rank raises :class:`SweepFailed`
    on every rank."""
    jobs = [(case, device, dtype, seed) for case in cases for device in devices if device in case.devices
            for dtype in dtypes for seed in seeds]
    first_of_concept: dict[str, Case] = {}
    for case in cases:
        first_of_concept.setdefault(case.concept, case)
    mine, finished, all_started = len(ranks.share(len(jobs))), 0, time.perf_counter()

    def run_one(index: int, job: tuple[Case, str, str, int]) -> CaseRun:
        nonlocal finished
        case, device, dtype, seed = job
        started = time.perf_counter()
        case_steps = min(case.steps, QUICK_STEPS) if quick and steps is None else steps
        first_seed = seed == seeds[0]
        run = run_case(case, seed=seed, dtype=dtype, device=device, steps=case_steps,
                       gradient_check=first_seed and dtype == "float64" and not quick, replay=first_seed)
        if timed and first_seed and (not quick or case is first_of_concept[case.concept]):
            time_case(run, **(QUICK_TIMING if quick else {}))
        if ranks.spread:  # compared already; only the losses (plots) travel to rank 0, not the array snapshots
            run.scratch.snapshots.clear()
            run.torch.snapshots.clear()
        finished += 1
        now = time.perf_counter()
        left = (now - all_started) / finished * (mine - finished)
        progress(f"{ranks.label()}[{finished}/{mine}] {_describe(job)}: {'ok' if run.passed else 'FAIL'} "
                 f"{run.summary()} ({now - started:.1f}s" + (f", about {left:.0f}s left)" if left else ")"))
        return run

    def track(indices: Sequence[int]) -> Iterable[int]:
        return tracked(indices, desc=f"{ranks.label()}runs", unit="run", line=ranks.local_rank if ranks.spread
                       else None)

    return gather_sweep(run_share(jobs, run_one, ranks, _describe, track), ranks)


def _describe(job: tuple[Case, str, str, int]) -> str:
    case, device, dtype, seed = job
    return f"{case.name} {device} {dtype} seed={seed}"


def records_frame(runs: Sequence[CaseRun]) -> pd.DataFrame:
    return pd.DataFrame([run.record() for run in runs])


def records_table(frame: pd.DataFrame) -> str:
    """Records as markdown: relative differences and seconds in scientific notation, ``—`` where not measured."""
    return markdown_table(frame, ".2e")


#: What rank 0's loss figures cost per variant before it starts its studies, so that the studies are dealt
#: around it (measured 2026-12-02 on the quiet 2-core machine: 64 s for the 108 variants of a full report).
LOSS_PLOT_SECONDS_PER_VARIANT = 0.6


#: A timing whose interquartile range exceeds this fraction of its median is flagged: the machine was busy.
UNSTEADY_SPREAD = 0.5
#: A timing taken while the 1-minute load average per core exceeded this is flagged: other work shared the cores.
LOADED = 1.5
RUN_TABLE_WIDTH = 120


def _exceeds(value: object, bound: float) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and float(value) > bound


def _seconds(seconds: float | None, spread: float | None, load: float | None) -> str | None:
    if seconds is None or math.isnan(seconds):
        return None
    return f"{seconds:.2e}" + ("*" if _exceeds(spread, UNSTEADY_SPREAD) or _exceeds(load, LOADED) else "")


def run_table(frame: pd.DataFrame) -> str:
    """The ``run`` command's table (fits a 120-column terminal): per run the worst relative difference and the
    array kind it is in, the tolerance, the verdict, seconds per step and the ratio (``*`` when untrustworthy:
    the timed blocks spread widely, or the machine was loaded)."""
    diffs = frame[[f"max_rel_diff_{c}" for c in ("loss", "grad", "params", "state")]].astype(float)
    rows = []
    for (_, r), worst in zip(frame.iterrows(), diffs.max(axis=1, skipna=True), strict=True):
        load = r.get("load_per_core")
        scratch = _seconds(r["scratch_seconds_per_step"], r.get("scratch_seconds_spread"), load)
        torch_ = _seconds(r["torch_seconds_per_step"], r.get("torch_seconds_spread"), load)
        speed = ratio(r["torch_seconds_per_step"] / r["scratch_seconds_per_step"]) if scratch and torch_ else None
        flagged = speed is not None and "*" in scratch + torch_
        rows.append({"case": f"{r['concept']}/{r['variant']}", "max rel diff": None if math.isnan(worst) else
                     f"{worst:.1e}", "in": r["worst_category"], "tol": f"{r['tolerance']:.0e}",
                     "passed": "ok" if r["passed"] else "FAIL", "scratch s": scratch, "torch s": torch_,
                     "torch/scratch": speed + "*" if flagged else speed})
    return text_table(pd.DataFrame(rows), right=("max rel diff", "tol", "scratch s", "torch s", "torch/scratch"))


def run_table_notes(frame: pd.DataFrame) -> list[str]:
    """What the run table's columns mean, and a warning when a timing was flagged."""
    return ["max rel diff: max|scratch - torch| / max|torch| over the trajectory, in the worst kind of array (in);",
            "s: seconds per step; torch/scratch: torch's time over scratch's; —: not measured.",
            *untrusted_timing_notes(frame)]


def untrusted_timing_notes(frame: pd.DataFrame) -> list[str]:
    """Why the figures marked ``*`` are not to be trusted (a wide spread, a loaded machine), or nothing."""
    spreads = frame.reindex(columns=["scratch_seconds_spread", "torch_seconds_spread"]).astype(float)
    loads = frame.reindex(columns=["load_per_core"]).astype(float)["load_per_core"]
    why = []
    if (spreads > UNSTEADY_SPREAD).any(axis=None):
        why.append(f"the timed blocks spread by more than {UNSTEADY_SPREAD:.0%} of their median")
    if (loads > LOADED).any():
        why.append(f"the machine was loaded (load average up to {loads.max():.1f} per core while timing)")
    if not why:
        return []
    return [f"*: {' or '.join(why)}: do not trust that figure or its ratio;",
            "`python -m compare bench --clock cpu --threads 1` resists load."]


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Worst case over seeds per (concept, variant, device, dtype), with timings of the timed seed."""
    keys = ["concept", "variant", "device", "dtype"]
    grouped = frame.groupby(keys, sort=True)
    table = grouped.agg(passed=("passed", "all"), seeds=("seed", "nunique"),
                        min_steps_compared=("steps_compared", "min"),
                        max_rel_diff_loss=("max_rel_diff_loss", "max"),
                        max_rel_diff_grad=("max_rel_diff_grad", "max"),
                        max_rel_diff_params=("max_rel_diff_params", "max"),
                        max_rel_diff_state=("max_rel_diff_state", "max"),
                        gradient_check=("gradient_check", "max"),
                        scratch_s_per_step=("scratch_seconds_per_step", "max"),
                        torch_s_per_step=("torch_seconds_per_step", "max")).reset_index()
    table["torch/scratch time"] = (table["torch_s_per_step"] / table["scratch_s_per_step"]).map(ratio)
    untrusted = grouped.apply(_untrusted_timing, include_groups=False).reindex(
        pd.MultiIndex.from_frame(table[keys])).to_numpy(dtype=bool)
    table.loc[untrusted, "torch/scratch time"] += "*"
    return table


def _markdown_notes(lines: list[str]) -> list[str]:
    """Note lines as one markdown paragraph (a literal ``*``, hard line breaks), followed by a blank line."""
    return ["  \n".join(lines).replace("*:", "\\*:", 1), ""] if lines else []


def _untrusted_timing(runs: pd.DataFrame) -> bool:
    """Whether a timing of these runs spread widely or was taken on a loaded machine (see :func:`run_table`)."""
    columns = runs.reindex(columns=["scratch_seconds_spread", "torch_seconds_spread"]).astype(float)
    loads = runs.reindex(columns=["load_per_core"]).astype(float)
    return bool((columns > UNSTEADY_SPREAD).any(axis=None) or (loads > LOADED).any(axis=None))


def failure_lines(frame: pd.DataFrame) -> list[str]:
    """One line per failed run saying where it broke (the worst entry, or the problem), or nothing."""
    lines = []
    for r in frame[~frame["passed"].astype(bool)].itertuples():
        if r.problems:
            where = "; ".join(r.problems)
        elif isinstance(r.worst, dict):
            w = r.worst
            index = f"[{', '.join(map(str, w['index']))}]" if w["index"] else ""
            where = (f"{r.worst_category} {getattr(r, f'max_rel_diff_{_COLUMN[r.worst_category]}'):.1e} > tol "
                     f"{r.tolerance:.0e} in {w['array']}{index} at step {w['step']}: scratch {w['scratch']:.17g} "
                     f"vs torch {w['torch']:.17g}")
            if w.get("first_step") is not None and w["first_step"] != w["step"]:
                where += f" (first beyond tolerance at step {w['first_step']})"
        else:
            where = "no comparison was made"
        if r.gradient_check is not None and r.gradient_check > GRADIENT_CHECK_BOUND:
            where += f"; gradient check {r.gradient_check:.1e} > {GRADIENT_CHECK_BOUND:.0e}"
        lines.append(f"- FAIL {r.concept}/{r.variant} {r.device} {r.dtype} seed {r.seed}: {where}")
    return ["Failed runs, and where each broke:", "", *lines, ""] if lines else []


#: ``worst_category`` -> the suffix of its ``max_rel_diff_*`` column.
_COLUMN = {"loss": "loss", "grad": "grad", "param": "params", "state": "state"}


def _kink_crossing_lines(frame: pd.DataFrame) -> list[str]:
    """A list of the steps left out at kink crossings (see docs/parity.md), or nothing."""
    lines = [f"- {r.concept}/{r.variant} {r.device} {r.dtype} seed {r.seed}: {crossing}"
             for r in frame.itertuples() for crossing in r.kink_crossings]
    if not lines:
        return []
    return ["Kink crossings (a ReLU pre-activation that rounding put on different sides of 0; the step is left "
            "out and scratch continues from torch's parameters, see `docs/parity.md`):", "", *lines, ""]


def _not_run_lines(not_run: dict[str, str]) -> list[str]:
    """The cases left out because this machine lacks their data, each with how to get it."""
    if not not_run:
        return []
    return ["Not run on this machine (their data is downloaded on request only):", "",
            *(f"- `{name}`: {reason}" for name, reason in not_run.items()), ""]


def write_markdown(stage: Path, frame: pd.DataFrame, studies: list[tuple[str, str, StudyOutput]],
                   concept_plots: dict[str, str], env: dict[str, object], elapsed: float,
                   speed: SpeedReport | None = None, *, quick: bool = False, not_run: dict[str, str] | None = None
                   ) -> None:
    lines = [
        "# dlparity report" + (" (quick)" if quick else ""),
        "",
        *([QUICK_NOTE, ""] if quick else []),
        "Every concept trained twice from the same data and initial weights, once from scratch in NumPy "
        "(scratch) and once in idiomatic PyTorch (torch); the table gives the largest relative difference over "
        "the whole trajectory (`max|scratch - torch| / max|torch|` per array, worst array and worst seed). "
        "Generated by `make report`; see `docs/parity.md` for definitions and tolerances.",
        "",
        f"Machine: {env['cpu']} ({env['cpu_count']} cores), Python {env['python']}, NumPy {env['numpy']}, "
        f"torch {env['torch']}, GPU: {(env['gpu'] or {}).get('name', 'none')}. "
        f"All comparisons took {elapsed:.0f} s.",
        "",
        "## Parity",
        "",
        records_table(summary_table(frame)),
        "",
        *_markdown_notes(untrusted_timing_notes(frame)),
        *failure_lines(frame),
        *_kink_crossing_lines(frame),
        *_not_run_lines(not_run or {}),
    ]
    by_concept: dict[str, list[tuple[str, StudyOutput]]] = defaultdict(list)
    for concept, title, output in studies:
        by_concept[concept].append((title, output))
    for concept in in_course_order(set(concept_plots) | set(by_concept)):
        lines += [f"## {concept}", ""]
        if concept in concept_plots:
            lines += [f"![{concept} loss curves]({concept_plots[concept]})", ""]
        for title, output in by_concept.get(concept, []):
            lines += [f"### {title}", "", output.markdown.strip(), ""]
    if speed is not None:  # from `make bench`'s speed.json; its plots are already in the results folder
        lines += [speed_markdown(speed).strip(), ""]
    atomic_write_text(stage / "report.md", "\n".join(lines))


def make_report(out_dir: Path = RESULTS_DIR, *, names: Sequence[str] = (), seeds: Sequence[int] = (0,),
                quick: bool = False, ranks: Ranks = SINGLE_PROCESS, threads: int | None = None
                ) -> pd.DataFrame | None:
    """Run all comparisons on CPU (and CUDA when present) and write the report into ``out_dir``.

    NumPy's BLAS and torch use the same thread count while it runs (restored afterwards): ``threads``, by default
    this process's share of the cores (all of them in a single process), or one for ``quick``, whose timings are
    a smoke test (one thread spends no CPU spinning on a busy machine). In a spread sweep (``ranks``), every rank
    runs its share of the comparisons and rank 0 alone runs the studies and writes the report; the other ranks
    return None."""
    with pinned_threads(1 if quick else threads or ranks.threads()):
        if not ranks.leader:
            cases = select(names)
            run_all(cases, **_grid(quick, seeds), quick=quick, ranks=ranks)
            run_studies(cases, None, quick=quick, ranks=ranks)
            return None
        return _make_report(Path(out_dir), names=names, seeds=seeds, quick=quick, ranks=ranks)


def _grid(quick: bool, seeds: Sequence[int]) -> dict[str, Sequence]:
    """The report's dtypes, devices and seeds (every rank of a spread sweep derives the same grid)."""
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not quick else [])
    return {"dtypes": ("float64",) if quick else ("float64", "float32"), "devices": devices, "seeds": seeds}


def report_kind(out_dir: Path) -> str | None:
    """The kind of report ``out_dir`` holds (``report.json``; a ``runs.json`` without it counts as full), or None."""
    try:
        return str(json.loads((out_dir / "report.json").read_text())["kind"])
    except FileNotFoundError:
        return "full" if (out_dir / "runs.json").is_file() else None
    except (ValueError, KeyError, TypeError):
        return "full"


def _refuse_half_report(out_dir: Path, kind: str, names: Sequence[str]) -> None:
    if kind != "full" and report_kind(out_dir) == "full":
        what = "a quick report" if kind == "quick" else f"a report of {', '.join(names)} alone"
        raise ValueError(f"{out_dir} holds a full report, which {what} would replace with a half one; "
                         f"write it elsewhere with --out FOLDER")


def _make_report(out_dir: Path, *, names: Sequence[str], seeds: Sequence[int], quick: bool,
                 ranks: Ranks) -> pd.DataFrame:
    cases = select(names)
    not_run = unavailable(names)  # a case named in full is selected above or its absence is an error there
    kind = "quick" if quick else ("partial" if len(cases) < len(select()) else "full")
    _refuse_half_report(out_dir, kind, names)
    speed = load_speed_for_report(out_dir)
    started = time.perf_counter()
    with StagedResults(out_dir) as stage:
        runs = run_all(cases, **_grid(quick, seeds), quick=quick, ranks=ranks)
        assert runs is not None  # rank 0 holds every run
        frame = records_frame(runs)
        frame.to_csv(stage / "parity.csv", index=False, float_format="%.3e")
        atomic_write_json(stage / "runs.json", [run.record() for run in runs])
        atomic_write_json(stage / "report.json", {"kind": kind, "concepts": sorted({c.concept for c in cases}),
                                                  "seeds": len(seeds), "not_run": not_run})
        with phase("loss plots"):
            concept_plots = _loss_plots(stage, runs)
        studies = run_studies(cases, stage, quick=quick, ranks=ranks, runs=runs)
        assert studies is not None  # rank 0 holds every study's output
        env = environment()
        atomic_write_json(stage / "environment.json", env)
        write_markdown(stage, frame, studies, concept_plots, env, time.perf_counter() - started, speed, quick=quick,
                       not_run=not_run)
        with phase("notebooks"):
            notebooks = write_notebooks(stage, cases)
        with phase("study site"):
            write_site(stage, [run.record() for run in runs], studies, cases, published=out_dir,
                       speed=speed_markdown(speed) if speed else "", banner=QUICK_NOTE if quick else "",
                       notebooks={concept: path.relative_to(stage).as_posix() for concept, path in notebooks.items()},
                       guides=guides_from_docs())
    return frame


def run_studies(cases: Sequence[Case], stage: Path | None, *, quick: bool, ranks: Ranks = SINGLE_PROCESS,
                runs: Sequence[CaseRun] = ()) -> list[tuple[str, str, StudyOutput]] | None:
    """``(concept, title, output)`` of every study of the concepts of ``cases``, its files written into ``stage``.

    In a spread sweep the studies are dealt out by their :attr:`Study.seconds` (longest first); each rank runs
    its studies into a folder of its own and sends their files to rank 0 with their outputs, and rank 0 writes
    the files into ``stage`` and returns every output in study order (the other ranks, ``stage`` None, return
    None). A study that reads the report's ``runs`` (:attr:`Study.reads_runs`) runs where they are, in rank 0,
    after the others."""
    concepts = {case.concept for case in cases}
    chosen = [study for study in all_studies() if study.concept in concepts]
    dealt = [study for study in chosen if not study.reads_runs]
    mine, finished = len(chosen), 0

    def run_one(index: int, study: Study) -> tuple[StudyOutput, dict[str, bytes]]:
        nonlocal finished
        started = time.perf_counter()
        if not ranks.spread or study.reads_runs:
            assert stage is not None
            output, files = study.run(StudyContext(stage, quick=quick, runs=runs if study.reads_runs else ())), {}
        else:
            with tempfile.TemporaryDirectory(prefix="dlparity-study-") as folder:
                output = study.run(StudyContext(Path(folder), quick=quick))
                files = {path.relative_to(folder).as_posix(): path.read_bytes()
                         for path in sorted(Path(folder).rglob("*")) if path.is_file()}
        finished += 1
        progress(f"{ranks.label()}[study {finished}/{mine}] {study.title} ({time.perf_counter() - started:.1f}s)")
        return output, files

    def track(indices: Sequence[int]) -> Iterable[int]:
        nonlocal mine
        mine = len(indices) + (len(chosen) - len(dealt) if ranks.spread and ranks.leader else 0)
        return tracked(indices, desc=f"{ranks.label()}studies", unit="study",
                       line=ranks.local_rank if ranks.spread else None)

    studies = dealt if ranks.spread else chosen
    plots = [LOSS_PLOT_SECONDS_PER_VARIANT * len(cases)]  # rank 0 draws the loss figures first (_make_report)
    deal = deal_by_cost([study.seconds for study in studies], ranks.world, preload=plots)
    outputs = gather_sweep(run_share(studies, run_one, ranks, lambda study: f"study {study.name!r}", track,
                                     deal=deal), ranks)
    if outputs is None:
        return None
    assert stage is not None
    for _, files in outputs:
        for relative, data in files.items():
            atomic_write_bytes(stage / relative, data)
    done = dict(zip((study.name for study in studies), outputs, strict=True))
    return [(study.concept, study.title, done[study.name][0] if study.name in done else run_one(0, study)[0])
            for study in chosen]


def load_speed_for_report(out_dir: Path) -> SpeedReport | None:
    """The bench data in ``out_dir``; an unusable ``speed.json`` leaves the speed section out, with a note."""
    try:
        return load_speed(out_dir)
    except ValueError as error:
        progress(f"note: the speed section is left out: {error}")
        return None


def _loss_plots(stage: Path, runs: Sequence[CaseRun]) -> dict[str, str]:
    """One figure per concept: every variant's float64 CPU seed-0 run (the reference mode)."""
    by_concept: dict[str, list[CaseRun]] = defaultdict(list)
    for run in runs:
        if run.device == "cpu" and run.dtype == "float64" and run.seed == min(r.seed for r in runs):
            by_concept[run.case.concept].append(run)
    paths = {}
    for index, (concept, concept_runs) in enumerate(tracked(by_concept.items(), desc="loss plots",
                                                            total=len(by_concept), unit="plot"), 1):
        started = time.perf_counter()
        relative = f"plots/{concept}_loss.png"
        (stage / "plots").mkdir(exist_ok=True)
        loss_curves(concept_runs, stage / relative, f"{concept}: scratch vs torch")
        paths[concept] = relative
        progress(f"[plot {index}/{len(by_concept)}] {relative} ({time.perf_counter() - started:.1f}s)")
    return paths
