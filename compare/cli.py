"""``python -m compare`` (also ``dlparity``): list, run, report and benchmark the comparisons.

User errors (unknown names, bad options, no GPU) print one line ``error: ...`` and exit with status 2;
a parity failure exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from compare.core.devices import DEVICE_CHOICES, DTYPE_CHOICES
from compare.report.io import atomic_write_json


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


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option as one ``error:`` line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m compare", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("list", help="the registered concepts and variants")

    run = commands.add_parser("run", help="run parity comparisons and print a table")
    run.add_argument("concepts", nargs="*", metavar="CONCEPT", help="concept or concept/variant (default: all)")
    run.add_argument("--dtype", choices=DTYPE_CHOICES, default="float64")
    run.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")
    run.add_argument("--steps", type=_positive_int, help="training steps (default: each case's own)")
    run.add_argument("--seed", type=_nonnegative_int, default=0)
    run.add_argument("--json", type=Path, metavar="PATH", help="also write the records as JSON")
    run.add_argument("--no-timing", action="store_true", help="skip the seconds-per-step measurement")

    report = commands.add_parser("report", help="run everything and write results/")
    report.add_argument("concepts", nargs="*", metavar="CONCEPT")
    report.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    report.add_argument("--seeds", type=_positive_int, default=3, help="seeds per case (default: 3)")
    report.add_argument("--quick", action="store_true", help="smaller studies, for a smoke test")

    bench = commands.add_parser("bench", help="time scratch vs torch (CPU, CUDA) and write speed.* into results/")
    bench.add_argument("concepts", nargs="*", metavar="CONCEPT", help="concepts to time (default: all)")
    bench.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                       help="torch devices: cpu, or cpu and cuda (default: auto, cuda when available)")
    bench.add_argument("--dtype", choices=DTYPE_CHOICES, action="append",
                       help="repeatable (default: float32 and float64)")
    bench.add_argument("--quick", action="store_true", help="tiny sweeps, under a minute, for a smoke test")
    bench.add_argument("--threads", type=_positive_int,
                       help="threads for NumPy's BLAS and torch alike (default: all cores)")
    bench.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                       help="wall time, or this process's CPU time (robust to a busy machine; use with --threads 1)")
    bench.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")

    from compare.check.cli import add_check_parser
    add_check_parser(commands)
    return parser


def cmd_list() -> int:
    from compare.core.registry import all_cases

    for case in all_cases():
        print(f"{case.name:45s} {case.summary}")
    return 0


def _check_output_paths(args: argparse.Namespace) -> None:
    """Fail before any work, not after minutes of it, when an output path cannot be written."""
    json_path = getattr(args, "json", None)
    if json_path is not None and (json_path.is_dir() or (json_path.parent.exists() and not json_path.parent.is_dir())):
        raise ValueError(f"--json {json_path} must be a file path in a folder, not a folder or below a file")
    out = getattr(args, "out", None)
    if out is not None and out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")


def cmd_run(args: argparse.Namespace) -> int:
    from compare.core.devices import resolve_device
    from compare.core.registry import select
    from compare.perf.timing import pinned_threads
    from compare.report.build import records_frame, records_table, run_all

    cases = select(args.concepts)
    device = resolve_device(args.device).type
    with pinned_threads():
        runs = run_all(cases, dtypes=[args.dtype], devices=[device], seeds=[args.seed], steps=args.steps,
                       timed=not args.no_timing)
    frame = records_frame(runs)
    frame["torch/scratch time"] = frame["torch_seconds_per_step"] / frame["scratch_seconds_per_step"]
    columns = ["concept", "variant", "device", "dtype", "max_rel_diff_loss", "max_rel_diff_grad",
               "max_rel_diff_params", "max_rel_diff_state", "passed", "scratch_seconds_per_step",
               "torch_seconds_per_step", "torch/scratch time"]
    print(records_table(frame[columns]))
    failed = [run for run in runs if not run.passed]
    for run in failed:
        print(f"FAIL {run.case.name} {run.dtype} {run.device} seed {run.seed}: {run.summary()}")
    for run in runs:
        for note in run.parity.notes:
            print(f"note {run.case.name} {run.dtype} {run.device}: {note}")
    if args.json:
        atomic_write_json(args.json, [run.record() for run in runs])
    print(f"{len(runs) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from compare.report.build import make_report

    frame = make_report(args.out, names=args.concepts, seeds=range(args.seeds), quick=args.quick)
    failed = int((~frame["passed"]).sum())
    print(f"wrote {args.out}/report.md: {len(frame) - failed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from compare.perf.bench import run_bench
    from compare.report.build import progress
    from compare.report.environment import environment
    from compare.report.speed import write_speed

    bench = run_bench(concepts=args.concepts, device=args.device, dtypes=args.dtype or ("float32", "float64"),
                      quick=args.quick, threads=args.threads, clock=args.clock, progress=progress)
    report = write_speed(args.out, bench, environment(bench.threads))
    frame = bench.frame
    print(f"wrote {args.out}/speed.csv ({len(frame)} rows), speed.json, speed.md and {len(report.images)} plots")
    failed = frame[frame["parity_passed"].eq(False)]
    for row in failed.itertuples():
        print(f"FAIL parity: {row.name} {row.device} {row.dtype} max_rel={row.parity_max_rel} {row.note or ''}")
    return 1 if len(failed) else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_output_paths(args)
        if args.command == "list":
            return cmd_list()
        if args.command == "run":
            return cmd_run(args)
        if args.command == "bench":
            return cmd_bench(args)
        if args.command == "check":
            from compare.check.cli import cmd_check
            return cmd_check(args)
        return cmd_report(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; earlier results were left untouched", file=sys.stderr)
        return 130
