"""The whole book builds, every chapter executed (what `make book` does), and no cell failed.

The build itself is the session's `book_html` fixture (conftest.py), shared with the browser
tests so the book is executed once per test run. Jupyter Book keeps the executed notebooks next
to the HTML (`_build/jupyter_execute`); they are read here cell by cell.
"""
import nbformat
import pytest

import bookcheck  # tools/bookcheck.py
from sitetools import htmlbook

CHAPTERS = sorted((htmlbook.ROOT / "book").glob("*.ipynb"))


def _executed(book_html, notebook):
    path = book_html.parent / "jupyter_execute" / "book" / notebook.name
    assert path.is_file(), f"{notebook.name} was not executed by the build (no {path})"
    return nbformat.read(path, as_version=4)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_is_built_and_only_deliberate_errors_show(notebook, book_html):
    page = book_html / "book" / f"{notebook.stem}.html"
    assert page.is_file(), f"{notebook.name} was not built into {page}"
    assert f"blob/main/book/{notebook.stem}.ipynb" in page.read_text(), f"{notebook.stem} has no Colab / launch link"
    cells = [c for c in _executed(book_html, notebook).cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in cells if c.source.strip()), f"{notebook.stem}: a code cell did not run"
    for cell in cells:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        deliberate = "raises-exception" in cell.metadata.get("tags", [])
        # A cell tagged raises-exception demonstrates an error; it must really raise one.
        assert bool(errors) == deliberate, (
            f"{notebook.stem}: cell {cell.source[:80]!r} "
            + (f"raised {errors[0].ename}: {errors[0].evalue}" if errors else "is tagged raises-exception but raised nothing"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_reads_well_as_executed(notebook, book_html):
    """What `tools/bookcheck.py run` reports, on the build's own outputs: every figure has a text
    alternative and readable text, no printed line is too long, no stray object repr."""
    assert bookcheck.reader_problems(_executed(book_html, notebook), notebook.stem) == []
