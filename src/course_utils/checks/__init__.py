"""Automatic checks for the exercises: one place for every chapter.

A check runs the learner's function and a reference on several inputs (edge cases included)
and says which input failed, with expected vs got (shapes and values), without showing the
reference's code. A passing check prints one clear line. Chapter-specific checks live in the
modules ``ch01``, ``ch02``, ... of this package and are built from :func:`check_function`.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch


class CheckFailed(AssertionError):
    """Raised when a learner's answer does not match; the message says what to look at."""


@dataclass
class Case:
    """One input to try: positional ``args``, keyword ``kwargs`` and a human-readable ``label``."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def describe(value: Any) -> str:
    """Short description of a value for messages: shape and dtype for tensors."""
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{type(value).__name__} of length {len(value)}"
    return repr(value)


def compare(got: Any, expected: Any, atol: float = 1e-4, rtol: float = 1e-4) -> str | None:
    """``None`` when ``got`` matches ``expected``, else a sentence saying how they differ."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a torch tensor, got {type(got).__name__}: {describe(got)}"
        if got.shape != expected.shape:
            return f"expected shape {tuple(expected.shape)}, got shape {tuple(got.shape)}"
        if not torch.allclose(got.double(), expected.double(), atol=atol, rtol=rtol, equal_nan=True):
            diff = (got.double() - expected.double()).abs()
            where = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
            return (f"values differ: largest difference {diff.max().item():.3g} at index {where} "
                    f"(expected {expected[where].item():.4g}, got {got[where].item():.4g})")
        return None
    if isinstance(expected, float):
        ok = isinstance(got, (int, float)) and abs(got - expected) <= atol + rtol * abs(expected)
        return None if ok else f"expected {expected:.4g}, got {describe(got)}"
    return None if got == expected else f"expected {describe(expected)}, got {describe(got)}"


def check_signature(learner: Callable, parameters: Sequence[str]) -> None:
    """The learner's function must take these parameter names, in this order (first ones)."""
    names = list(inspect.signature(learner).parameters)
    if names[: len(parameters)] != list(parameters):
        raise CheckFailed(f"{learner.__name__} should take parameters {tuple(parameters)} in that order, but takes {tuple(names)}")


def check_function(learner: Callable, reference: Callable, cases: Sequence[Case], *, name: str | None = None,
                   parameters: Sequence[str] | None = None, atol: float = 1e-4, rtol: float = 1e-4) -> None:
    """Run ``learner`` and ``reference`` on every case; raise :class:`CheckFailed` at the first mismatch."""
    name = name or getattr(learner, "__name__", "your function")
    if parameters is not None:
        check_signature(learner, parameters)
    for case in cases:
        expected = reference(*case.args, **case.kwargs)
        try:
            got = learner(*case.args, **case.kwargs)
        except NotImplementedError as err:
            raise CheckFailed(f"{name} is not implemented yet. {err}") from None
        except Exception as err:  # the learner's bug: report it against the input that caused it
            raise CheckFailed(f"{name} raised {type(err).__name__}: {err}\n  on input: {case.label}") from err
        problem = compare(got, expected, atol, rtol)
        if problem:
            inputs = ", ".join(describe(a) for a in case.args)
            raise CheckFailed(f"{name} is wrong on input: {case.label}\n  arguments: {inputs}\n  {problem}")
    passed(f"{name}: all {len(cases)} cases match")


def passed(message: str) -> None:
    """Print the one line a learner sees when a check passes."""
    print(f"\u2705 Check passed. {message}.")
