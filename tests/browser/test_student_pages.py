"""The student edition of the whole book, built from the tests' book build without executing again.

`make student` does the same: ``assign --book --outputs-from _build/jupyter_execute`` keeps the
book's outputs wherever a cell is unchanged, and the student pages are built with execution off.
No solution may show in any page, notebook or source of that site.
"""
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.instructor import assign
from sitetools import htmlbook
from sitetools.solutions import leaks, readable_text, secret_lines

CHAPTERS = sorted((htmlbook.ROOT / "book").glob("*.ipynb"))
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def _figures(page: str) -> int:
    """How many images from cell outputs a page shows (the header's icons are not counted)."""
    return len(re.findall(r'<img [^>]*src="\.\./_images/', page))


@pytest.mark.slow
def test_the_student_edition_reuses_the_books_outputs_and_shows_no_solution(book_html, tmp_path):
    out = tmp_path / "_student"
    executed = book_html.parent / "jupyter_execute"
    assert assign.main(["--book", str(htmlbook.ROOT), str(out), "--outputs-from", str(executed)]) == 0
    result = subprocess.run([str(JUPYTER_BOOK), "build", "--all", "-W", "--keep-going", str(out)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    site = out / "_build" / "html"
    for chapter in CHAPTERS:
        page = (site / "book" / f"{chapter.stem}.html").read_text()
        text = readable_text(site / "book" / f"{chapter.stem}.html")  # highlighting taken off
        assert "(student edition)" in text and "raise NotImplementedError(" in text, chapter.stem
        # The book's figures came along: as many as the book's own page shows.
        book_page = (book_html / "book" / f"{chapter.stem}.html").read_text()
        assert _figures(page) == _figures(book_page) > 0, chapter.stem
    assert leaks(site, secret_lines([nbformat.read(p, as_version=4) for p in CHAPTERS])) == []
