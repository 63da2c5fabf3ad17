"""``python -m compare check FILE``: the checker's command (exit 0 all pass, 1 a failure, 2 user error).

Its options are declared in :mod:`compare.cli`, which must not import this package to show ``--help``.
"""

from __future__ import annotations

import argparse
import json
import sys


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
