"""``python -m compare`` (also ``dlparity``): list, run, report and benchmark the comparisons.

User errors (unknown names, bad options, an output path that cannot be written, no GPU) print one line
``error: ...`` and exit with status 2; a parity failure exits with status 1, and so does a spread sweep
(``--jobs``, torchrun) in which a case raised or a process was lost, after one ``error:`` line naming the case
and the rank. Names and output paths are checked before torch, scikit-learn or any case module is imported, so
``--help`` and a misspelt name answer at once.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from compare.core.choices import DEVICE_CHOICES, DTYPE_CHOICES
from compare.names import check_names

if TYPE_CHECKING:
    from compare.core.sweep import Ranks


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}") from None
    if not 0 < value < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option as one ``error:`` line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message}\n")


def _sub_parser(**kwargs: object) -> _Parser:
    """A subcommand's parser: no prefix matching, so ``--step 5`` is an error rather than ``--steps 5``."""
    return _Parser(allow_abbrev=False, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m compare", description=__doc__.splitlines()[0], allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_sub_parser)

    commands.add_parser("list", help="the registered concepts and variants")

    run = commands.add_parser("run", help="run parity comparisons and print a table")
    run.add_argument("concepts", nargs="*", metavar="CONCEPT", help="concept or concept/variant (default: all)")
    run.add_argument("--dtype", choices=DTYPE_CHOICES, default="float64")
    run.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")
    run.add_argument("--steps", type=_positive_int, help="training steps (default: each case's own)")
    run.add_argument("--seed", type=_nonnegative_int, default=0)
    run.add_argument("--json", type=Path, metavar="PATH", help="also write the records as JSON")
    run.add_argument("--no-timing", action="store_true", help="skip the seconds-per-step measurement")
    _add_sweep_options(run)

    report = commands.add_parser("report", help="run everything and write results/")
    report.add_argument("concepts", nargs="*", metavar="CONCEPT")
    report.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    report.add_argument("--seeds", type=_positive_int, default=1,
                        help="seeds per case, worst over them reported (default: 1; docs/sweeps.md)")
    report.add_argument("--quick", action="store_true",
                        help="a smoke test (one seed, float64, 5 steps per case, studies at 1/50), labelled quick")
    _add_sweep_options(report)

    bench = commands.add_parser("bench", help="time scratch vs torch (CPU, CUDA) and write speed.* into results/")
    bench.add_argument("concepts", nargs="*", metavar="CONCEPT", help="concepts to time (default: all)")
    bench.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                       help="torch devices: cpu, or cpu and cuda (default: auto, cuda when available)")
    bench.add_argument("--dtype", choices=DTYPE_CHOICES, action="append",
                       help="repeatable (default: float32 and float64)")
    bench.add_argument("--quick", action="store_true", help="tiny sweeps, under a minute, for a smoke test")
    bench.add_argument("--threads", type=_positive_int,
                       help="threads for NumPy's BLAS and torch alike (default: all cores; with --jobs, one per "
                            "core of each process's own)")
    bench.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                       help="wall time, or this process's CPU time (robust to a busy machine; use with --threads 1)")
    bench.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    bench.add_argument("--jobs", type=_positive_int, metavar="N",
                       help="measure the sections in N local processes, each on its own cores (torchrun; see "
                            "docs/sweeps.md)")

    notebooks = commands.add_parser("notebooks", help="write one Jupyter notebook per concept (no run needed)")
    notebooks.add_argument("concepts", nargs="*", metavar="CONCEPT", help="concepts (default: all)")
    notebooks.add_argument("--out", type=Path, default=Path("results"),
                           help="writes OUT/notebooks/<concept>.ipynb (default: results)")

    _add_check_parser(commands)
    commands.add_parser("index", help="rewrite compare/case_index.py from the registry (after adding a case)")
    return parser


def _add_sweep_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--jobs", type=_positive_int, metavar="N",
                         help="run the comparisons in N local processes (torchrun; see docs/sweeps.md)")
    command.add_argument("--threads", type=_positive_int,
                         help="threads for NumPy's BLAS and torch in each process (default: the cores / N)")


