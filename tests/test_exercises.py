"""Every chapter's exercises: well formed, each solution passes its check, each placeholder fails it.

Fast: a chapter is not run as a whole. For each exercise the test runs only the cells that its
solution and check need (found from the names they use), in this process, then the solution cell
and the check; then the same with the student placeholder (course_utils.instructor.assign) instead.
"""
from __future__ import annotations

import builtins
import contextlib
import io
import re
import symtable
from pathlib import Path

import matplotlib
import nbformat
import pytest

from course_utils.instructor import assign
from course_utils.teaching.checks import CheckFailed

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
MIN_EXERCISES = 3


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _exercise_params():
    params = []
    for path in CHAPTERS:
        nb = _read(path)
        for exercise in assign.exercises(nb, path.name):
            if exercise.solution_start is not None or exercise.solution_cells:  # a code exercise
                params.append(pytest.param(path, exercise.label, id=f"{path.stem}-{exercise.label}"))
    assert params, "no chapter has a code exercise"   # a truncated book fails, never skips
    return params


# --- the format ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_has_enough_well_formed_exercises(path):
    nb = _read(path)
    found = assign.exercises(nb, path.name)
    assert len(found) >= MIN_EXERCISES, f"{path.name} has {len(found)} exercises, needs at least {MIN_EXERCISES}"
    for exercise in found:
        where = f"{path.name}, exercise {exercise.label!r}"
        assert exercise.statement is not None, f"{where}: no ':::{{exercise}}' statement with ':label: {exercise.label}'"
        assert exercise.solution_start is not None, f"{where}: no gated '{{solution-start}} {exercise.label}'"
        assert ":class: dropdown" in nb.cells[exercise.solution_start].source, f"{where}: the solution is not a dropdown"
        assert exercise.solution_end is not None, f"{where}: no '{{solution-end}}'"
        assert exercise.solution_cells, f"{where}: no code cell with '{assign.BEGIN}' / '{assign.END}' inside the solution"
        assert exercise.check is not None, f"{where}: no check cell (a code cell calling checks.chNN.check_...) after the solution"
        for index in exercise.solution_cells:
            source = nb.cells[index].source
            _, indents = assign.clear_solutions(source, f"{where}, cell {index}")
            assert "" not in indents, (f"{where}, cell {index}: the markers are at the top level; put the solution "
                                       "inside a function (def line and docstring outside the markers)")
            assert "check_" not in source, f"{where}, cell {index}: the check belongs in its own cell after the solution"
    student = assign.student_notebook(nb, path.name)  # refuses on unbalanced markers
    assert student.cells[0].source == nb.cells[0].source  # the Colab set-up cell survives


# --- running only the cells an exercise needs ----------------------------------------------------

