"""Check a built book as a reader meets it: links, page weights, and every page in a browser.

Usage::

    .venv/bin/python tools/checksite.py _build/html             # links and page weights
    .venv/bin/python tools/checksite.py _build/html --browser   # and every page in Chromium

Works on any `_build/html` (``make book``'s, the student edition's, a test build). The browser
pass needs ``make browser-deps`` and a build whose MathJax and widget scripts are served locally
(``sitetools.htmlbook.build_book`` makes one; the published config loads them from a CDN,
which this check blocks). Prints one line per problem; the exit status is 1 if there is any.
The tests in ``tests/browser/`` run the same checks, one assertion each.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sitetools import htmlbook, sitecheck  # noqa: E402


def file_problems(site: Path) -> list[str]:
    """Broken internal links and anchors, and pages heavier than the limit."""
    limit = sitecheck.PAGE_LIMIT_BYTES
    problems = [f"broken link: {line}" for line in sitecheck.broken_links(site)]
    sizes = [sitecheck.page_size(site, page) for page in sitecheck.site_pages(site)]
    print(sitecheck.size_table(sizes, limit))
    problems += [f"page over {limit / 1e6:.0f} MB: {s.page} ({s.total / 1e6:.1f} MB)"
                 for s in sizes if s.total > limit]
    return problems


def browser_problems(site: Path, source: Path = htmlbook.ROOT) -> list[str]:
    """Every page of `source`'s table of contents opened in headless Chromium."""
    from playwright.sync_api import sync_playwright

    missing = htmlbook.missing_setup()
    if missing:
        return ["the browser pass needs `make browser-deps`; missing: " + ", ".join(missing)]
    problems = []
    with htmlbook.serve(site) as url, sync_playwright() as playwright:
        chromium = htmlbook.launch_chromium(playwright)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        for page in htmlbook.toc_pages(source):
            report = htmlbook.inspect_page(context, f"{url}/{page}.html",
                                           colab_notebook=htmlbook.chapter_notebook(page, source))
            problems += [f"{page}: {problem}" for problem in report.problems]
        chromium.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="a built book's HTML folder, e.g. _build/html")
    parser.add_argument("--browser", action="store_true", help="also open every page in Chromium")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        parser.error(f"{args.site} has no index.html: expected a built book's HTML folder")
    problems = file_problems(args.site)
    if args.browser:
        problems += browser_problems(args.site)
    print("\n".join(problems) or "no problems found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