def _add_check_parser(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser("check", help="check your own course functions (a .py file) against PyTorch")
    check.add_argument("path", type=Path, metavar="FILE", help="your solution, a .py file")
    check.add_argument("--json", dest="as_json", action="store_true", help="print the verdict as JSON")
    check.add_argument("--only", action="append", metavar="NAME", help="check only this function (repeatable)")
    check.add_argument("--week", choices=("c1w2", "c1w3", "c1w4", "c2w1", "c2w2"),
                       help="the assignment shared names (compute_cost, predict, ...) belong to")
    check.add_argument("--time-limit", type=_positive_seconds, default=60.0, metavar="SECONDS",
                       help="per function, all its inputs together (default: 60)")
    check.add_argument("--no-training", action="store_true", help="skip the whole-training comparison")
    check.add_argument("--plot", type=Path, metavar="DIR", help="write the loss overlay of each training here")


def cmd_list() -> int:
    from compare.core.registry import all_cases

    for case in all_cases():
        print(f"{case.name:45s} {case.summary}")
    return 0


def _probe_writable(folder: Path, option: str) -> None:
    """Fail unless a file can be created in ``folder`` or, when it does not exist yet, in its nearest ancestor."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option}: {existing} is a file, so {folder} cannot be a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=existing)
    except OSError as error:
        raise ValueError(f"{option}: cannot write into {existing} ({error.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def _check_output_paths(args: argparse.Namespace) -> None:
    """Fail before any work, not after minutes of it, when an output path cannot be written."""
    json_path = getattr(args, "json", None)
    if isinstance(json_path, Path):
        if json_path.is_dir():
            raise ValueError(f"--json {json_path} is a folder; expected a file path")
        _probe_writable(json_path.parent, f"--json {json_path}")
    for option in ("out", "plot"):
        folder = getattr(args, option, None)
        if folder is not None:
            if folder.exists() and not folder.is_dir():
                raise ValueError(f"--{option} {folder} exists and is not a folder")
            _probe_writable(folder, f"--{option} {folder}")


def not_run_lines(names: Sequence[str]) -> list[str]:
    """``not run NAME: why`` for each case that ``names`` select (by concept, or all) but that cannot run here."""
    from compare.core.registry import unavailable

    return [f"not run {name}: {reason}" for name, reason in unavailable(names).items()]


def cmd_run(args: argparse.Namespace, ranks: Ranks) -> int:
    from compare.core.devices import resolve_device
    from compare.core.registry import select
    from compare.perf.timing import pinned_threads
    from compare.report.build import records_frame, run_all, run_table, run_table_notes

    cases = select(args.concepts)
    if ranks.rank == 0:
        for line in not_run_lines(args.concepts):
            print(line)
    device = resolve_device(args.device).type
    with pinned_threads(args.threads or ranks.threads()):
        runs = run_all(cases, dtypes=[args.dtype], devices=[device], seeds=[args.seed], steps=args.steps,
                       timed=not args.no_timing, ranks=ranks)
    if runs is None:  # another rank of a spread sweep: rank 0 prints and writes
        return 0
    frame = records_frame(runs)
    print(f"{device} {args.dtype}, seed {args.seed}")
    print(run_table(frame))
    for line in run_table_notes(frame):
        print(line)
    failed = [run for run in runs if not run.passed]
    for run in failed:
        print(f"FAIL {run.case.name} {run.dtype} {run.device} seed {run.seed}: {run.summary()}")
    for run in runs:
        for note in run.parity.notes:
            print(f"note {run.case.name} {run.dtype} {run.device}: {note}")
    if args.json:
        from compare.report.io import atomic_write_json
        atomic_write_json(args.json, [run.record() for run in runs])
    print(f"{len(runs) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace, ranks: Ranks) -> int:
    from compare.report.build import make_report

    seeds = range(1) if args.quick else range(args.seeds)
    if ranks.rank == 0:
        for line in not_run_lines(args.concepts):
            print(line)
    frame = make_report(args.out, names=args.concepts, seeds=seeds, quick=args.quick, ranks=ranks,
                        threads=args.threads)
    if frame is None:  # another rank of a spread sweep: rank 0 writes
        return 0
    failed = int((~frame["passed"]).sum())
    label = " (quick: a smoke test, not the full report)" if args.quick else ""
    print(f"wrote {args.out}/report.md{label}: {len(frame) - failed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_bench(args: argparse.Namespace, ranks: Ranks) -> int:
    from compare.perf.bench import run_bench
    from compare.report.build import progress
    from compare.report.environment import environment
    from compare.report.speed import write_speed

    bench = run_bench(concepts=args.concepts, device=args.device, dtypes=args.dtype or ("float32", "float64"),
                      quick=args.quick, threads=args.threads, clock=args.clock, progress=progress, ranks=ranks)
    if bench is None:  # another rank of a spread bench: rank 0 writes
        return 0
    report = write_speed(args.out, bench, environment(bench.threads))
    frame = bench.frame
    print(f"wrote {args.out}/speed.csv ({len(frame)} rows), speed.json, speed.md and {len(report.images)} plots")
    failed = frame[frame["parity_passed"].eq(False)]
    for row in failed.itertuples():
        print(f"FAIL parity: {row.name} {row.device} {row.dtype} max_rel={row.parity_max_rel} {row.note or ''}")
    return 1 if len(failed) else 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    from compare.core.registry import select
    from compare.report.notebooks import write_notebooks

    paths = write_notebooks(args.out, select(args.concepts))
    print(f"wrote {len(paths)} notebooks into {args.out / 'notebooks'}")
    return 0


def cmd_index() -> int:
    from compare.core.registry import name_index
    from compare.names import render_index

    index = name_index()
    path = Path(__file__).with_name("case_index.py")
    path.write_text(render_index(index))
    print(f"wrote {path.name}: {len(index)} concepts, {sum(map(len, index.values()))} variants")
    return 0


def _sweep(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``run``, ``report`` or ``bench``: in this process, or spread over ``--jobs`` local processes, or as one
    rank of a sweep that torchrun started (its environment names the rank)."""
    from compare.core.sweep import Ranks, SweepFailed, local_launch, sweep_group

    ranks = Ranks.from_environment()
    if not ranks.spread and args.jobs is not None and args.jobs > 1:
        env = {**os.environ}
        env.setdefault("OMP_NUM_THREADS", str(args.threads or Ranks(local_world=args.jobs, world=args.jobs).threads()))
        with subprocess.Popen(local_launch(args.jobs, "compare", argv), env=env) as launcher:
            try:
                return launcher.wait()
            except KeyboardInterrupt:  # the workers got the same Ctrl-C: let torchrun stop them and report
                return launcher.wait()
    if ranks.spread and args.jobs not in (None, ranks.local_world):
        raise ValueError(f"--jobs {args.jobs}: this process is one of {ranks.local_world} that torchrun started "
                         f"on this machine; leave --jobs out under torchrun")
    try:
        with sweep_group(ranks):
            return {"run": cmd_run, "report": cmd_report, "bench": cmd_bench}[args.command](args, ranks)
    except SweepFailed as error:
        print(f"error: {ranks.label()}the sweep failed, nothing was written: {error}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        check_names(getattr(args, "concepts", None) or ())
        _check_output_paths(args)
        if args.command == "index":
            return cmd_index()
        if args.command == "list":
            return cmd_list()
        if args.command in ("run", "report", "bench"):
            return _sweep(args, argv)
        if args.command == "notebooks":
            return cmd_notebooks(args)
        if args.command == "check":
            from compare.check.cli import cmd_check
            return cmd_check(args)
        raise AssertionError(f"unhandled command {args.command!r}")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a disk that filled or a folder that went read-only while the run went on
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; earlier results were left untouched", file=sys.stderr)
        return 130
