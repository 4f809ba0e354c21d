"""Internal links, images, scripts and #anchors of the built book all resolve."""
import re

import pytest

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
