"""The claims of the whole book, as the build recorded them: the book's results are these tests.

Each chapter states its claims in code (`course_utils.teaching.claims`); the build fails on a claim that
does not hold, and writes every record to `claims.json` and the ledger page. Here the records of
the session's build (`book_html`, shared with the browser tests) are checked as a whole.
"""
import json
from collections import Counter

import pytest

from course_utils.teaching import claims

from sitetools import htmlbook

pytestmark = pytest.mark.slow
CHAPTERS = sorted(p.stem for p in (htmlbook.ROOT / "book").glob("*.ipynb"))
MIN_CLAIMS = 50
MIN_BASELINE_SHARE = 0.7
MIN_SEEDS = 1 + len(htmlbook.CLAIM_SEEDS)  # the build's seed and the test build's others


@pytest.fixture(scope="module")
def records(book_html):
    path = book_html / "claims.json"
    assert path.is_file(), "the build wrote no claims.json (is course_utils.book.ledger in _config.yml?)"
    return json.loads(path.read_text())


def test_every_claim_of_the_book_holds(records):
    failing = [f"{r['id']} ({r['chapter']}): value {r['value']}, bound {r['bound']}"
               for r in records if not r["holds"]]
    assert failing == []


def test_every_measured_claim_holds_on_every_seed_it_was_checked_on(records, book_html):
    measured = [r for r in records if r["kind"] == "measured"]
    few = [f"{r['id']}: {[s['seed'] for s in r.get('seeds', [])]}" for r in measured
           if len({s["seed"] for s in r.get("seeds", [])}) < MIN_SEEDS]
    assert few == [], f"claims checked on fewer than {MIN_SEEDS} seeds"
    failing = [f"{r['id']} with SEED = {s['seed']}: value {s['value']}, bound {s['bound']}"
               for r in measured for s in r["seeds"] if not s["holds"]]
    assert failing == []
    for record in measured:
        assert record["worst_margin"] == min(s["margin"] for s in record["seeds"]) >= 0
    ledger = (book_html / "book" / "claims.html").read_text()
    assert ledger.count(f"holds on {MIN_SEEDS} seed") == len(measured)  # "seed" or "seeds"


def test_every_record_has_the_fields_tools_read(records):
    for record in records:
        assert {"id", "chapter", "statement", "value", "baseline", "bound", "holds"} <= set(record)
        assert (record["source_claim"] in claims.SOURCE_CLAIMS) != (record["topic"] in claims.TOPICS)
        if record["kind"] == "measured":
            assert isinstance(record["value"], float) and record["bound"], record["id"]
        else:
            assert record["citation"], record["id"]
    duplicates = [i for i, n in Counter(r["id"] for r in records).items() if n > 1]
    assert duplicates == []


def test_every_chapter_records_claims(records):
    per_chapter = Counter(r["chapter"] for r in records)
    assert [c for c in CHAPTERS if per_chapter[f"book/{c}"] == 0] == []
    assert len(records) >= MIN_CLAIMS, f"{len(records)} claims in the book: {dict(per_chapter)}"


def test_claims_c1_to_c16_are_each_measured(records):
    measured = {r["source_claim"] for r in records if r["kind"] == "measured"}
    assert [c for c in list(claims.SOURCE_CLAIMS)[:16] if c not in measured] == []


def test_most_claims_are_compared_with_a_baseline(records):
    with_baseline = sum(r["baseline"] is not None for r in records)
    assert with_baseline / len(records) >= MIN_BASELINE_SHARE, f"{with_baseline} of {len(records)}"


def test_each_claim_shows_next_to_its_cell_and_in_the_ledger(records, book_html):
    ledger = (book_html / "book" / "claims.html").read_text()
    pages = {}
    for record in records:
        page = pages.setdefault(record["chapter"],
                                (book_html / f"{record['chapter']}.html").read_text())
        assert f'id="claim-{record["id"]}"' in page, f"{record['id']} is not on its chapter's page"
        chapter_page = record["chapter"].split("/")[-1]
        assert f'href="{chapter_page}.html#claim-{record["id"]}"' in ledger, record["id"]
    measured = {r["source_claim"] for r in records if r["kind"] == "measured"}
    not_demonstrated = ledger.split("not demonstrated")[1]
    for key in claims.SOURCE_CLAIMS:
        assert (f"{key}:" in not_demonstrated) == (key not in measured), key
