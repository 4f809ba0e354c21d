"""python -m course_utils.instructor.assign: student notebooks from the chapters' exercise markers.

The notebooks here are small chapters written by the tests in the CONTRIBUTING.md format;
tests/test_exercises.py runs the same machinery on the real chapters.
"""
import hashlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils.teaching import colab
from course_utils.instructor import assign

ROOT = Path(__file__).resolve().parent.parent
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

SOLUTION_1 = '''def double(x: torch.Tensor) -> torch.Tensor:
    """Twice ``x``, any shape."""
    ### BEGIN SOLUTION
    # HINT: multiply by a number; "quotes" and 'quotes' must survive.
    doubled_secret = x * 2
    return doubled_secret
    ### END SOLUTION'''

SOLUTION_2 = '''def count_positive(x: torch.Tensor) -> int:
    """How many entries of ``x`` are > 0."""
    total = 0
    for row in x.reshape(1, -1):
        ### BEGIN SOLUTION
        total += int((row > 0).sum())  # secret: compare then sum
        ### END SOLUTION
    return total


def clip_unit(x: torch.Tensor) -> torch.Tensor:
    """``x`` clipped to [0, 1]."""
    ### BEGIN SOLUTION
    return x.clamp(0.0, 1.0)  # secret clip
    ### END SOLUTION'''


def sample_chapter(exercise_count: int = 2) -> nbformat.NotebookNode:
    """A chapter in the CONTRIBUTING.md format, with outputs as if it had been run."""
    cells = [
        code(colab.setup_cell_source(), metadata={"tags": ["remove-cell"]}),
        md("# Chapter 9: A test chapter\n\n**Learning goals.** After this chapter you can double a tensor."),
        code("import torch\nfrom course_utils.teaching import checks\nx = torch.arange(-2.0, 3.0)\nx"),
        md(":::{exercise} Double it\n:label: ex-double\nWrite `double(x)` that returns twice `x`.\n:::"),
        md("::::{solution-start} ex-double\n:class: dropdown\n::::"),
        code(SOLUTION_1),
        md("Multiplying by two is the secret explanation of this solution."),
        code("double(torch.ones(2))  # a demonstration inside the solution"),
        md("::::{solution-end}\n::::"),
        code("checks.check_function(double, lambda t: t + t, [checks.Case('a ramp', (x,)), checks.Case('empty', (torch.zeros(0),))])"),
    ]
    if exercise_count >= 2:
        cells += [
            md(":::{exercise} Count and clip\n:label: ex-count\nWrite `count_positive(x)` and `clip_unit(x)`.\n:::"),
            md("::::{solution-start} ex-count\n:class: dropdown\n::::"),
            code(SOLUTION_2),
            md("::::{solution-end}\n::::"),
            code("checks.check_function(count_positive, lambda t: int((t > 0).sum()), [checks.Case('a ramp', (x,))])\n"
                 "checks.check_function(clip_unit, lambda t: t.clamp(0, 1), [checks.Case('a ramp', (x,))])"),
        ]
    cells += [
        md(":::{exercise} In words\n:label: ex-words\nWhy is doubling linear?\n:::\n\n"
           ":::{solution} ex-words\n:class: dropdown\nBecause the secret prose answer says so.\n:::"),
        md("## Summary\n\nThe chapter goes on after the exercises."),
        code("print('after the exercises', float(x.sum()))"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="secret output\n")]
            cell.execution_count = 1
    return nb


