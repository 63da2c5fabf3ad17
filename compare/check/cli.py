"""``python -m compare check FILE``: the checker's command line (exit 0 all pass, 1 a failure, 2 user error)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_check_parser(commands) -> None:
    check = commands.add_parser("check", help="check your own course functions (a .py file) against PyTorch")
    check.add_argument("path", type=Path, metavar="FILE", help="your solution, a .py file")
    check.add_argument("--json", dest="as_json", action="store_true", help="print the verdict as JSON")
    check.add_argument("--only", action="append", metavar="NAME", help="check only this function (repeatable)")
    check.add_argument("--week", choices=("c1w2", "c1w3", "c1w4", "c2w1", "c2w2"),
                       help="the assignment shared names (compute_cost, predict, ...) belong to")
    check.add_argument("--time-limit", type=float, default=60.0, metavar="SECONDS",
                       help="per function, all its inputs together (default: 60)")
    check.add_argument("--no-training", action="store_true", help="skip the whole-training comparison")
    check.add_argument("--plot", type=Path, metavar="DIR", help="write the loss overlay of each training here")


def cmd_check(args: argparse.Namespace) -> int:
    from compare.check import UserError, check

    try:
        report = check(args.path, functions=args.only, week=args.week, time_limit=args.time_limit,
                       training=not args.no_training, plot_dir=args.plot)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json(), indent=2) if args.as_json else report)
    return report.exit_code
