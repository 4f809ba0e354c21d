"""Pages stay light: each page's HTML plus its images stays under 2 MB.

Inline animations (matplotlib to_jshtml embeds every frame) and widget state are the usual
culprits. The table of sizes is printed and written to _build/screenshots/page-sizes.md.
"""
import pytest

from sitetools import sitecheck
from sitetools.htmlbook import ARTIFACTS

LIMIT_BYTES = sitecheck.PAGE_LIMIT_BYTES


@pytest.mark.slow
def test_every_page_stays_under_the_size_limit(book_html):
    sizes = [sitecheck.page_size(book_html, page) for page in sitecheck.site_pages(book_html)]
    table = sitecheck.size_table(sizes, LIMIT_BYTES)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "page-sizes.md").write_text(table + "\n")
    print("\n" + table)
    too_big = [f"{s.page}: {s.total / 1e6:.1f} MB" for s in sizes if s.total > LIMIT_BYTES]
    assert too_big == [], f"pages over {LIMIT_BYTES / 1e6:.0f} MB: {too_big}"
