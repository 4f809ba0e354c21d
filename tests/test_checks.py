"""The check framework (course_utils.teaching.checks): what a learner sees for right, wrong and missing answers."""
import inspect

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.teaching import checks
from course_utils.teaching.checks import Case, CheckFailed, NotImplementedYet, check_function, check_signature, check_value, compare


def reference_relu(x: torch.Tensor) -> torch.Tensor:
    secret_line = torch.where(x > 0, x, torch.zeros_like(x))  # a line no message may show
    return secret_line


CASES = [
    Case("a 2 x 3 matrix with negatives", (torch.tensor([[-1.0, 2.0, -3.0], [4.0, -5.0, 6.0]]),)),
    Case("all zeros (edge case)", (torch.zeros(4),)),
    Case("an empty tensor (edge case)", (torch.zeros(0),)),
]


# --- compare -----------------------------------------------------------------------------------

def test_compare_accepts_equal_and_close_values():
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    assert compare(x, x.clone()) is None
    assert compare(x + 1e-6, x) is None
    assert compare((x, 3, 2.5), (x.clone(), 3, 2.5 + 1e-7)) is None
    assert compare({"a": x}, {"a": x.clone()}) is None
    assert compare(np.ones((2, 2)), np.ones((2, 2))) is None


def test_compare_names_shape_dtype_and_worst_position():
    expected = torch.zeros(2, 3)
    assert compare(torch.zeros(3, 2), expected) == "expected shape (2, 3), got shape (3, 2)"
    assert "integer" in compare(torch.zeros(2, 3, dtype=torch.long), expected)
    got = expected.clone()
    got[1, 2], got[0, 0] = 5.0, 0.5
    message = compare(got, expected)
    assert "index (1, 2)" in message and "expected 0" in message and "got 5" in message
    assert "2 of 6 positions" in message
    assert compare([1.0], torch.ones(1)).startswith("expected a torch tensor, got list")


def test_compare_reports_nan_instead_of_crashing():
    got = torch.tensor([1.0, float("nan"), 3.0])
    message = compare(got, torch.tensor([1.0, 2.0, 3.0]))
    assert "index (1,)" in message and "nan" in message
    assert compare(torch.tensor([float("nan")]), torch.tensor([float("nan")])) is None


def test_compare_containers_and_scalars():
    x = torch.ones(2)
    assert compare((x, x * 2), (x, x)) .startswith("item [1]: values differ")
    assert compare((x,), (x, x)) == "expected 2 items, got 1"
    assert compare({"b": x}, {"a": x}).startswith("expected a dict with keys ['a']")
    assert compare(3, 4) == "expected the integer 4, got 3"
    assert compare(3.0, 3) is not None  # a float where a count is expected
    assert compare(0.5, 0.25) == "expected 0.25, got 0.5"
    assert compare(True, False) is not None and compare(True, True) is None
    assert compare(torch.Size([2, 3]), (2, 3)) is None
    assert compare(torch.tensor([1, 2]), torch.tensor([1, 3])) == "values differ at index (1,): expected 3, got 2"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20), st.floats(0.01, 10.0))
