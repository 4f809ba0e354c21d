"""The build publishes its weights, and a learner who downloads them gets the book's claims.

Uses the session's book build (`book_html`): its `zoo/` folder is served on 127.0.0.1, one
chapter is executed as a fresh Colab runtime would run it (empty model cache, weights from the
book), and the claims it records are compared with those the build recorded.
"""
import html
import json
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.cnn import published

from sitetools import htmlbook, zoo_warmup

pytestmark = pytest.mark.slow
CHAPTER = "01_architecture"   # its models: the small CNN, trained in the build


def test_the_build_publishes_every_model_it_trained_with_checksums(book_html):
    manifest = json.loads((book_html / "zoo" / published.MANIFEST).read_text())
    names = {(m["name"], m["seed"]) for m in manifest["models"]}
    assert ("mnist_small", 0) in names and ("arcs_deep", 0) in names
    for entry in manifest["models"]:
        assert published.sha256(book_html / "zoo" / entry["file"]) == entry["sha256"]


def test_every_model_a_chapter_trained_itself_is_on_the_warm_ups_list(book_html):
    # On an empty cache (a fresh clone, CI) each chapter's first-use message names a model it
    # trained itself: chapter 1's first model always, others when a chapter asked before the
    # warm-up got to them (the chapters run several at a time). A model not on the list means
    # the list misses one; on a warm cache nothing trains and this passes trivially.
    trained = zoo_warmup.trained_by_chapters(book_html.parent / "jupyter_execute")
    left_out = [model for model in trained if model not in zoo_warmup.BOOK_MODELS]
    assert left_out == [], (f"chapters trained {left_out}, which the warm-up does not know: add "
                            "them to tools/sitetools/zoo_warmup.py's BOOK_MODELS")


def _claims_of(notebook) -> dict[str, dict]:
    found = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            page = output.get("data", {}).get("text/html", "")
            for match in re.finditer(r'data-claim="([^"]*)"', page):
                record = json.loads(html.unescape(match.group(1)))
                found[record["id"]] = record
    return found


def test_a_learner_with_the_published_weights_gets_the_books_claims(book_html, tmp_path):
    built = {r["id"]: r for r in json.loads((book_html / "claims.json").read_text())
             if r["chapter"] == f"book/{CHAPTER}"}
    notebook = nbformat.read(htmlbook.ROOT / "book" / f"{CHAPTER}.ipynb", as_version=4)
    saved = dict(os.environ)
    with htmlbook.serve(book_html) as url:
        os.environ.update(COURSE_UTILS_CACHE=str(tmp_path), **{published.URL_ENV: f"{url}/zoo/"})
        os.environ.pop(published.BUILD_ENV, None)   # a learner, not the build
        os.environ.pop("MPLBACKEND", None)
        try:
            NotebookClient(notebook, timeout=600,
                           resources={"metadata": {"path": str(htmlbook.ROOT / "book")}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    log = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert "downloaded from the published book, checksum verified" in log
    assert "zoo: training" not in log
    learner = _claims_of(notebook)
    assert learner.keys() == built.keys() and built
    for claim_id, record in built.items():
        assert learner[claim_id]["value"] == record["value"], claim_id
