"""Every page of the book in headless Chromium, as a reader sees it (see htmlbook.inspect_page).

Each page must render its title and text, show no cell with an error, load every image, typeset
its math, render its widgets, play its animations, keep its solutions collapsed, and (for a
chapter) link Colab to its own notebook. A reader must also be able to read it: every figure
has a text alternative and keeps a white ground in dark mode, figure text is at least 8 pt as
shown, no code line is wider than its box, and axe-core finds nothing serious or critical.
With COURSE_SCREENSHOTS=1 a full-page screenshot of each page goes to _build/screenshots/ (2-3 s
a page, so only on request). The checks themselves are tested in test_checks_can_fail.py.
"""
import re

import pytest

from sitetools import htmlbook

PAGES = htmlbook.toc_pages(htmlbook.ROOT)
FIRST_CHAPTER = next(page for page in PAGES if htmlbook.chapter_notebook(page))


def _contrast_scope(path) -> str:
    """The API reference repeats one markup for every object: its colour contrast (axe's
    slowest rule) is checked on its first module, every other rule on the whole page."""
    first_module = re.search(r'<section id="(module-[^"]+)"', path.read_text())
    return f'section[id="{first_module[1]}"]' if first_module else "body"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_for_a_reader(page, book_html, book_url, browser):
    assert (book_html / f"{page}.html").is_file(), f"{page} is in _toc.yml but was not built"
    # The code's colours are one style for the whole book: their contrast is checked on the
    # first chapter, the rest of every page's contrast everywhere (axe's slowest check).
    report = htmlbook.inspect_page(browser, f"{book_url}/{page}.html",
                                   screenshot=htmlbook.screenshot_path(page),
                                   colab_notebook=htmlbook.chapter_notebook(page),
                                   code_contrast=page == FIRST_CHAPTER,
                                   contrast_scope=_contrast_scope(book_html / f"{page}.html"))
    print(f"{page}: {report.images} images ({report.figures} figures), {report.math} formulas, {report.widgets} widgets, "
          f"{report.animations} animations, {report.solutions} solutions; offsite (blocked): {report.offsite_requests}; "
          f"axe violations by impact {report.axe}; smallest figure text {report.smallest_figure_text_pt} pt")
    assert report.problems == [], f"{page}: " + "; ".join(report.problems)
    if htmlbook.chapter_notebook(page):  # every chapter teaches with figures; none shown = lost outputs
        assert report.figures >= 1, f"{page} shows no figure"
