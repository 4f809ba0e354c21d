"""The student edition: chapter notebooks with every exercise's solution taken out.

Usage::

    python -m course_utils.instructor.assign SOURCE_DIR OUT_DIR     # every *.ipynb in SOURCE_DIR
    python -m course_utils.instructor.assign --book ROOT OUT_ROOT   # a whole book
    python -m course_utils.instructor.assign --book . _student --outputs-from _build/jupyter_execute
                                                          # ... with the book's outputs (make student)
    python -m course_utils.instructor.assign --nbgrader SOURCE_DIR OUT_DIR  # nbgrader's source/

What a student notebook is (the exercise format is in CONTRIBUTING.md):

- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError("Hint: ...")``, indented like the ``BEGIN`` marker (as nbgrader
  does). The hint is the text of the ``# HINT: ...`` lines inside the solution, if any;
- everything else inside a gated solution (``{solution-start}`` ... ``{solution-end}``: the
  wrapper cells, prose, demonstration code) and every ``{solution}`` block in markdown is removed;
- check cells (the code cell calling ``check_...(`` after an exercise's solution, and any cell
  calling ``checks....check_...(``) are kept and tagged ``raises-exception``: run top to
  bottom by nbclient or jupyter-book, the notebook goes through to the end, each unsolved check
  showing "... is not implemented yet. Hint: ...". In Jupyter or Colab, "Run all" stops at the
  first unsolved check with that message, by design: the learner is at the next exercise;
- outputs are cleared; prose, other code, the Colab set-up cell and metadata are kept. With
  ``--outputs-from`` (the book build's ``_build/jupyter_execute``) the outputs of every cell the
  student edition keeps unchanged come from the book's own execution instead, so the student
  pages need no second execution (``make student``); `lost_names` checks that no kept cell
  needs what the edition takes out.

It never writes into the source folder, and it refuses (``MarkerError``, exit status 1) a
notebook whose markers are unbalanced, naming the file and the cell.
"""
from __future__ import annotations

import argparse
import ast
import copy
import functools
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
from nbformat import NotebookNode

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HINT = "# HINT:"
CHECK_CALL = re.compile(r"\bcheck_\w+\s*\(")  # an exercise's check cell calls one
CHECKS_CALL = re.compile(r"\bchecks\.[\w.]*\bcheck_\w+\s*\(")  # e.g. checks.ch02.check_conv2d(...)
# A stub gets the hint (possibly "") and returns the lines that replace one solution region.
Stub = Callable[[str], list[str]]


class MarkerError(ValueError):
    """A notebook whose solution markers or solution blocks cannot be processed safely."""


def default_stub(hint: str) -> list[str]:
    """``# YOUR CODE HERE`` and a ``NotImplementedError`` carrying the hint (nbgrader's stub, plus the hint)."""
    message = f"Hint: {hint}" if hint else "Replace this line with your solution."
    return ["# YOUR CODE HERE", f"raise NotImplementedError({message!r})"]


def _where(name: str, index: int, cell: NotebookNode) -> str:
    cell_id = cell.get("id")
    return f"{name}: cell {index}" + (f" (id {cell_id})" if cell_id else "")


def _marker(line: str, where: str) -> str | None:
    """``BEGIN``, ``END`` or None; a marker that shares its line with code is refused."""
    for marker in (BEGIN, END):
        word = marker.removeprefix("### ")
        if word in line:  # nbgrader's own test: the words anywhere on the line
            if line.strip() != marker:
                raise MarkerError(f"{where}: the marker must stand alone on its line as '{marker}', got {line.strip()!r}")
            return marker
    return None


