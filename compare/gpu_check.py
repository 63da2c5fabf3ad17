"""``make gpu-check`` (``python -m compare.gpu_check``): every CUDA path, once, on a GPU machine lent for minutes.

In under 8 minutes on one GPU it runs, each as its own process with its own time limit:

1. the CUDA tests (``pytest -m cuda``);
2. ``compare run --device cuda`` on every concept, float64 then float32 (TF32 off: the harness's CUDA parity
   settings, and ``NVIDIA_TF32_OVERRIDE=0`` for good measure), records as JSON;
3. a short CUDA benchmark (``compare bench --quick``: the dense target point, the conv and LSTM rows);
4. with 2 or more GPUs, ``DistributedDataParallel`` on NCCL (``compare run data_parallel --device cuda``: the
   variants with as many workers as there are GPUs).

Everything goes into one folder named after the device, ``gpu-check-<device>/`` under the current directory
(``--out-root`` to put it elsewhere): a log per step, the JSON records, the bench's files and ``summary.json`` /
``summary.md``, all naming files by relative paths (the logs have the working directory replaced by ``.``). A
one-screen summary is printed at the end. Exit status 0 when every step passed, 1 otherwise.

On a machine without a CUDA GPU it says so, writes nothing and exits 0 with "no GPU".
This module imports only the standard library (and torch, to ask for GPUs): every step runs as a subprocess, so a
crash or a hang in one is recorded and the next one still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

#: The whole check must end within this many seconds (the issue's 8 minutes, less a margin for start-up).
BUDGET_SECONDS = 450
SUMMARY_LINES = 24


@dataclass(frozen=True)
class Step:
    """One command of the check: ``argv`` after ``python -m``, its time limit, and what it needs."""

    name: str
    argv: tuple[str, ...]
    limit: float
    min_gpus: int = 1


@dataclass
class Outcome:
    """What a step did: ``status`` is ok, FAIL, timeout or skipped; ``log`` a path relative to the folder."""

    name: str
    status: str
    seconds: float
    returncode: int | None
    log: str | None
    detail: str = ""


def gpus() -> list[str]:
    """The names of the CUDA devices torch sees (empty without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]


def folder_name(device: str) -> str:
    """``"NVIDIA H200"`` -> ``"gpu-check-nvidia-h200"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-")
    return f"gpu-check-{slug or 'cuda'}"


def plan(n_gpus: int) -> list[Step]:
    """The steps, in order; a step needing more GPUs than ``n_gpus`` is listed and skipped."""
    return [
        Step("cuda-tests", ("pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "--junitxml",
                            "pytest-cuda.xml"), 75),
        Step("run-cuda-float64", ("compare", "run", "--device", "cuda", "--dtype", "float64", "--no-timing",
                                  "--json", "run-cuda-float64.json"), 120),
        Step("run-cuda-float32", ("compare", "run", "--device", "cuda", "--dtype", "float32", "--no-timing",
                                  "--json", "run-cuda-float32.json"), 120),
        Step("bench-cuda", ("compare", "bench", "deep_net", "conv", "rnn", "--quick", "--device", "cuda",
                            "--out", "bench"), 75),
        Step("ddp-nccl", ("compare", "run", "data_parallel", "--device", "cuda", "--no-timing", "--json",
                          "ddp-nccl.json"), 60, min_gpus=2),
    ]


def relative_text(text: str, root: Path) -> str:
    """``text`` with the absolute paths of this machine's working and project folders replaced by ``.``."""
    for folder in sorted({str(Path.cwd()), str(root)}, key=len, reverse=True):
        text = text.replace(folder, ".")
    return text


def run_step(step: Step, folder: Path, root: Path, limit: float, n_gpus: int) -> Outcome:
    """Run ``step`` inside ``folder`` (so its outputs land there by relative path), its log beside them."""
    if n_gpus < step.min_gpus:
        return Outcome(step.name, "skipped", 0.0, None, None, f"needs {step.min_gpus}+ GPUs, this machine has {n_gpus}")
    if limit <= 0:
        return Outcome(step.name, "skipped", 0.0, None, None, "no time left in the budget")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
           "NVIDIA_TF32_OVERRIDE": "0"}
    argv = [sys.executable, "-m", *step.argv]
    if step.argv[0] == "pytest":
        argv += ["--rootdir", str(root), str(root / "tests")]
    log = f"{step.name}.log"
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=limit)
        output, returncode = done.stdout + done.stderr, done.returncode
        status = "ok" if returncode == 0 else "FAIL"
    except subprocess.TimeoutExpired as expired:
        output = "".join(part if isinstance(part, str) else (part or b"").decode(errors="replace")
                         for part in (expired.stdout, expired.stderr))
        returncode, status = None, "timeout"
    seconds = time.monotonic() - started
    (folder / log).write_text(relative_text(output, root))
    last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
    return Outcome(step.name, status, seconds, returncode, log, relative_text(last, root)[:100])


def summary_lines(device: str, n_gpus: int, folder: str, outcomes: Sequence[Outcome], seconds: float) -> list[str]:
    """The printed summary (at most :data:`SUMMARY_LINES` lines)."""
    lines = [f"gpu-check on {n_gpus} x {device}: {seconds:.0f} s, everything in {folder}/", ""]
    for outcome in outcomes:
        took = f"{outcome.seconds:6.1f}s" if outcome.status != "skipped" else "      -"
        lines.append(f"  {outcome.status:8s} {outcome.name:18s} {took}  {outcome.detail}")
    failed = [o.name for o in outcomes if o.status in ("FAIL", "timeout")]
    lines += ["", "all steps passed" if not failed else f"failed: {', '.join(failed)} (see their .log files)"]
    return lines[:SUMMARY_LINES]


def check(out_root: Path, names: Sequence[str], *, budget: float = BUDGET_SECONDS) -> int:
    """Run :func:`plan` for the GPUs ``names`` into ``out_root / folder_name(names[0])``; 0 when all passed."""
    root = Path(__file__).resolve().parents[1]
    folder = out_root / folder_name(names[0])
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcomes = []
    for step in plan(len(names)):
        remaining = budget - (time.monotonic() - started)
        outcome = run_step(step, folder, root, min(step.limit, remaining), len(names))
        outcomes.append(outcome)
        print(f"gpu-check: {outcome.name}: {outcome.status} ({outcome.seconds:.1f}s)", file=sys.stderr, flush=True)
    seconds = time.monotonic() - started
    lines = summary_lines(names[0], len(names), folder.name, outcomes, seconds)
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
    (folder / "summary.json").write_text(json.dumps({"devices": list(names), "seconds": seconds,
                                                     "steps": [asdict(o) for o in outcomes]}, indent=2) + "\n")
    print("\n".join(lines))
    return 0 if all(o.status in ("ok", "skipped") for o in outcomes) else 1


NO_GPU = ("no GPU: torch sees no CUDA device on this machine, so there is nothing to check. On a machine with a "
          "GPU, `make gpu-check` runs the CUDA tests, `compare run` on CUDA (float64 and float32), a CUDA benchmark "
          "and, with 2+ GPUs, DDP on NCCL, into one folder named after the device.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compare.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out-root", type=Path, default=Path("."),
                        help="where the gpu-check-<device> folder goes (default: the current directory)")
    args = parser.parse_args(argv)
    names = gpus()
    if not names:
        print(NO_GPU)
        return 0
    return check(args.out_root, names)


if __name__ == "__main__":
    sys.exit(main())
