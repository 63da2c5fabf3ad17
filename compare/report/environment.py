"""What the numbers were measured on: Python, NumPy, torch, BLAS, CPU, threads, GPU."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np
import torch

from compare.perf.timing import thread_settings


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(threads: dict[str, object] | None = None) -> dict[str, object]:
    """Versions, CPU, GPU and ``threads`` (default: :func:`compare.perf.timing.thread_settings` now; pass the
    settings a measurement ran under when it ran inside :func:`compare.perf.timing.pinned_threads`)."""
    gpu = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
               "cuda": torch.version.cuda}
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": thread_settings() if threads is None else threads,
        "gpu": gpu,
    }
