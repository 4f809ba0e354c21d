"""The student edition: no solution anywhere in it, it runs top to bottom, and nbgrader agrees.

Documented behaviour (course_utils.instructor.assign): check cells are tagged ``raises-exception``, so the
student notebook executes to the end with nbclient / jupyter-book, each unsolved check raising
``NotImplementedYet`` with its hint; nothing else may raise.
"""
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

import colab_like
from sitetools import htmlbook
from course_utils.instructor import assign
from test_assign import sample_chapter, write_chapter

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


# --- what counts as a solution, and how to look for it -------------------------------------------

def _normalise(text: str) -> str:
    """Markup-insensitive text: markdown bold and code marks and runs of spaces do not matter."""
    return re.sub(r"\s+", " ", text.replace("`", "").replace("**", "")).strip()


def _solution_parts(nb) -> tuple[list[str], list[str]]:
    """(lines of every solution, lines of everything else) of a source notebook."""
    secret, public = [], []
    in_solution = set()
    for exercise in assign.exercises(nb):
        in_solution |= set(exercise.other_solution_cells)
    for index, cell in enumerate(nb.cells):
        lines = cell.source.split("\n")
        if index in in_solution:
            secret += lines
            continue
        solution = assign.solution_lines(cell.source) if cell.cell_type == "code" else []
        blocks = []
        if cell.cell_type == "markdown" and "{solution}" in cell.source:
            kept = assign._remove_solution_blocks(cell.source, "cell").split("\n")
            blocks = [line for line in lines if line not in kept]
        secret += solution + blocks
        public += [line for line in lines if line not in solution and line not in blocks]
    return secret, public


def secret_lines(notebooks) -> set[str]:
    """Solution lines that must not appear in a student edition.

    Hints are meant to be shown, and a line that also appears outside the solutions, alone or
    inside a longer line (``return out``, a closing fence, a row of zeros) gives nothing away,
    so neither counts.
    """
    secret, public = set(), []
    for nb in notebooks:
        s, p = _solution_parts(nb)
        secret |= {_normalise(line) for line in s if not line.strip().startswith(assign.HINT)}
        public += [_normalise(line) for line in p]
    public_text = "\n".join(public)
    return {line for line in secret if len(line) >= 6 and line not in public_text}


def readable_text(path: Path) -> str:
    """What a reader or a downloader of ``path`` gets to see, as plain text."""
    raw = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        nb = json.loads(raw)
        parts = []
        for cell in nb["cells"]:
            parts.append("".join(cell["source"]))
            for output in cell.get("outputs", []):
                parts.append(json.dumps(output))
        raw = "\n".join(parts)
    elif path.suffix in (".html", ".htm"):
        raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
    return _normalise(raw)


# Third-party scripts the book serves itself (tools/offline_static.py): not ours to leak from,
# and generic solution lines such as "return out" occur in them.
VENDORED = "_static/offline"


def leaks(folder: Path, secrets: set[str]) -> list[str]:
    """``file: line`` for every secret line found in any text file under ``folder``."""
    found = []
    for path in folder.rglob("*"):
        if VENDORED in path.relative_to(folder).as_posix():
            continue
        if path.is_file() and path.suffix in (".html", ".ipynb", ".js", ".txt", ".md", ".py", ".json"):
            text = readable_text(path)
            found += [f"{path.relative_to(folder)}: {line}" for line in secrets if line in text]
    return found


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


@pytest.mark.slow
def test_the_student_edition_runs_from_a_colab_like_start_and_builds(tmp_path, monkeypatch):
    """Every chapter's student edition, executed once from a Colab-like start, then built.

    One execution serves two checks: a learner's "Open in Colab" (tests/colab_like.py: the
    set-up cell installs the package, each chapter runs with no ``src/`` beside it) and the
    student edition (it runs top to bottom, each check raising on its placeholder, and no
    solution shows anywhere). The HTML edition is then built from these executed notebooks
    with ``execute_notebooks: off``; `make student` builds the same pages executing them itself.
    The teachers' chapters are executed once per test run, by the book build of tests/browser.
    """
    out = tmp_path / "_student"
    assert assign.main(["--book", str(ROOT), str(out)]) == 0
    students = sorted((out / "book").glob("*.ipynb"))
    assert [p.name for p in students] == [p.name for p in CHAPTERS]
    executed = colab_like.run_chapters(students, tmp_path / "colab", monkeypatch)
    for path in students:
        _only_placeholders_raise(executed[path.stem], path.stem)
        nbformat.write(executed[path.stem], path)
    config = yaml.safe_load((out / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = _build(out, timeout=900)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    site = out / "_build" / "html"
    assert [p.stem for p in CHAPTERS if not (site / "book" / f"{p.stem}.html").is_file()] == []
    assert leaks(site, secret_lines([nbformat.read(p, as_version=4) for p in CHAPTERS])) == []


def _only_placeholders_raise(nb, chapter: str) -> None:
    """Exercise cells raise only because of a placeholder, and every check ran on one."""
    found = assign.exercises(nb, chapter)
    checks = {e.check for e in found if e.check is not None}
    exercise_cells = checks | {i for e in found for i in e.solution_cells}
    errors = _errors(nb)
    for index, name, value in errors:
        if index in exercise_cells:  # NotImplementedError, or the check's NotImplementedYet
            assert name in {"NotImplementedYet", "NotImplementedError"}, \
                f"{chapter} cell {index}: {name}: {value}"
        else:  # nbclient stopped at any other error unless the author tagged it
            assert "raises-exception" in nb.cells[index].metadata.get("tags", []), \
                f"{chapter} cell {index}: {name}"
    # ... and the notebook went top to bottom: no check passed, none was skipped.
    assert checks <= {e[0] for e in errors}, f"{chapter}: a check passed or did not run"
