"""Internal links, images, scripts and #anchors of the built book all resolve; citations,
glossary terms and the API reference are reachable from the chapters."""
import inspect
import re

import pytest

import bookcheck  # tools/bookcheck.py
from sitetools import htmlbook, sitecheck


@pytest.mark.slow
def test_internal_links_and_anchors_resolve(book_html):
    pages = sitecheck.site_pages(book_html)
    assert (book_html / "index.html") in pages
    broken = sitecheck.broken_links(book_html)
    assert broken == [], f"{len(broken)} broken links:\n" + "\n".join(broken[:50])


@pytest.mark.slow
def test_every_citation_and_glossary_term_links_to_its_page(book_html):
    """Each {cite} role becomes a link into the bibliography, each {term} one into the glossary."""
    for notebook in sorted((htmlbook.ROOT / "book").glob("*.ipynb")):
        source = notebook.read_text()
        page = (book_html / "book" / f"{notebook.stem}.html").read_text()
        cites = len(re.findall(r"\{cite(?::[tp])?\}`", source))
        terms = len(re.findall(r"\{term\}`", source))
        assert page.count('href="references.html#') >= cites, notebook.stem
        assert page.count('href="glossary.html#term-') >= terms, notebook.stem
    assert (book_html / "book" / "references.html").is_file()
    assert "doi.org/10.23915/distill.00024.001" in (book_html / "book" / "references.html").read_text()


def _documented_path(path: str) -> str | None:
    """Where the API page documents the function or class at `path` (None: not one of those)."""
    target = bookcheck.resolve(path)
    if not (inspect.isfunction(target) or inspect.isclass(target)) or path.rpartition(".")[2].startswith("_"):
        return None
    return f"{target.__module__}.{target.__qualname__}"


@pytest.mark.slow
def test_every_function_a_chapter_calls_is_in_the_api_reference(book_html):
    page = (book_html / "book" / "api.html").read_text()
    anchors = set(re.findall(r'<dt class="sig[^"]*" id="([\w.]+)"', page))
    assert len(anchors) > 100, "the API page documents almost nothing"
    missing = {}
    for notebook in bookcheck.chapters():
        for path in bookcheck.course_names(notebook).values():
            home = _documented_path(path)
            if home is not None and path not in anchors and home not in anchors:
                missing.setdefault(notebook.stem, []).append(path)
    assert not missing, f"called in a chapter but not on the API page: {missing}"
    assert 'href="api.html"' in (book_html / "book" / "intro.html").read_text()
