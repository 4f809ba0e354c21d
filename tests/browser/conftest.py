"""One offline build of the book per test session, shared by the browser, link, page-size,
Colab-start and student-edition tests. Its chapters run in a Colab-like kernel.

Set COURSE_BOOK_HTML to the `_build/html` folder of an earlier offline build to reuse it (handy
while editing these tests; `make test` always builds afresh). The page-size report (and, with
COURSE_SCREENSHOTS=1, screenshots) go to `_build/screenshots/` (a build artifact, not committed).
"""
from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from . import featurebook
from sitetools import colab_like, htmlbook, zoo_warmup

ROOT = htmlbook.ROOT


@pytest.fixture(scope="session")
def browser_setup() -> None:
    missing = htmlbook.missing_setup()
    if missing:
        pytest.fail("browser tests need `make browser-deps`; missing: " + ", ".join(missing))


def _once(tmp_path_factory, name: str, make):
    """``make()``'s JSON-able result, computed once for all pytest-xdist workers of this run.

    The book lane runs two workers (tools/run_tests.py): the first to ask builds, the other
    waits for it and reads what it wrote, a failure included.
    """
    shared = tmp_path_factory.getbasetemp().parent  # one folder for every worker of the run
    record = shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            try:
                record.write_text(json.dumps({"value": make()}, default=str))
            except Exception as error:  # the waiting worker reports the same failure
                record.write_text(json.dumps({"error": f"{type(error).__name__}: {error}"}))
                raise
    found = json.loads(record.read_text())
    if "error" in found:
        pytest.fail(f"{name} failed in another worker: {found['error']}")
    return found["value"]


@pytest.fixture(scope="session")
def colab_start(tmp_path_factory) -> colab_like.ColabStart:
    """The Colab-like environment the book's chapters run in (sitetools/colab_like.py)."""
    made = _once(tmp_path_factory, "colab-start",
                 lambda: asdict(colab_like.start(tmp_path_factory.mktemp("colab"))))
    return colab_like.ColabStart.from_dict(made)


@pytest.fixture(scope="session")
def book_html(browser_setup, colab_start, tmp_path_factory) -> Path:
    """The whole book, every chapter executed from a Colab-like start, built with MathJax and
    widgets served locally: the one execution of the chapters in a test run."""
    reuse = os.environ.get("COURSE_BOOK_HTML")
    if reuse:
        return Path(reuse)

    def build() -> str:
        # The zoo models train beside the build, not in it (sitetools/zoo_warmup.py).
        with zoo_warmup.training_beside(colab_like.zoo_cache()):
            return str(htmlbook.build_book(ROOT, tmp_path_factory.mktemp("book"), colab=colab_start))

    return Path(_once(tmp_path_factory, "book-html", build))


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
