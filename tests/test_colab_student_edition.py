"""The student edition of every chapter, executed once from a Colab-like start, then built.

In a file of its own so that, in `make test`, one worker of the rest lane takes this long test
while the other runs everything else (pytest-xdist hands out whole files).
"""
import nbformat
import pytest
import yaml

import colab_like
from course_utils.instructor import assign
from test_student_edition import CHAPTERS, ROOT, _build, _errors, leaks, secret_lines


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