def clear_solutions(source: str, where: str, stub: Stub = default_stub) -> tuple[str, list[str]]:
    """Replace every solution region of a code cell's ``source``; return (new source, indents of the regions)."""
    out: list[str] = []
    indents: list[str] = []
    region: list[str] | None = None
    for number, line in enumerate(source.split("\n"), start=1):
        marker = _marker(line, where)
        if marker == BEGIN:
            if region is not None:
                raise MarkerError(f"{where}, line {number}: '{BEGIN}' inside a solution that is not closed yet")
            region, indent = [], line[: len(line) - len(line.lstrip())]
            indents.append(indent)
        elif marker == END:
            if region is None:
                raise MarkerError(f"{where}, line {number}: '{END}' without a '{BEGIN}' before it")
            out += [indent + s for s in stub(hint_of(region))]
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise MarkerError(f"{where}: '{BEGIN}' without a matching '{END}'")
    return "\n".join(out), indents


def hint_of(solution_lines: list[str]) -> str:
    """The text of the ``# HINT: ...`` lines of a solution, joined by spaces."""
    hints = [line.strip()[len(HINT):].strip() for line in solution_lines if line.strip().startswith(HINT)]
    return " ".join(h for h in hints if h)


def solution_lines(source: str) -> list[str]:
    """The lines between the markers of a cell (the secret an edition must not show)."""
    lines, inside = [], False
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside:
            lines.append(line)
    return lines


# --- the exercise format: statement, gated solution, check -----------------------------------

_DIRECTIVE = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\{(?P<name>[\w-]+)\}(?P<arg>.*)$")


def _directives(source: str) -> list[tuple[str, str]]:
    """(name, argument) of every MyST directive opened in a markdown cell."""
    return [(m["name"], m["arg"].strip()) for m in map(_DIRECTIVE.match, source.split("\n")) if m]


def _label(source: str) -> str:
    match = re.search(r"^\s*:label:\s*(\S+)", source, re.M)
    return match[1] if match else ""


@dataclass
class Exercise:
    """Where one exercise's parts are, as cell indices of its notebook."""

    label: str
    statement: int | None = None          # markdown with {exercise}
    solution_start: int | None = None     # markdown with {solution-start} LABEL
    solution_end: int | None = None       # markdown with {solution-end}
    solution_cells: list[int] = field(default_factory=list)  # code cells with markers
    other_solution_cells: list[int] = field(default_factory=list)  # anything else inside the solution
    check: int | None = None              # first code cell after the solution calling check_...(


def exercises(nb: NotebookNode, name: str = "notebook") -> list[Exercise]:
    """Find the exercises of a notebook in the CONTRIBUTING.md format (raise MarkerError if malformed)."""
    found: list[Exercise] = []
    by_label: dict[str, Exercise] = {}
    open_solution: Exercise | None = None
    waiting_for_check: Exercise | None = None
    for index, cell in enumerate(nb.cells):
        where = _where(name, index, cell)
        directives = _directives(cell.source) if cell.cell_type == "markdown" else []
        names = [d for d, _ in directives]
        if "exercise" in names or "exercise-start" in names:
            label = _label(cell.source) or f"exercise-{len(found) + 1}"
            by_label[label] = Exercise(label, statement=index)
            found.append(by_label[label])
            waiting_for_check = by_label[label]  # editions without the solution wrapper
        if "solution-start" in names:
            if open_solution is not None:
                raise MarkerError(f"{where}: a solution starts before the solution of {open_solution.label!r} ended")
            label = dict(directives)["solution-start"].split()[0] if dict(directives)["solution-start"] else ""
            open_solution = by_label.get(label) or Exercise(label)
            if label not in by_label:
                by_label[label] = open_solution
                found.append(open_solution)
            open_solution.solution_start = index
            continue
        if "solution-end" in names:
            if open_solution is None:
                raise MarkerError(f"{where}: '{{solution-end}}' without a '{{solution-start}}' before it")
            open_solution.solution_end, waiting_for_check, open_solution = index, open_solution, None
            continue
        # Any marker word counts, so a broken marker is processed (and refused), never dropped.
        has_markers = cell.cell_type == "code" and ("BEGIN SOLUTION" in cell.source or "END SOLUTION" in cell.source)
        if open_solution is not None:
            (open_solution.solution_cells if has_markers else open_solution.other_solution_cells).append(index)
        elif waiting_for_check is not None and has_markers:
            waiting_for_check.solution_cells.append(index)
        elif waiting_for_check is not None and cell.cell_type == "code" and CHECK_CALL.search(cell.source):
            waiting_for_check.check, waiting_for_check = index, None
    if open_solution is not None:
        raise MarkerError(f"{name}: the solution of {open_solution.label!r} has no '{{solution-end}}'")
    return found


