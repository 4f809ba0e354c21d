"""Automatic checks for the exercises: one place for every chapter.

A check runs the learner's function and a reference on several inputs (edge cases included)
and says which input failed, with expected vs got (shapes and values), without showing the
reference's code. Chapter-specific checks live in the modules ``ch01``, ``ch02``, ... of this
package and are built from :func:`check_function` (a function answer) or :func:`check_value`
(a computed answer).

What a learner sees:

- a passing check prints one line, ``✅ Check passed. ...``;
- a wrong answer raises :class:`CheckFailed`: the input, then expected vs got;
- an exercise not attempted yet (its function still raises ``NotImplementedError``, as in the
  student edition) raises :class:`NotImplementedYet`, a ``CheckFailed`` that repeats the hint.

A check always *raises* when it does not pass, so a grader (nbgrader, or executing the notebook)
counts an untouched exercise as failed. In a notebook the error shows as a short message rather
than a long traceback; when the learner's own code crashed, the lines of *their* code are shown.
"""
from __future__ import annotations

import importlib
import inspect
import numbers
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

_HERE = str(Path(__file__).resolve().parent)


def __getattr__(name: str):
    """``checks.ch02`` works after ``from course_utils.teaching import checks``: chapter modules load on first use."""
    if re.fullmatch(r"ch\d\d\w*", name):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class CheckFailed(AssertionError):
    """Raised when a learner's answer does not match; the message says what to look at."""

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing the full traceback: the frames inside the check
        # would only hide the message. A crash in the learner's code keeps the learner's frames.
        lines = [f"\x1b[31m{type(self).__name__}:\x1b[0m {self}"]
        cause = self.__cause__
        if cause is not None and cause.__traceback__ is not None:
            frames = [f for f in traceback.extract_tb(cause.__traceback__) if not f.filename.startswith(_HERE)]
            if frames:
                lines.append("Where it happened in your code:")
                lines += [line.rstrip("\n") for line in traceback.format_list(frames)]
            lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(cause), cause)]
        return lines


class NotImplementedYet(CheckFailed):
    """The learner's function still raises ``NotImplementedError``: the exercise is not attempted."""


@dataclass
class Case:
    """One input to try: positional ``args``, keyword ``kwargs`` and a human-readable ``label``.

    ``raises``: the exception type the function must raise on this input (for example
    ``ValueError`` for a wrong shape); ``None`` means it must return the reference's answer.
    """

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    raises: type[Exception] | None = None


def describe(value: Any) -> str:
    """Short description of a value for messages: shape and dtype for tensors and arrays."""
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"numpy array of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{type(value).__name__} of length {len(value)}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(t: torch.Tensor) -> str:
    if t.dtype == torch.bool:
        return "boolean"
    if t.is_complex():
        return "complex"
    return "floating-point" if t.is_floating_point() else "integer"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _compare_tensors(got: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> str | None:
    if got.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}, got shape {tuple(got.shape)}"
    if _kind(got) != _kind(expected):
        return f"expected {_article(_kind(expected))} {_kind(expected)} tensor ({expected.dtype}), got {_article(_kind(got))} {_kind(got)} tensor ({got.dtype})"
    got, expected = got.detach().cpu(), expected.detach().cpu()
    if _kind(expected) in ("boolean", "integer"):
        if torch.equal(got, expected):
            return None
        where = tuple(int(i) for i in torch.nonzero(got != expected)[0])
        return f"values differ at index {where}: expected {expected[where].item()}, got {got[where].item()}"
    g, e = got.to(torch.complex128 if got.is_complex() else torch.float64), expected.to(torch.complex128 if expected.is_complex() else torch.float64)
    if torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
        return None
    bad = ~torch.isclose(g, e, atol=atol, rtol=rtol, equal_nan=True)
    diff = torch.where(bad, (g - e).abs().nan_to_num(nan=float("inf")), torch.zeros_like(g.real if g.is_complex() else g))
    where = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])  # the worst element (NaN counts as worst)
    count = int(bad.sum())
    return (f"values differ at {count} of {bad.numel()} positions; largest difference at index {where}: "
            f"expected {e[where].item():.4g}, got {g[where].item():.4g}")


