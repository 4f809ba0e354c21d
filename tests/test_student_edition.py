"""The student edition: no solution anywhere in it, it runs top to bottom, and nbgrader agrees.

Documented behaviour (course_utils.instructor.assign): check cells are tagged ``raises-exception``, so the
student notebook executes to the end with nbclient / jupyter-book, each unsolved check raising
``NotImplementedYet`` with its hint; nothing else may raise. The whole book's student edition is
built from the book build's outputs by tests/browser/test_student_pages.py.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sitetools import htmlbook
from sitetools.solutions import leaks, secret_lines
from course_utils.instructor import assign
from test_assign import sample_chapter, write_chapter

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def test_the_leak_finder_finds_a_solution_in_highlighted_html_and_notebooks(tmp_path):
    """The control: the same search on the full edition finds the solutions."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    source = sample_chapter()
    secrets = secret_lines([source])
    assert {"doubled_secret = x * 2", "return x.clamp(0.0, 1.0) # secret clip", "Because the secret prose answer says so."} <= secrets
    assert not any("HINT" in s for s in secrets) and "return total" not in secrets
    solution_cell = next(c.source for c in source.cells if c.source.startswith("def double"))
    (tmp_path / "page.html").write_text(highlight(solution_cell, PythonLexer(), HtmlFormatter()))
    nbformat.write(source, tmp_path / "full.ipynb")
    found = leaks(tmp_path, secrets)
    assert any(f.startswith("page.html: doubled_secret") for f in found)
    assert any(f.startswith("full.ipynb: Because the secret prose") for f in found)
    nbformat.write(assign.student_notebook(source), tmp_path / "full.ipynb")
    (tmp_path / "page.html").unlink()
    assert leaks(tmp_path, secrets) == []


# --- nbgrader gives the same cells ---------------------------------------------------------------

def _nbgrader_clear(nb):
    clearsolutions = pytest.importorskip(
        "nbgrader.preprocessors.clearsolutions",
        reason="nbgrader is a test-only requirement (requirements.txt); without it the comparison cannot run")
    processor = clearsolutions.ClearSolutions(enforce_metadata=False)
    cleared, _ = processor.preprocess(nbformat.from_dict(json.loads(json.dumps(nb))), {})
    return cleared


def _compare_with_nbgrader(nb, name):
    """Same code cells, same text, when our stub is nbgrader's (ours only adds the hint)."""
    ours = assign.student_notebook(nb, name, stub=lambda hint: ["# YOUR CODE HERE", "raise NotImplementedError()"])
    theirs = _nbgrader_clear(nb)
    dropped = set()
    for exercise in assign.exercises(nb, name):
        dropped |= set(exercise.other_solution_cells) | {exercise.solution_start, exercise.solution_end}
    ours_code = [c.source for c in ours.cells if c.cell_type == "code"]
    theirs_code = [c.source for i, c in enumerate(theirs.cells) if c.cell_type == "code" and i not in dropped]
    assert ours_code == theirs_code


def test_nbgrader_clears_the_same_regions_on_a_test_chapter():
    _compare_with_nbgrader(sample_chapter(), "sample")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_nbgrader_clears_the_same_regions_on_each_chapter(path):
    _compare_with_nbgrader(nbformat.read(path, as_version=4), path.name)