def test_compare_detects_any_perturbation_above_tolerance(values, delta):
    expected = torch.tensor(values, dtype=torch.float64)
    assert compare(expected.clone(), expected) is None
    got = expected.clone()
    got[len(values) // 2] += delta + 1e-3 * abs(float(expected[len(values) // 2]))
    assert compare(got, expected) is not None


# --- check_function ----------------------------------------------------------------------------

def test_a_right_answer_passes_with_one_clear_line(capsys):
    check_function(torch.relu, reference_relu, CASES, name="relu")
    assert capsys.readouterr().out == "\u2705 Check passed. relu: all 3 cases match.\n"


def test_a_wrong_answer_names_the_input_and_expected_vs_got_but_not_the_solution():
    def leaky(x):
        return torch.where(x > 0, x, 0.1 * x)

    with pytest.raises(CheckFailed) as info:
        check_function(leaky, reference_relu, CASES)
    message = str(info.value)
    assert "leaky is wrong on input: a 2 x 3 matrix with negatives" in message
    assert "tensor of shape (2, 3)" in message and "expected 0, got -0.5" in message
    assert "secret_line" not in message and "torch.where" not in message
    assert inspect.getsource(reference_relu).splitlines()[1].strip() not in message


def test_a_wrong_shape_is_reported_as_shapes():
    with pytest.raises(CheckFailed, match=r"expected shape \(2, 3\), got shape \(6,\)"):
        check_function(lambda x: torch.relu(x).flatten(), reference_relu, CASES[:1], name="relu")


def test_the_student_placeholder_fails_with_its_hint():
    def my_relu(x):
        raise NotImplementedError("Hint: keep the positive part.")

    with pytest.raises(NotImplementedYet) as info:
        check_function(my_relu, reference_relu, CASES)
    assert isinstance(info.value, CheckFailed)
    assert str(info.value) == "my_relu is not implemented yet. Hint: keep the positive part."
    assert info.value._render_traceback_() == [f"\x1b[31mNotImplementedYet:\x1b[0m {info.value}"]


def test_a_crash_in_the_learners_code_shows_the_learners_line():
    def my_relu(x):
        return x.clamp(min=0) + undefined_name  # noqa: F821

    with pytest.raises(CheckFailed) as info:
        check_function(my_relu, reference_relu, CASES)
    assert "my_relu raised NameError" in str(info.value) and "on input: a 2 x 3 matrix" in str(info.value)
    rendered = "\n".join(info.value._render_traceback_())
    assert "undefined_name" in rendered and "in my_relu" in rendered
    assert "checks/__init__.py" not in rendered  # the check's own frames are noise for a learner


def test_changing_an_input_in_place_is_a_mistake():
    def in_place(x):
        return x.clamp_(min=0)

    with pytest.raises(CheckFailed, match="changed its argument 1 in place"):
        check_function(in_place, reference_relu, CASES)


def test_inputs_with_nan_are_not_mistaken_for_in_place_changes(capsys):
    case = Case("a NaN", (torch.tensor([float("nan"), -1.0]),))
    check_function(torch.relu, torch.nn.functional.relu, [case], name="relu")
    assert "Check passed" in capsys.readouterr().out


def test_cases_that_must_raise():
    def strict(x):
        if x.ndim != 1:
            raise ValueError(f"expected 1 dimension, got {x.ndim}")
        return torch.relu(x)

    cases = [Case("a vector", (torch.ones(3),)), Case("a matrix must be refused", (torch.ones(2, 2),), raises=ValueError)]
    check_function(strict, reference_relu, cases)
    with pytest.raises(CheckFailed, match="should raise ValueError on input: a matrix must be refused, but it returned tensor"):
        check_function(torch.relu, reference_relu, cases, name="relu")


def test_signature_names_and_order():
    def good(x, weight, bias=None):
        return x

    def swapped(weight, x, bias=None):
        return x

    check_signature(good, ["x", "weight"])
    with pytest.raises(CheckFailed, match=r"should take parameters \('x', 'weight'\) in that order, but takes \('weight', 'x', 'bias'\)"):
        check_function(swapped, lambda x, weight, bias=None: x, [Case("one", (torch.ones(1), torch.ones(1)))], parameters=["x", "weight"])
    with pytest.raises(CheckFailed, match="expected a function"):
        check_signature(3, ["x"])


def test_check_value(capsys):
    check_value((2, 3), (2, 3), name="the output shape")
    assert capsys.readouterr().out == "\u2705 Check passed. the output shape matches.\n"
    with pytest.raises(CheckFailed, match="the output shape is not right: item \\[1\\]: expected the integer 3, got 4"):
        check_value((2, 4), (2, 3), name="the output shape")


def test_ipython_shows_the_short_message_not_a_traceback(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.user_ns["checks"] = checks
    result = shell.run_cell("def f(x):\n    raise NotImplementedError('Hint: h.')\n"
                            "checks.check_function(f, lambda x: x, [checks.Case('one', (1,))])")
    assert isinstance(result.error_in_exec, NotImplementedYet)
    shown = capsys.readouterr().out
    assert "f is not implemented yet. Hint: h." in shown and "Traceback" not in shown


def test_chapter_check_modules_load_on_first_use():
    import subprocess
    import sys

    code = ("from course_utils.teaching import checks\n"
            "import sys\n"
            "assert 'course_utils.teaching.checks.ch02' not in sys.modules\n"
            "print(checks.ch02.__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "course_utils.teaching.checks.ch02", result.stderr
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        checks.nothing  # noqa: B018
