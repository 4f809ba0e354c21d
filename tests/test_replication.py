"""course_utils.book.replication: chapters executed again with other seeds, claims compared."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_utils.teaching import claims
from course_utils.book import replication

PARAMETERS = "SEED = 0   # the seed of the chapter"
# Holds for SEED >= 1 only: lets a test tell the seeds apart.
CLAIM = ("from course_utils.teaching import claims\n"
         "claims.claim('grows-with-seed', 'C7', 'the value is the seed', value=SEED, "
         "bound=claims.above(0.5))\n")


def chapter(*cells: str, tagged: int | None = 0) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    if tagged is not None:
        nb.cells[tagged].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def measured(id: str, value: float, margin: float, holds: bool = True, **extra) -> dict:
    return {"id": id, "kind": "measured", "value": value, "baseline": None, "bound": "> 0.5",
            "margin": margin, "holds": holds, "source_claim": "C7", "topic": None, **extra}


def test_with_seed_sets_the_seed_right_after_the_parameters_cell():
    nb = chapter("print('set-up')", PARAMETERS, "print(SEED)", tagged=1)
    seeded = replication.with_seed(nb, 7)
    assert [c.source for c in seeded.cells] == [
        "print('set-up')", PARAMETERS, "SEED = 7  # injected by course_utils.book.replication",
        "print(SEED)"]
    assert len(nb.cells) == 3   # the original is left alone


@pytest.mark.parametrize("cells, tagged, problem", [
    ((PARAMETERS,), None, "found 0"),
    (("x = 1",), 0, "does not set SEED"),
])
def test_with_seed_says_what_it_expected(cells, tagged, problem):
    with pytest.raises(replication.ReplicationError, match=problem):
        replication.with_seed(chapter(*cells, tagged=tagged), 1)


def test_with_seed_refuses_two_parameters_cells():
    nb = chapter(PARAMETERS, PARAMETERS)
    nb.cells[1].metadata["tags"] = ["parameters"]
    with pytest.raises(replication.ReplicationError, match="expected one cell tagged 'parameters'"):
        replication.with_seed(nb, 1)


def test_build_seed_reads_the_parameters_cell():
    assert replication.build_seed(chapter("SEED = 3  # default")) == 3
    assert replication.build_seed(chapter("x = 1", tagged=None)) is None


def test_claims_records_in_reads_what_a_claim_line_carries():
    shown = claims.claim("a-claim", "C7", "pooling helps", value=0.6, baseline=0.8,
                         bound=claims.below(0.7), display=False)
    assert claims.records_in("<p>x</p>" + shown.html() * 2) == [shown.record()] * 2


def test_across_seeds_adds_every_seed_and_the_worst_margin():
    build = [measured("a", 1.0, 0.5), {"id": "c", "kind": "cited"}]
    runs = {1: [measured("a", 0.9, 0.4)], 2: [measured("a", 1.2, 0.7)]}
    assert replication.across_seeds(build, 0, runs) == []
    assert [s["seed"] for s in build[0]["seeds"]] == [0, 1, 2]
    assert build[0]["worst_margin"] == 0.4
    assert "seeds" not in build[1]


def test_across_seeds_names_the_claim_and_seed_that_break():
    build = [measured("a", 1.0, 0.5), measured("b", 2.0, 1.5)]
    runs = {1: [measured("a", 0.2, -0.3, holds=False)]}
    problems = replication.across_seeds(build, 0, runs)
    assert problems == [
        "claim a (C7) does not hold with SEED = 1: measured 0.2, holds if > 0.5 "
        "(with SEED = 0: 1)",
        "claim b was not made with SEED = 1"]
    assert build[0]["worst_margin"] == -0.3


@pytest.mark.slow
def test_replicate_runs_the_chapter_with_the_seed_and_never_strictly(tmp_path, monkeypatch):
    path = tmp_path / "ch.ipynb"
    nbformat.write(chapter(PARAMETERS, CLAIM), path)
    monkeypatch.setenv(claims.STRICT_ENV, "1")   # as in the book build
    [failing] = replication.replicate(path, 0)   # does not raise: every claim is reported
    [holding] = replication.replicate(path, 2)
    assert (failing["value"], failing["holds"]) == (0, False)
    assert (holding["value"], holding["holds"], holding["margin"]) == (2, True, 1.5)


@pytest.mark.slow
def test_replicate_all_caches_and_reports_a_broken_chapter(tmp_path):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(chapter(PARAMETERS, CLAIM), good)
    nbformat.write(chapter(PARAMETERS, "raise ValueError('only with SEED 0' if SEED else 'ok')"),
                   bad)
    started = []
    runs = replication.replicate_all([good], [1, 2], tmp_path / "cache", log=started.append)
    assert sorted(runs) == [("good", 1), ("good", 2)]
    assert [r["value"] for r in runs[("good", 2)]] == [2]
    assert len(started) == 2
    replication.replicate_all([good], [1, 2], tmp_path / "cache", log=started.append)
    assert len(started) == 2   # cached: nothing executed again
    with pytest.raises(replication.ReplicationError, match="bad.ipynb with SEED = 1"):
        replication.replicate_all([bad], [1], tmp_path / "cache", log=started.append)


def test_the_cache_key_follows_the_notebook_and_the_seed(tmp_path):
    path = tmp_path / "ch.ipynb"
    nbformat.write(chapter(PARAMETERS), path)
    first = replication.cache_key(path, 1)
    assert replication.cache_key(path, 1) == first != replication.cache_key(path, 2)
    nbformat.write(chapter("SEED = 1"), path)
    assert replication.cache_key(path, 1) != first


# ----------------------------------------------------------------------------- the chapters
BOOK_CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "book").glob("*.ipynb"))
# A zoo model or an attribution cascade with a typed seed would not follow SEED in a replication.
TYPED_SEED = re.compile(r"(?:zoo\.(?:pretrained|untrained)|cascading_randomization|train_\w+)"
                        r"\([^)]*(?:seed=|\", )\d")


@pytest.mark.parametrize("path", BOOK_CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_one_seed_right_after_its_imports_and_models_follow_it(path):
    """What `replication.with_seed` relies on: one cell tagged ``parameters`` setting SEED = 0,
    right after the imports, and no zoo model (or cascade) with a seed typed in."""
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    nb = nbformat.read(path, as_version=4)
    tagged = [c.source for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].startswith("SEED = 0"), tagged
    assert replication.build_seed(nb) == 0
    assert "import" in code[code.index(tagged[0]) - 1], "the parameters cell follows the imports cell"
    assert TYPED_SEED.findall("\n".join(code)) == []
