"""One offline build of the book per test session, shared by the browser, link, page-size,
Colab-start and student-edition tests. Its chapters run in a Colab-like kernel.

Set COURSE_BOOK_HTML to the `_build/html` folder of an earlier offline build to reuse it (handy
while editing these tests; `make test` always builds afresh). Screenshots and the page-size
report go to `_build/screenshots/` (a build artifact, not committed).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import featurebook
from sitetools import colab_like, htmlbook

ROOT = htmlbook.ROOT


@pytest.fixture(scope="session")
def browser_setup() -> None:
    missing = htmlbook.missing_setup()
    if missing:
        pytest.fail("browser tests need `make browser-deps`; missing: " + ", ".join(missing))


@pytest.fixture(scope="session")
def colab_start(tmp_path_factory) -> colab_like.ColabStart:
    """The Colab-like environment the book's chapters run in (sitetools/colab_like.py)."""
    return colab_like.start(tmp_path_factory.mktemp("colab"))


@pytest.fixture(scope="session")
def book_html(browser_setup, colab_start, tmp_path_factory) -> Path:
    """The whole book, every chapter executed from a Colab-like start, built with MathJax and
    widgets served locally: the one execution of the chapters in a test run."""
    reuse = os.environ.get("COURSE_BOOK_HTML")
    if reuse:
        return Path(reuse)
    return htmlbook.build_book(ROOT, tmp_path_factory.mktemp("book"), colab=colab_start)


@pytest.fixture(scope="session")
def feature_html(browser_setup, tmp_path_factory) -> Path:
    """The small book of featurebook.py (math, figure, widgets, animation, solution), built offline."""
    folder = tmp_path_factory.mktemp("feature-book")
    return htmlbook.build_book(featurebook.write_feature_book(folder / "src"), folder / "out", timeout=600)


@pytest.fixture(scope="session")
def browser(browser_setup):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = htmlbook.launch_chromium(playwright)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        yield context
        context.close()
        chromium.close()


@pytest.fixture(scope="session")
def book_url(book_html):
    with htmlbook.serve(book_html) as url:
        yield url


@pytest.fixture(scope="session")
def feature_url(feature_html):
    with htmlbook.serve(feature_html) as url:
        yield url