@pytest.mark.slow
def test_nbgrader_generate_assignment_gives_the_student_cells(tmp_path):
    """The whole nbgrader pipeline on `assign --nbgrader` output: its release equals our student edition."""
    _nbgrader_clear(sample_chapter())  # skips when nbgrader is absent
    nbgrader = Path(sys.executable).parent / "nbgrader"
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    source = sample_chapter()
    nbformat.write(assign.nbgrader_notebook(source), course / "source" / "ps1" / "09_test.ipynb")
    env = {**os.environ, "PATH": f"{nbgrader.parent}{os.pathsep}{os.environ['PATH']}"}  # nbgrader runs alembic
    result = subprocess.run([str(nbgrader), "generate_assignment", "ps1", "--force", f"--CourseDirectory.root={course}"],
                            cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    release = nbformat.read(course / "release" / "ps1" / "09_test.ipynb", as_version=4)
    ours = assign.student_notebook(source, stub=lambda hint: ["# YOUR CODE HERE", "raise NotImplementedError()"])
    assert [c.source for c in release.cells] == [c.source for c in ours.cells]


# --- nothing a student keeps needs what the edition takes out -----------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_kept_cell_of_a_chapter_needs_removed_solution_code(path):
    """The student notebook runs top to bottom: no kept cell uses a name that only removed code
    binds (each exercise's placeholder failing its check is tests/test_exercises.py's part)."""
    assert assign.lost_names(nbformat.read(path, as_version=4), path.name) == []


# --- grading with the checks ---------------------------------------------------------------------

@pytest.mark.slow
def test_grading_submissions_with_the_checks(tmp_path, capsys):
    from course_utils.instructor import grade

    student = assign.student_notebook(sample_chapter())
    nbformat.write(student, tmp_path / "untouched.ipynb")
    for cell in student.cells:
        cell.source = cell.source.replace("raise NotImplementedError('Hint: multiply by a number; \"quotes\" and \\'quotes\\' must survive.')", "return x * 3")
        if cell.source.startswith("def count_positive"):
            cell.source = cell.source.replace("        raise NotImplementedError('Replace this line with your solution.')", "        total += int((row > 0).sum())")
            cell.source = cell.source.replace("    raise NotImplementedError('Replace this line with your solution.')", "    return x.clamp(0, 1)")
    nbformat.write(student, tmp_path / "worked.ipynb")
    assert "x * 3" in (tmp_path / "worked.ipynb").read_text()
    assert grade.main([str(tmp_path / "untouched.ipynb"), str(tmp_path / "worked.ipynb"), "--csv", str(tmp_path / "marks.csv")]) == 0
    rows = (tmp_path / "marks.csv").read_text().splitlines()
    assert rows[0] == "notebook,exercise,status,message"
    assert [r.split(",")[:3] for r in rows[1:]] == [
        ["untouched.ipynb", "ex-double", "not attempted"], ["untouched.ipynb", "ex-count", "not attempted"],
        ["worked.ipynb", "ex-double", "failed"], ["worked.ipynb", "ex-count", "passed"]]
    assert "CheckFailed: double is wrong on input: a ramp" in rows[3]
    assert "worked.ipynb: 1 of 2 exercises passed" in capsys.readouterr().out


# --- the student notebook runs top to bottom -----------------------------------------------------

def _errors(nb) -> list[tuple[int, str, str]]:
    return [(i, o["ename"], o["evalue"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.outputs if o["output_type"] == "error"]


@pytest.mark.slow
def test_student_notebook_runs_to_the_end_with_each_check_saying_not_implemented(tmp_path):
    student = assign.student_notebook(sample_chapter())
    NotebookClient(student, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = _errors(student)
    assert [e[1] for e in errors] == ["NotImplementedYet", "NotImplementedYet"]
    assert errors[0][2] == "double is not implemented yet. Hint: multiply by a number; \"quotes\" and 'quotes' must survive."
    assert errors[1][2] == "count_positive is not implemented yet. Replace this line with your solution."
    assert "after the exercises 0.0" in student.cells[-1].outputs[0]["text"]  # it really reached the end


# --- the HTML edition ----------------------------------------------------------------------------

def _build(root: Path, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run([str(JUPYTER_BOOK), "build", "--all", "-W", "--keep-going", str(root)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_a_student_book_builds_without_any_solution_in_pages_or_sources(tmp_path):
    source = tmp_path / "source"
    write_chapter(source / "book")
    (source / "book" / "intro.md").write_text("# Intro\n")
    (source / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/09_test\n")
    (source / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    htmlbook.copy_config_files(source)
    assert assign.main(["--book", str(source), str(tmp_path / "student")]) == 0
    result = _build(tmp_path / "student", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    site = tmp_path / "student" / "_build" / "html"
    page = (site / "book" / "09_test.html").read_text()
    assert "double is not implemented yet" in page and "(student edition)" in page
    assert "colab.research.google.com" not in page  # the button would open the notebook with solutions
    download = site / "_sources" / "book" / "09_test.ipynb"
    assert "raise NotImplementedError" in download.read_text()
    assert leaks(site, secret_lines([nbformat.read(source / "book" / "09_test.ipynb", as_version=4)])) == []
