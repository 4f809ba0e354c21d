"""Internal links, images, scripts and #anchors of the built book all resolve."""
import pytest

from sitetools import sitecheck


@pytest.mark.slow
def test_internal_links_and_anchors_resolve(book_html):
    pages = sitecheck.site_pages(book_html)
    assert (book_html / "index.html") in pages
    broken = sitecheck.broken_links(book_html)
    assert broken == [], f"{len(broken)} broken links:\n" + "\n".join(broken[:50])