def compare(got: Any, expected: Any, atol: float = 1e-4, rtol: float = 1e-4) -> str | None:
    """``None`` when ``got`` matches ``expected``, else a sentence saying how they differ.

    Tensors (and numpy arrays) must have the same shape and kind of dtype (bool, integer, float)
    and close values; tuples, lists and dicts are compared element by element; floats within
    ``atol + rtol * |expected|``; anything else with ``==``.
    """
    if isinstance(expected, np.ndarray):
        expected = torch.from_numpy(expected)
        got = torch.from_numpy(got) if isinstance(got, np.ndarray) else got
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a torch tensor, got {type(got).__name__}: {describe(got)}"
        return _compare_tensors(got, expected, atol, rtol)
    if isinstance(expected, (tuple, list)) and not isinstance(expected, torch.Size):
        if not isinstance(got, (tuple, list)):
            return f"expected a {type(expected).__name__} of {len(expected)} items, got {describe(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, atol, rtol)
            if problem:
                return f"item [{i}]: {problem}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"expected a dict with keys {sorted(expected, key=str)}, got {describe(got)}"
        for key in expected:
            problem = compare(got[key], expected[key], atol, rtol)
            if problem:
                return f"key {key!r}: {problem}"
        return None
    if isinstance(expected, bool) or isinstance(got, bool):
        return None if got is expected or (isinstance(got, np.bool_) and bool(got) == expected) else f"expected {expected!r}, got {describe(got)}"
    if isinstance(expected, float):
        ok = isinstance(got, numbers.Real) and abs(float(got) - expected) <= atol + rtol * abs(expected)
        return None if ok else f"expected {expected:.4g}, got {describe(got)}"
    if isinstance(expected, numbers.Integral):
        ok = isinstance(got, numbers.Integral) and int(got) == int(expected)
        return None if ok else f"expected the integer {expected}, got {describe(got)}"
    return None if got == expected else f"expected {describe(expected)}, got {describe(got)}"


def check_signature(learner: Callable, parameters: Sequence[str]) -> None:
    """The learner's function must take these parameter names, in this order (first ones)."""
    if not callable(learner):
        raise CheckFailed(f"expected a function, got {describe(learner)}")
    names = list(inspect.signature(learner).parameters)
    if names[: len(parameters)] != list(parameters):
        name = getattr(learner, "__name__", "your function")
        raise CheckFailed(f"{name} should take parameters {tuple(parameters)} in that order, but takes {tuple(names)}")


def _clone(value: Any) -> Any:
    """Copy the tensors in ``value`` (also inside tuples, lists, dicts) so nobody shares inputs."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list)) and not isinstance(value, torch.Size):
        return type(value)(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal shapes and values, NaN equal to NaN (``torch.equal`` says NaN != NaN)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    equal = a == b
    if a.is_floating_point() or a.is_complex():
        equal |= a.isnan() & b.isnan()
    return bool(equal.all())


def _call(learner: Callable, name: str, case: Case) -> tuple[Any, BaseException | None]:
    """Run the learner on fresh copies of the case's inputs; return (result, exception)."""
    args, kwargs = _clone(case.args), _clone(case.kwargs)
    try:
        got = learner(*args, **kwargs)
    except NotImplementedError as err:
        raise NotImplementedYet(f"{name} is not implemented yet. {err}".rstrip()) from None
    except Exception as err:  # the learner's bug, or the error the case asks for
        return None, err
    for position, (before, after) in enumerate(zip(case.args, args)):
        if isinstance(before, torch.Tensor) and not _same(before, after):
            raise CheckFailed(f"{name} changed its argument {position + 1} in place on input: {case.label}. "
                              "Work on a copy (for example x.clone()) instead.")
    return got, None


def check_function(learner: Callable, reference: Callable, cases: Sequence[Case], *, name: str | None = None,
                   parameters: Sequence[str] | None = None, atol: float = 1e-4, rtol: float = 1e-4) -> None:
    """Run ``learner`` and ``reference`` on every case; raise :class:`CheckFailed` at the first mismatch.

    ``parameters``: the names the learner's function must take, in order. Each call gets fresh
    copies of the inputs; changing an input tensor in place counts as a mistake.
    """
    name = name or getattr(learner, "__name__", "your function")
    if not callable(learner):
        raise CheckFailed(f"expected {name} to be a function, got {describe(learner)}")
    if parameters is not None:
        check_signature(learner, parameters)
    for case in cases:
        got, err = _call(learner, name, case)
        inputs = ", ".join([describe(a) for a in case.args] + [f"{k}={describe(v)}" for k, v in case.kwargs.items()])
        if case.raises is not None:
            if isinstance(err, case.raises):
                continue
            outcome = f"raised {type(err).__name__}: {err}" if err else f"returned {describe(got)}"
            raise CheckFailed(f"{name} should raise {case.raises.__name__} on input: {case.label}, but it {outcome}")
        if err is not None:
            raise CheckFailed(f"{name} raised {type(err).__name__}: {err}\n  on input: {case.label}\n"
                              f"  arguments: {inputs}") from err
        expected = reference(*_clone(case.args), **_clone(case.kwargs))
        problem = compare(got, expected, atol, rtol)
        if problem:
            raise CheckFailed(f"{name} is wrong on input: {case.label}\n  arguments: {inputs}\n  {problem}")
    passed(f"{name}: all {len(cases)} cases match")


def check_value(got: Any, expected: Any, *, name: str = "your answer", atol: float = 1e-4, rtol: float = 1e-4) -> None:
    """Compare a computed answer with the expected one; raise :class:`CheckFailed` if they differ."""
    problem = compare(got, expected, atol, rtol)
    if problem:
        raise CheckFailed(f"{name} is not right: {problem}")
    passed(f"{name} matches")


def passed(message: str) -> None:
    """Print the one line a learner sees when a check passes."""
    print(f"\u2705 Check passed. {message}.")
