"""The published reference vectors in ``tests/data/reference-vectors/`` (sources in the README there).

A missing file is an error, never a skip: these checks must run in every clone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DIRECTORY = Path(__file__).resolve().parent / "data" / "reference-vectors"


def cases(filename: str) -> list[dict]:
    """Every case of ``filename`` (e.g. ``"micrograd.json"``); ``FileNotFoundError`` if it is missing."""
    return json.loads((DIRECTORY / filename).read_text())["cases"]


def setup(case: dict) -> dict:
    """The namespace made by the case's published ``setup`` snippet (plain numpy literals), ``np`` included."""
    namespace: dict = {"np": np}
    exec(case["setup"], namespace)
    return namespace