def _python(source: str) -> str:
    """The cell without IPython-only lines (magics, shell escapes), which exec cannot run."""
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names the cell defines at module level, module-level names it reads).

    ``symtable`` resolves scopes, so a function's parameters and locals are not mistaken for
    names the chapter must have defined earlier.
    """
    table = symtable.symtable(_python(source), "<cell>", "exec")
    defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    used: set[str] = set()

    def walk(scope: symtable.SymbolTable) -> None:
        for symbol in scope.get_symbols():
            if symbol.is_referenced() and (scope.get_type() == "module" or symbol.is_global()):
                used.add(symbol.get_name())
        for child in scope.get_children():
            walk(child)

    walk(table)
    return defined, used - set(dir(builtins))


def _needed_cells(nb, before: int, sources: list[str]) -> list[int]:
    """Indices of the code cells before ``before`` that define what ``sources`` read, transitively."""
    defined_here, needed = set(), set()
    for source in sources:
        defined, used = _names(source)
        defined_here |= defined
        needed |= used
    needed -= defined_here
    chosen = []
    for index in range(before - 1, 0, -1):  # cell 0 is the Colab set-up cell
        cell = nb.cells[index]
        if cell.cell_type != "code":
            continue
        defined, used = _names(cell.source)
        if defined & needed:
            chosen.append(index)
            needed = (needed - defined) | (used - defined)  # a name the cell sets itself needs no earlier cell
    return sorted(chosen)


def _run(sources: list[tuple[str, str]], workdir: Path) -> tuple[str, BaseException | None]:
    """Execute (label, source) pairs in one fresh namespace; return (stdout, first exception)."""
    from IPython.display import display
    import matplotlib.pyplot as plt

    namespace = {"__name__": "__main__", "display": display}
    out = io.StringIO()
    try:
        with contextlib.chdir(workdir), contextlib.redirect_stdout(out):
            for label, source in sources:
                exec(compile(_python(source), label, "exec"), namespace)
    except BaseException as err:  # noqa: BLE001 - the test inspects it
        return out.getvalue(), err
    finally:
        plt.close("all")
    return out.getvalue(), None


def _parts(path: Path, label: str):
    nb = _read(path)
    exercise = next(e for e in assign.exercises(nb, path.name) if e.label == label)
    assert exercise.check is not None and exercise.solution_cells, f"{path.name} {label}: no check or no solution cell"
    solution = [nb.cells[i].source for i in exercise.solution_cells]
    check = nb.cells[exercise.check].source
    setup = [(f"<{path.stem} cell {i}>", nb.cells[i].source)
             for i in _needed_cells(nb, exercise.solution_cells[0], solution + [check])]
    return nb, exercise, setup, solution, check


@pytest.mark.parametrize("path,label", _exercise_params())
def test_the_solution_passes_its_check(path, label):
    nb, exercise, setup, solution, check = _parts(path, label)
    cells = setup + [(f"<{label} solution>", s) for s in solution] + [(f"<{label} check>", check)]
    out, err = _run(cells, path.parent)
    assert err is None, f"{path.name} {label}: {type(err).__name__}: {err}\n{out}"
    assert "Check passed" in out, f"{path.name} {label}: the check printed no pass line:\n{out}"


@pytest.mark.parametrize("path,label", _exercise_params())
def test_the_student_placeholder_fails_its_check_with_a_helpful_message(path, label):
    nb, exercise, setup, solution, check = _parts(path, label)
    placeholders = [assign.clear_solutions(s, label)[0] for s in solution]
    cells = setup + [(f"<{label} placeholder>", s) for s in placeholders] + [(f"<{label} check>", check)]
    out, err = _run(cells, path.parent)
    assert err is not None, f"{path.name} {label}: the check passed on the student placeholder:\n{out}"
    message = str(err)
    hints = [assign.hint_of(assign.solution_lines(s)) for s in solution]
    from_placeholder = isinstance(err, NotImplementedError) and any(
        message == (f"Hint: {h}" if h else "Replace this line with your solution.") for h in hints)
    assert (isinstance(err, CheckFailed) and "not implemented yet" in message) or from_placeholder, (
        f"{path.name} {label}: the placeholder should fail with 'not implemented yet' and its hint, got "
        f"{type(err).__name__}: {message}")
    if any(hints) and isinstance(err, CheckFailed):
        assert any(h in message for h in hints if h), f"{path.name} {label}: the message lost the hint: {message}"
    for line in (l.strip() for s in solution for l in assign.solution_lines(s)):
        if len(line) > 12 and not line.startswith(assign.HINT):
            assert line not in message, f"{path.name} {label}: the message shows a solution line: {line}"


# --- the machinery above, on a chapter written here ----------------------------------------------

def test_needed_cells_are_found_transitively():
    from test_assign import sample_chapter

    nb = sample_chapter()
    nb.cells.insert(3, nbformat.v4.new_code_cell("unused = expensive_thing()"))
    nb.cells.insert(3, nbformat.v4.new_code_cell("%matplotlib inline\nscale = 2"))
    exercise = assign.exercises(nb)[0]
    sources = [nb.cells[i].source for i in exercise.solution_cells] + [nb.cells[exercise.check].source]
    assert _needed_cells(nb, exercise.solution_cells[0], sources) == [2]  # imports and x, not the rest


def test_solution_and_placeholder_runs_on_a_written_chapter(tmp_path):
    from test_assign import write_chapter

    path = write_chapter(tmp_path)
    for label in ("ex-double", "ex-count"):
        test_the_solution_passes_its_check(path, label)
        test_the_student_placeholder_fails_its_check_with_a_helpful_message(path, label)
    # and a wrong solution is caught: the check is not a formality
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace("doubled_secret = x * 2", "doubled_secret = x * 3")
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match=re.escape("double is wrong on input: a ramp")):
        test_the_solution_passes_its_check(path, "ex-double")
