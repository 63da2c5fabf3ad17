"""Run a learner's functions in a child process, with a time limit per function.

The child is forked, so it sees the learner's file (imported there, never in the checker's process) or the
notebook namespace it was given, and the inputs the checker prepared. It calls each function on each
input (``np.random.seed(case.legacy_seed)`` first, as the course's tests seed before calling; arguments
deep-copied so in-place updates cannot leak between calls), records return values, tracebacks and
warnings, and sends one message per function. When a function does not answer within the limit the
child is killed and a fresh one continues with the next function; a crash of the child (a segfault,
``os._exit``) is reported for the function that was running. Needs the ``fork`` start method (Linux,
macOS).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import io
import multiprocessing
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compare.check.catalogue import Case

Source = Path | Mapping[str, object]


class UserError(Exception):
    """The file or namespace cannot be checked at all (exit status 2)."""


@dataclass
class Call:
    """One call's outcome: ``value``, or ``error`` (a traceback), or ``signature_error``."""

    value: object = None
    error: str | None = None
    signature_error: str | None = None
    warnings: list[str] = field(default_factory=list)


TIMEOUT = "timeout"


def _load(source: Source) -> Mapping[str, object]:
    if not isinstance(source, Path):
        return source
    sys.path.insert(0, str(source.parent))
    spec = importlib.util.spec_from_file_location(f"learner_{source.stem}", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def learner_functions(namespace: Mapping[str, object], names: set[str]) -> dict[str, list[str]]:
    """``{name: parameter names}`` of the functions among ``names`` that the namespace itself defines.

    Functions imported from elsewhere (the course's ``dnn_utils`` helpers, numpy) are not the learner's;
    a namespace without ``__name__`` (a plain dict) counts all of its functions.
    """
    own = namespace.get("__name__")
    found = {}
    for name in sorted(names):
        value = namespace.get(name)
        if callable(value) and (own is None or getattr(value, "__module__", own) == own):
            try:
                found[name] = list(inspect.signature(value).parameters)
            except (TypeError, ValueError):
                found[name] = []
    return found


def _call(function: Callable, case: Case) -> Call:
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(dict(case.kwargs))
    try:
        inspect.signature(function).bind(*args, **kwargs)
    except TypeError as error:
        return Call(signature_error=str(error))
    except ValueError:  # no signature to inspect (a builtin): just call it
        pass
    np.random.seed(case.legacy_seed)  # noqa: NPY002  (the course's tests seed the global stream before calling)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = function(*args, **kwargs)
        except Exception:
            return Call(error=_short_traceback(), warnings=_messages(caught))
    return Call(value=value, warnings=_messages(caught))


def _messages(caught: list) -> list[str]:
    return sorted({f"{w.category.__name__}: {w.message}" for w in caught})


def _short_traceback() -> str:
    """The traceback without the checker's own frame."""
    kind, error, tb = sys.exc_info()
    return "".join(traceback.format_exception(kind, error, tb.tb_next if tb else None))


def _child(conn, source: Source, jobs: Sequence[tuple[str, list[Case]]], discover: set[str] | None) -> None:
    sys.stdout = sys.stderr = io.StringIO()  # the learner's prints (costs, accuracies) are not the report
    warnings.resetwarnings()  # the parent may turn warnings into errors (pytest does); the child records them
    try:
        namespace = _load(source)
    except BaseException:
        conn.send(("import-error", _short_traceback()))
        return
    if discover is not None:
        conn.send(("found", learner_functions(namespace, discover)))
        return
    for name, cases in jobs:
        calls = [_call(namespace[name], case) for case in cases]
        try:
            conn.send((name, calls))
        except Exception as error:  # a return value pickle cannot carry
            conn.send((name, [Call(error=f"returned a value the checker cannot read: {error}")] * len(cases)))


def _start(source: Source, jobs: Sequence[tuple[str, list[Case]]], discover: set[str] | None = None):
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, source, jobs, discover), daemon=True)
    with contextlib.redirect_stdout(io.StringIO()):
        process.start()
    sender.close()
    return process, receiver


def _stop(process) -> None:
    if process.is_alive():
        process.kill()
    process.join()


def _receive(receiver, process, time_limit: float) -> tuple[str, object] | None:
    """The child's next message; ``None`` on time-out; ``("crashed", exit code)`` if it died silently."""
    if not receiver.poll(time_limit):
        return None
    try:
        return receiver.recv()
    except EOFError:
        process.join()
        return ("crashed", process.exitcode)


def discover(source: Source, names: set[str], time_limit: float) -> dict[str, list[str]]:
    """Import the learner's file in a child and list its course functions; ``UserError`` if it cannot."""
    process, receiver = _start(source, [], discover=names)
    try:
        message = _receive(receiver, process, time_limit)
    finally:
        _stop(process)
    if message is None:
        raise UserError(f"importing {source} did not finish within {time_limit:g} s (module-level code?)")
    tag, payload = message
    if tag == "import-error":
        raise UserError(f"{source} does not import:\n{payload}")
    if tag == "crashed":
        raise UserError(f"importing {source} ended the process (exit code {payload})")
    return payload


def run(source: Source, jobs: Sequence[tuple[str, list[Case]]], time_limit: float
        ) -> dict[str, list[Call] | str]:
    """``{name: [Call per case]}``, or ``TIMEOUT`` / ``"crashed (exit code N)"`` for that function."""
    results: dict[str, list[Call] | str] = {}
    pending = list(jobs)
    while pending:
        process, receiver = _start(source, pending)
        done = 0
        try:
            for name, _ in pending:
                message = _receive(receiver, process, time_limit)
                done += 1
                if message is None:
                    results[name] = TIMEOUT
                    break
                tag, payload = message
                if tag == "import-error":
                    raise UserError(f"the file does not import:\n{payload}")
                if tag == "crashed":
                    results[name] = f"crashed (exit code {payload})"
                    break
                results[name] = payload
        finally:
            _stop(process)
        pending = pending[done:]
    return results