def write_chapter(folder: Path, nb: nbformat.NotebookNode | None = None, name: str = "09_test.ipynb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb or sample_chapter(), folder / name)
    return folder / name


def run_assign(*args, capsys=None) -> subprocess.CompletedProcess:
    """The command line: in this process when ``capsys`` is given (fast), else as a real subprocess."""
    if capsys is None:
        return subprocess.run([sys.executable, "-m", "course_utils.instructor.assign", *map(str, args)], capture_output=True, text=True, timeout=300)
    returncode = assign.main([str(a) for a in args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, returncode, out.out, out.err)


def _by_source_start(nb, start):
    return [c for c in nb.cells if c.source.startswith(start)]


def test_solutions_become_placeholders_with_hints():
    student = assign.student_notebook(sample_chapter())
    (double,) = _by_source_start(student, "def double")
    assert double.source == ('def double(x: torch.Tensor) -> torch.Tensor:\n    """Twice ``x``, any shape."""\n'
                             "    # YOUR CODE HERE\n"
                             """    raise NotImplementedError('Hint: multiply by a number; "quotes" and \\'quotes\\' must survive.')""")
    (count,) = _by_source_start(student, "def count_positive")
    # Each region is replaced at its own indentation; code around the markers stays.
    assert "        # YOUR CODE HERE\n        raise NotImplementedError('Replace this line with your solution.')\n    return total" in count.source
    assert "    # YOUR CODE HERE\n    raise NotImplementedError('Replace this line with your solution.')" in count.source.split("def clip_unit")[1]
    assert "secret" not in count.source


def test_placeholders_are_valid_python_and_raise_with_the_hint():
    import torch

    namespace = {"torch": torch}
    for cell in assign.student_notebook(sample_chapter()).cells:
        if cell.source.startswith("def "):
            exec(compile(cell.source, "<student cell>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"^Hint: multiply by a number; \"quotes\" and 'quotes' must survive\.$"):
        namespace["double"](torch.ones(1))
    with pytest.raises(NotImplementedError, match="Replace this line"):
        namespace["clip_unit"](torch.ones(1))


def test_prose_checks_and_setup_cell_are_kept_and_solutions_removed():
    source = sample_chapter()
    student = assign.student_notebook(source)
    kept = [c.source for c in student.cells]
    assert student.cells[0].source == colab.setup_cell_source() and student.cells[0].metadata["tags"] == ["remove-cell"]
    for cell in source.cells:
        if "solution" in cell.source or cell.source.startswith(("def ", "double(")) or "secret" in cell.source:
            continue
        assert cell.source in kept  # everything that is not solution survives, in order
    text = "\n".join(kept)
    for gone in ("solution-start", "solution-end", "{solution}", "secret explanation", "secret prose answer",
                 "a demonstration inside the solution", "doubled_secret"):
        assert gone not in text
    assert ":::{exercise} In words" in text  # the statement stays when its {solution} block goes
    assert [c.source.split("(")[0] for c in student.cells if "raises-exception" in c.metadata.get("tags", [])] == ["checks.check_function"] * 2


def test_outputs_are_cleared_and_the_source_object_is_untouched():
    source = sample_chapter()
    before = nbformat.writes(source)
    student = assign.student_notebook(source)
    assert nbformat.writes(source) == before
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    nbformat.validate(student)


def test_top_level_solution_gets_a_raising_placeholder_and_tag():
    nb = nbformat.v4.new_notebook(cells=[code("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION")])
    (cell,) = assign.student_notebook(nb).cells
    assert cell.source == "# YOUR CODE HERE\nraise NotImplementedError('Replace this line with your solution.')"
    assert cell.metadata["tags"] == ["raises-exception"]


def test_exercises_are_found_with_all_their_parts():
    found = assign.exercises(sample_chapter())
    assert [e.label for e in found] == ["ex-double", "ex-count", "ex-words"]
    double = found[0]
    assert (double.statement, double.solution_start, double.solution_cells, double.other_solution_cells, double.solution_end, double.check) == (3, 4, [5], [6, 7], 8, 9)
    assert found[2].solution_start is None and found[2].check is None  # a written answer has no check


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_writes_students_copies_other_files_and_never_touches_the_source(tmp_path, capsys):
    source = tmp_path / "book"
    write_chapter(source)
    (source / "intro.md").write_text("# Intro\n")
    before = _digest(source)
    result = run_assign(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert _digest(source) == before
    assert (tmp_path / "out" / "intro.md").read_text() == "# Intro\n"
    student = nbformat.read(tmp_path / "out" / "09_test.ipynb", as_version=4)
    assert nbformat.writes(student) == nbformat.writes(assign.student_notebook(nbformat.read(source / "09_test.ipynb", as_version=4)))
    refused = run_assign(source, source, capsys=capsys)
    assert refused.returncode == 1 and "source is never modified" in refused.stderr
    assert _digest(source) == before


def _broken(kind: str) -> nbformat.NotebookNode:
    nb = sample_chapter(exercise_count=1)
    index = next(i for i, c in enumerate(nb.cells) if c.source.startswith("def double"))
    cell = nb.cells[index]
    if kind == "no end":
        cell.source = cell.source.replace("    ### END SOLUTION", "")
    elif kind == "no begin":
        cell.source = cell.source.replace("    ### BEGIN SOLUTION\n", "")
    elif kind == "nested":
        cell.source = cell.source.replace("    return doubled_secret", "    ### BEGIN SOLUTION\n    return doubled_secret")
    elif kind == "marker with code":
        cell.source = cell.source.replace("    ### END SOLUTION", "    return x  ### END SOLUTION")
    elif kind == "solution never ends":
        del nb.cells[index + 3]
    return nb


@pytest.mark.parametrize("kind,message", [
    ("no end", "'### BEGIN SOLUTION' without a matching '### END SOLUTION'"),
    ("no begin", "'### END SOLUTION' without a '### BEGIN SOLUTION' before it"),
    ("nested", "'### BEGIN SOLUTION' inside a solution that is not closed yet"),
    ("marker with code", "the marker must stand alone on its line"),
    ("solution never ends", "the solution of 'ex-double' has no '{solution-end}'"),
])
def test_cli_refuses_unbalanced_markers_naming_file_and_cell(tmp_path, capsys, kind, message):
    path = write_chapter(tmp_path / "book", _broken(kind))
    write_chapter(tmp_path / "book", sample_chapter(), name="10_fine.ipynb")
    result = run_assign(tmp_path / "book", tmp_path / "out", capsys=capsys)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("course_utils.instructor.assign: refused:") and str(path) in result.stderr
    if kind != "solution never ends":
        assert "cell 5" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing half-written


def test_student_config_removes_launch_buttons_unless_a_branch_is_given():
    text = (ROOT / "_config.yml").read_text()
    plain = yaml.safe_load(assign.student_config(text))
    assert plain["title"].endswith("(student edition)")
    assert "colab_url" not in plain["launch_buttons"] and "binderhub_url" not in plain["launch_buttons"]
    assert plain["execute"] == yaml.safe_load(text)["execute"]  # still executed, still strict
    assert yaml.safe_load(text)["sphinx"]["config"]["claim_seeds"]   # the book checks other seeds,
    assert plain["sphinx"]["config"]["claim_seeds"] == []             # its student edition not
    book_extensions = yaml.safe_load(text)["sphinx"]["extra_extensions"]
    assert "sphinx.ext.viewcode" in book_extensions   # the API page links to its modules' source,
    assert plain["sphinx"]["extra_extensions"] == [e for e in book_extensions if e != "sphinx.ext.viewcode"]
    branch = yaml.safe_load(assign.student_config(text, branch="student"))
    assert branch["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert branch["repository"]["branch"] == "student"


def test_book_mode_writes_config_toc_and_every_toc_folder(tmp_path, capsys):
    root = tmp_path / "src"
    write_chapter(root / "book")
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/09_test\n")
    (root / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    result = run_assign("--book", root, tmp_path / "out", capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_config.yml", "_toc.yml", "book"]
    assert sorted(p.name for p in (tmp_path / "out" / "book").iterdir()) == ["09_test.ipynb", "intro.md"]


def test_nbgrader_source_keeps_solutions_and_marks_cells_for_nbgrader():
    nb = assign.nbgrader_notebook(sample_chapter())
    marked = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    assert sorted(marked) == ["ex-count", "ex-count-check", "ex-double", "ex-double-check"]
    assert marked["ex-double"].source == SOLUTION_1 and marked["ex-double"].metadata["nbgrader"]["solution"] is True
    check = marked["ex-double-check"].metadata["nbgrader"]
    assert check["grade"] is True and check["locked"] is True and check["points"] == 1 and check["solution"] is False
    text = "\n".join(c.source for c in nb.cells)
    assert "solution-start" not in text and "secret prose answer" not in text  # laid out as the student edition
    nbformat.validate(nb)


# --- the student edition from the book's own execution --------------------------------------------

def _outputs(nb, start):
    return [o.get("text", "") for cell in _by_source_start(nb, start) for o in cell.outputs]


def test_keep_outputs_keeps_what_is_unchanged_and_clears_the_exercises():
    student = assign.student_notebook(sample_chapter(), keep_outputs=True)
    assert _outputs(student, "import torch") == ["secret output\n"]  # an unchanged cell
    assert _outputs(student, "print('after the exercises'") == ["secret output\n"]
    assert _outputs(student, "def double") == [] and _outputs(student, "checks.check_function") == []
    assert all(c.execution_count is None for c in _by_source_start(student, "def double"))
    assert _outputs(assign.student_notebook(sample_chapter()), "import torch") == []  # default: cleared


def test_book_mode_takes_the_outputs_from_the_executed_copies(tmp_path, capsys):
    write_chapter(tmp_path / "book" / "book")
    (tmp_path / "book" / "_toc.yml").write_text("format: jb-book\nroot: book/09_test\n")
    (tmp_path / "book" / "_config.yml").write_text("title: T\nexecute:\n  execute_notebooks: force\n")
    executed = tmp_path / "executed"
    write_chapter(executed / "book")
    assert run_assign("--book", tmp_path / "book", tmp_path / "out", "--outputs-from", executed,
                      capsys=capsys).returncode == 0
    student = nbformat.read(tmp_path / "out" / "book" / "09_test.ipynb", as_version=4)
    assert _outputs(student, "import torch") == ["secret output\n"]
    assert "execute_notebooks: 'off'" in (tmp_path / "out" / "_config.yml").read_text()
    # An executed copy of another version of the chapter is refused, naming it; nothing is written.
    changed = sample_chapter()
    changed.cells[2].source += "\nx = x + 1"
    write_chapter(executed / "book", changed)
    result = run_assign("--book", tmp_path / "book", tmp_path / "out2", "--outputs-from", executed,
                        capsys=capsys)
    assert result.returncode == 1 and "executed from another version" in result.stderr
    assert not (tmp_path / "out2").exists()


def test_lost_names_finds_a_kept_cell_that_needs_removed_solution_code():
    nb = sample_chapter()
    assert assign.lost_names(nb, "sample") == []
    # A demonstration inside the solution binds a name; a kept cell after it uses that name.
    demo = next(i for i, c in enumerate(nb.cells) if c.source.startswith("double(torch.ones"))
    nb.cells[demo].source = "shown = double(torch.ones(2))"
    nb.cells.append(nbformat.v4.new_code_cell("%matplotlib inline\nprint(shown, x)"))
    assert assign.lost_names(nb, "sample") == [
        f"sample: cell {len(nb.cells) - 1} uses 'shown', which only cell {demo} binds, "
        "and the student edition takes that code out"]
    # A kept cell binding the name too makes it safe.
    nb.cells.insert(demo + 3, nbformat.v4.new_code_cell("shown = 0"))
    assert assign.lost_names(nb, "sample") == []
