"""``python -m compare report`` that stops at one point and waits there, for tests/test_interruption.py.

``python tests/interrupted_report.py POINT ARGS...`` runs the report command with ``ARGS``; when it reaches
``POINT`` it prints ``ready`` on stdout and waits for a signal, so the test signals it at exactly that point
whatever the machine's load (an explicit readiness signal, never a sleep):

- ``start``: before the harness is even imported (the run is killed while it imports);
- ``running``: the staging folder exists and the comparisons are about to run;
- ``writing``: ``parity.csv`` and ``runs.json`` are staged, and the plots and report.md come next.
"""

from __future__ import annotations

import os
import signal
import sys


def ready() -> None:
    """Print ``ready``, then wait until a signal arrives; a SIGINT then raises KeyboardInterrupt at the next
    bytecode, exactly as it would in the work that follows.

    The wait reads the signal's wake-up byte (``signal.set_wakeup_fd``), which stays in the pipe when the signal
    comes before the read. ``signal.pause()`` waited for the *next* signal instead: when the test's SIGINT was
    delivered between the ``ready`` line and the pause (the loaded machine's default suite once hung there),
    the run waited forever.
    """
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    print("ready", flush=True)
    os.read(wake_read, 1)


def pause_before(module: object, name: str) -> None:
    original = getattr(module, name)

    def paused(*args: object, **kwargs: object) -> object:
        ready()
        return original(*args, **kwargs)

    setattr(module, name, paused)


def main(point: str, args: list[str]) -> int:
    # The test sends the SIGINT of a Ctrl-C at a terminal. A suite started in the background by a shell without
    # job control (`nohup make test &`, `cmd &` in a script, some CI runners) passes SIGINT on *ignored*, and
    # Python then leaves it ignored: the run would never be interrupted (the loaded default suite hung so).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if point == "start":
        print("ready", flush=True)
    import compare.report.build as build
    from compare.cli import main as cli

    if point == "running":
        pause_before(build, "run_all")
    elif point == "writing":
        pause_before(build, "_loss_plots")
    return cli(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
