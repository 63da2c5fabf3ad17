"""Every defaulted parameter of scratch/ and torch_ref/ is varied by a test (registry: argument_sensitivity.py).

For each registry row the callable runs three ways on a small fixed problem: with the parameter omitted, with its
default passed explicitly (must give the same result: the default in the signature is the one the code uses),
and with a non-default value, which must change the result beyond rounding (``differs``: an ignored parameter
fails) or leave it equal within ``SAME_RTOL`` (``same``: ``check=False`` on valid input, another implementation
of the same function). The coverage test lists every defaulted parameter by introspection, so a new one without
a row fails the suite.
"""

from __future__ import annotations

import dataclasses

import argument_sensitivity as reg
import numpy as np
import pytest
import torch

#: a difference below this (relative to the values' size) is rounding, not an effect of the parameter
DIFFER_RTOL = 1e-9
#: two implementations of the same function (loops vs im2col, loop vs vectorized) agree to rounding
SAME_RTOL = 1e-9


def _leaves(value: object, path: str = "result"):
    """``(path, leaf)`` pairs: arrays and tensors as NumPy arrays, containers walked, objects by their fields."""
    if isinstance(value, torch.Tensor):
        yield path, value.detach().cpu().numpy()
    elif isinstance(value, np.ndarray | np.generic):
        yield path, np.asarray(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield from _leaves({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, path)
    elif isinstance(value, dict):
        yield f"{path}.keys", tuple(value)
        for key, item in value.items():
            yield from _leaves(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        yield f"{path}.len", len(value)
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def _close(a: object, b: object, rtol: float) -> bool:
    left, right = list(_leaves(a)), list(_leaves(b))
    if [p for p, _ in left] != [p for p, _ in right]:
        return False
    for (_, x), (_, y) in zip(left, right, strict=True):
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            if x.shape != y.shape or x.dtype != y.dtype:
                return False
            if x.dtype.kind in "fc":
                scale = max(float(np.max(np.abs(x[np.isfinite(x)]), initial=0.0)), 1e-300)
                if not np.allclose(x, y, rtol=0.0, atol=rtol * scale, equal_nan=True):
                    return False
            elif not np.array_equal(x, y):
                return False
        elif isinstance(x, float) and isinstance(y, float):
            if not np.isclose(x, y, rtol=rtol, atol=0.0, equal_nan=True):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def _rows(kind: str) -> list[tuple[str, str, object]]:
    return [(q, p, v) for q, p, k, v in reg.entries() if k == kind]


def _call(qualname: str, parameter: str, value: object) -> tuple[object, object, object]:
    """The result with the parameter omitted, with its default passed, and with ``value`` (in its context).

    A parameter in the row's ``base`` is never omitted: the base value stands for the default (which is then not
    run, being too costly) and the explicit-default result is ``None``.
    """
    spec = reg.VARIES[qualname]
    kwargs = {**spec.base, **(value.context if isinstance(value, reg.With) else {})}
    value = value.value if isinstance(value, reg.With) else value
    explicit = None if parameter in spec.base else \
        spec.run(**{**kwargs, parameter: reg.default_of(qualname, parameter)})
    return spec.run(**kwargs), explicit, spec.run(**{**kwargs, parameter: value})


DIFFERS, SAME = _rows("differs"), _rows("same")


@pytest.mark.parametrize(("qualname", "parameter", "value"), DIFFERS, ids=[f"{q}-{p}" for q, p, _ in DIFFERS])
def test_a_non_default_value_changes_the_result(qualname: str, parameter: str, value: object) -> None:
    omitted, explicit, varied = _call(qualname, parameter, value)
    if explicit is not None:
        assert _close(omitted, explicit, 0.0), f"{qualname}: passing {parameter}'s default changes the result"
    assert not _close(omitted, varied, DIFFER_RTOL), f"{qualname}: {parameter}={value!r} has no effect"


@pytest.mark.parametrize(("qualname", "parameter", "value"), SAME, ids=[f"{q}-{p}" for q, p, _ in SAME])
def test_a_non_default_value_that_must_not_change_the_result(qualname: str, parameter: str, value: object) -> None:
    omitted, explicit, varied = _call(qualname, parameter, value)
    if explicit is not None:
        assert _close(omitted, explicit, 0.0), f"{qualname}: passing {parameter}'s default changes the result"
    assert _close(omitted, varied, SAME_RTOL), f"{qualname}: {parameter}={value!r} changes the result"


def test_every_defaulted_parameter_has_exactly_one_row() -> None:
    found = reg.defaulted_parameters()
    assert len(found) == len(set(found))
    listed = [(q, p) for q, p, _, _ in reg.entries()]
    assert len(listed) == len(set(listed)), "a parameter listed twice"
    missing, stale = set(found) - set(listed), set(listed) - set(found)
    assert not missing, f"defaulted parameters no test varies (add a row to VARIES or, with a reason, ALLOWED): " \
                        f"{sorted(missing)}"
    assert not stale, f"rows for parameters that no longer exist: {sorted(stale)}"


def test_the_comparison_tells_a_change_from_rounding() -> None:
    a = {"W": np.array([1.0, 2.0]), "n": 3}
    assert _close(a, {"W": np.array([1.0, 2.0 + 1e-15]), "n": 3}, DIFFER_RTOL)
    assert not _close(a, {"W": np.array([1.0, 2.0 + 1e-6]), "n": 3}, DIFFER_RTOL)
    assert not _close(a, {"W": np.array([1.0, 2.0], dtype=np.float32), "n": 3}, DIFFER_RTOL)
    assert not _close(a, {"W": np.array([1.0, 2.0]), "n": 4}, DIFFER_RTOL)
    assert not _close(("raised", "ValueError", "X"), ("raised", "ValueError", "X_train"), DIFFER_RTOL)


def test_the_generated_report_is_current() -> None:
    assert reg.DOC.read_text() == reg.render(), "run: python tests/argument_sensitivity.py"