def _remove_solution_blocks(source: str, where: str) -> str:
    """Drop every ``{solution}`` directive block (non-gated solutions) from markdown."""
    lines, out, index = source.split("\n"), [], 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        if match and match["name"] == "solution":
            fence = match["fence"]
            end = next((j for j in range(index + 1, len(lines))
                        if lines[j].strip() and set(lines[j].strip()) == {fence[0]} and len(lines[j].strip()) >= len(fence)), None)
            if end is None:
                raise MarkerError(f"{where}: a '{{solution}}' block opened with {fence!r} is never closed")
            index = end + 1
        else:
            out.append(lines[index])
            index += 1
    return "\n".join(out).rstrip() if len(out) < len(lines) else source


def _add_tag(cell: NotebookNode, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def student_notebook(nb: NotebookNode, name: str = "notebook", stub: Stub = default_stub, clear: bool = True,
                     keep_outputs: bool = False) -> NotebookNode:
    """The student version of ``nb`` (a new notebook; ``nb`` is left as it was).

    ``clear=False`` keeps the code between the markers (the layout nbgrader's source wants).
    ``keep_outputs=True`` keeps the outputs of the code cells it leaves unchanged (not the
    exercises' placeholders and checks, whose student outputs differ).
    """
    nb = copy.deepcopy(nb)
    drop: set[int] = set()
    checks: set[int] = set()
    for exercise in exercises(nb, name):
        drop |= {i for i in (exercise.solution_start, exercise.solution_end) if i is not None}
        drop |= set(exercise.other_solution_cells)
        checks |= {exercise.check} if exercise.check is not None else set()
    kept = []
    for index, cell in enumerate(nb.cells):
        if index in drop:
            continue
        where = _where(name, index, cell)
        if cell.cell_type == "code":
            cleared, indents = clear_solutions(cell.source, where, stub)  # also validates the markers
            unchanged = cleared == cell.source
            cell.source = cleared if clear else cell.source
            # A top-level placeholder raises when the cell runs; a check raises until solved.
            raises = "" in indents or index in checks or CHECKS_CALL.search(cell.source)
            if raises:
                _add_tag(cell, "raises-exception")
            if not (keep_outputs and unchanged and not raises):
                cell.outputs, cell.execution_count = [], None
                cell.metadata.pop("execution", None)
        elif cell.cell_type == "markdown":
            cell.source = _remove_solution_blocks(cell.source, where)
            if any(l.strip() in (BEGIN, END) for l in cell.source.split("\n")):
                cell.source, _ = clear_solutions(cell.source, where, lambda hint: ["YOUR ANSWER HERE"])
            if not cell.source.strip():
                continue
        kept.append(cell)
    nb.cells = kept
    return nb


def _python(source: str) -> ast.Module:
    """A code cell's source as Python, IPython's ``%magic`` and ``!shell`` lines read as ``pass``."""
    lines = [line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
             else line for line in source.split("\n")]
    return ast.parse("\n".join(lines))


def _bound(source: str) -> set[str]:
    """The names a cell binds at its top level (assignments, imports, def, class, for, with)."""
    names = set()
    for node in _python(source).body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is node:
                names.add(sub.name)
            elif isinstance(sub, ast.alias):
                names.add((sub.asname or sub.name).split(".")[0])
    return names


def lost_names(nb: NotebookNode, name: str = "notebook") -> list[str]:
    """Kept cells of the student edition that use a name only the removed solution code binds.

    Such a cell would fail in a student's notebook. Read from the code, not by running it: a
    name bound by a dropped demonstration cell, or by a top-level solution region, and used by
    a later cell that the edition keeps, with no kept cell binding it.
    """
    student = student_notebook(nb, name)
    kept = {cell.source for cell in student.cells if cell.cell_type == "code"}
    kept_bound = set().union(*(_bound(source) for source in kept))
    removed: dict[str, int] = {}
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.source in kept:  # the student edition has this cell as it is
            used = {n.id for n in ast.walk(_python(cell.source)) if isinstance(n, ast.Name)}
            problems += [f"{name}: cell {index} uses {lost!r}, which only cell {removed[lost]} "
                         "binds, and the student edition takes that code out"
                         for lost in sorted(used & set(removed))]
            continue
        cleared, _ = clear_solutions(cell.source, _where(name, index, cell))
        still_bound = _bound(cleared) if cleared != cell.source else set()  # a placeholder's def
        for lost in _bound(cell.source) - still_bound - kept_bound:
            removed.setdefault(lost, index)
    return problems


def nbgrader_notebook(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """``nb`` laid out like the student edition but with its solutions, and nbgrader's cell metadata.

    Solution cells become "Autograded answer" cells and check cells locked "Autograder tests"
    worth one point, so ``nbgrader generate_assignment`` and ``nbgrader autograde`` work as is.
    """
    out = student_notebook(nb, name, clear=False)
    for exercise in exercises(out, name):
        grade_id = re.sub(r"[^\w-]", "-", exercise.label)
        for number, index in enumerate(exercise.solution_cells):
            out.cells[index].metadata["nbgrader"] = {
                "grade": False, "grade_id": f"{grade_id}-{number + 1}" if number else grade_id,
                "locked": False, "schema_version": 3, "solution": True, "task": False}
        if exercise.check is not None:
            out.cells[exercise.check].metadata["nbgrader"] = {
                "grade": True, "grade_id": f"{grade_id}-check", "locked": True, "points": 1,
                "schema_version": 3, "solution": False, "task": False}
    return out


# --- folders and whole books ---------------------------------------------------------------------

def _executed_copy(path: Path, executed: Path) -> NotebookNode:
    """The executed copy of the notebook ``path`` in the folder ``executed``, checked to match it."""
    copy_path = executed / path.name
    if not copy_path.is_file():
        raise MarkerError(f"no executed copy of {path} in {executed}: build the book first (make book)")
    source, ran = nbformat.read(path, as_version=4), nbformat.read(copy_path, as_version=4)
    if [c.source for c in source.cells] != [c.source for c in ran.cells]:
        raise MarkerError(f"{copy_path} was executed from another version of {path}: build the book again")
    return ran


def assign_dir(source: Path, out: Path, edition: Callable[[NotebookNode, str], NotebookNode] = student_notebook,
               executed: Path | None = None) -> list[Path]:
    """Write the ``edition`` (student by default) of every notebook in ``source`` to ``out``; copy its other files.

    With ``executed`` (a folder of the same notebooks, executed), the student edition keeps
    their outputs wherever it keeps a cell unchanged. Every notebook is processed before
    anything is written, so a refusal writes nothing.
    """
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise MarkerError(f"{source} is not a folder")
    if out.resolve() == source.resolve():
        raise MarkerError(f"OUT_DIR must differ from SOURCE_DIR ({source}): the source is never modified")
    students = {}
    if executed is not None:
        edition = functools.partial(edition, keep_outputs=True)
    for path in sorted(source.glob("*.ipynb")):
        nb = _executed_copy(path, executed) if executed else nbformat.read(path, as_version=4)
        students[path.name] = edition(nb, str(path))
    out.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir()):
        if item.name.startswith(".") or item.name == "__pycache__" or item.suffix == ".ipynb" or item.resolve() == out.resolve():
            continue
        (shutil.copytree(item, out / item.name, dirs_exist_ok=True) if item.is_dir() else shutil.copy2(item, out / item.name))
    written = []
    for filename, nb in students.items():
        nbformat.write(nb, out / filename)
        written.append(out / filename)
    return written


def student_config(config_text: str, branch: str | None = None, executed: bool = False) -> str:
    """The book's ``_config.yml`` for the student edition.

    Launch buttons would open the notebooks *with* solutions from the repository, so they are
    removed unless ``branch`` names the branch where the student notebooks are published. The
    claims are not checked on other seeds again (``claim_seeds: []``): the book's build did
    that, and a student notebook stops at its first unsolved exercise. The API reference keeps
    its docstrings but not its source pages (``sphinx.ext.viewcode``), which would show the
    exercise checks' reference answers. With ``executed`` the notebooks already hold the
    book's outputs, and the edition is built without executing them again.
    """
    import yaml  # comes with jupyter-book; only instructors run this

    config = yaml.safe_load(config_text)
    config["title"] = f"{config.get('title', 'Book')} (student edition)"
    sphinx = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx["claim_seeds"] = []
    if executed:
        config.setdefault("execute", {})["execute_notebooks"] = "off"
    # The API reference's "[source]" pages would show the checks' reference answers.
    extensions = config["sphinx"].get("extra_extensions", [])
    config["sphinx"]["extra_extensions"] = [e for e in extensions if e != "sphinx.ext.viewcode"]
    buttons = config.get("launch_buttons", {})
    if branch:
        config.setdefault("repository", {})["branch"] = branch
    else:
        for key in ("colab_url", "binderhub_url", "jupyterhub_url", "thebe"):
            buttons.pop(key, None)
    header = "# Generated by `python -m course_utils.instructor.assign --book`: edit the book's own _config.yml instead.\n"
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def assign_book(root: Path, out_root: Path, branch: str | None = None, executed: Path | None = None) -> list[Path]:
    """A whole student book in ``out_root``: config, table of contents, student notebooks.

    ``executed``: the book build's ``_build/jupyter_execute``, whose outputs the pages reuse.
    """
    root, out_root = Path(root), Path(out_root)
    files = re.findall(r"(?:file|root):\s*(\S+)", (root / "_toc.yml").read_text())
    folders = sorted({str(Path(f).parent) for f in files})
    written = []
    for folder in folders:
        written += assign_dir(root / folder, out_root / folder,
                              executed=executed / folder if executed else None)
    (out_root / "_toc.yml").write_text((root / "_toc.yml").read_text())
    config = student_config((root / "_config.yml").read_text(), branch, executed is not None)
    (out_root / "_config.yml").write_text(config)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.instructor.assign", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder of chapter notebooks (with --book: the book's root)")
    parser.add_argument("out", type=Path, help="where the student edition goes")
    parser.add_argument("--book", action="store_true", help="SOURCE is a Jupyter Book root: also write _config.yml and _toc.yml")
    parser.add_argument("--branch", help="with --book: keep the launch buttons, pointing at this branch of student notebooks")
    parser.add_argument("--outputs-from", type=Path, metavar="EXECUTED",
                        help="with --book: the book build's _build/jupyter_execute; the student pages "
                        "keep its outputs and are built without executing the notebooks again")
    parser.add_argument("--nbgrader", action="store_true",
                        help="write nbgrader's source notebooks instead: solutions kept, cells marked for nbgrader")
    args = parser.parse_args(argv)
    if args.book and args.nbgrader:
        parser.error("--nbgrader works on a folder of notebooks, not with --book")
    if args.outputs_from and not args.book:
        parser.error("--outputs-from needs --book")
    try:
        if args.book:
            written = assign_book(args.source, args.out, args.branch, args.outputs_from)
        else:
            written = assign_dir(args.source, args.out, nbgrader_notebook if args.nbgrader else student_notebook)
    except MarkerError as err:
        print(f"course_utils.instructor.assign: refused: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
