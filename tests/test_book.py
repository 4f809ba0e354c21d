"""The book's spine: table of contents, committed notebooks, Colab cell, and the build itself."""
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils.teaching import colab

import bookcheck  # tools/bookcheck.py (pyproject's pythonpath): checks of the chapters' text
import link_glossary  # tools/link_glossary.py
from sitetools import htmlbook

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


CITATION = re.compile(r"\{cite(?::[tp])?\}`([^`]+)`")


def _bibliography() -> dict:
    from pybtex.database import parse_file   # comes with jupyter-book's sphinxcontrib-bibtex

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return {key: entry for bib in config["bibtex_bibfiles"]
            for key, entry in parse_file(str(ROOT / bib)).entries.items()}


def _cited_keys() -> dict[str, set[str]]:
    """Every key cited, with the pages that cite it."""
    cited: dict[str, set[str]] = {}
    for path in [*NOTEBOOKS, *BOOK.glob("*.md")]:
        text = path.read_text()
        for keys in CITATION.findall(text):
            for key in keys.split(","):
                cited.setdefault(key.strip(), set()).add(path.stem)
    return cited


def test_every_citation_resolves_and_every_work_has_a_doi_or_link():
    entries, cited = _bibliography(), _cited_keys()
    assert sorted(set(cited) - set(entries)) == [], "cited but not in the bibliography"
    assert sorted(set(entries) - set(cited)) == [], "in the bibliography but cited nowhere"
    for key, entry in entries.items():
        doi, url = entry.fields.get("doi", ""), entry.fields.get("url", "")
        assert re.fullmatch(r"10\.\d{4,9}/\S+", doi) or re.fullmatch(r"https://\S+", url), key
        assert entry.fields.get("title") and entry.fields.get("year") and entry.persons["author"]


def test_the_works_the_source_text_names_are_cited():
    named = {"olah2017feature", "olah2018building", "olah2020zoom", "cammarata2020curve",
             "cammarata2021curve", "kornblith2019similarity", "li2016convergent",
             "simonyan2014very", "szegedy2014going"}
    assert named <= set(_cited_keys())


def test_each_chapters_first_use_of_a_glossary_term_links_to_it():
    assert len(link_glossary.terms()) >= 15
    assert link_glossary.main(["--check"]) == 0


def test_the_glossary_linker_skips_code_math_and_links():
    line = "A `unit` in $unit$ and [unit](x.md), then a unit and units."
    assert link_glossary._link_in_line(line, "Unit") == (
        "A `unit` in $unit$ and [unit](x.md), then a {term}`unit <Unit>` and units.")
    assert link_glossary._link_in_line("a feature map", "Feature") is None


def test_toc_lists_every_chapter_and_only_existing_files():
    files = htmlbook.toc_pages(ROOT)[1:]   # after the root page
    chapters = [f for f in files if (ROOT / f"{f}.ipynb").is_file()]
    assert sorted(chapters) == sorted(f"book/{p.stem}" for p in NOTEBOOKS)
    assert all((ROOT / f"{f}.ipynb").is_file() or (ROOT / f"{f}.md").is_file() for f in files)
    assert len(chapters) >= 7
    # the reference part closes the book: the ledger, the glossary, the API, the bibliography
    assert files[-4:] == ["book/claims", "book/glossary", "book/api", "book/references"]


def test_no_measured_number_is_typed_into_the_prose():
    typed = [t for nb in NOTEBOOKS for t in bookcheck.typed_numbers(nb)]
    assert typed == [], "numbers typed into markdown (print them from a cell):\n" + "\n".join(typed)


def test_the_number_finder_finds_typed_numbers(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(
        "Accuracy rises to 95% (from 0.56), in section 1.2, for $x = 0.5$ and `0.7`."),
        nbformat.v4.new_markdown_cell("### A heading 2.5\nThe text under it says 0.31.")]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    found = bookcheck.typed_numbers(tmp_path / "nb.ipynb")
    assert len(found) == 3 and "95%" in found[0] and "0.56" in found[1] and "0.31" in found[2]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_committed_clean_with_setup_cell_and_goals(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.source == colab.setup_cell_source(), "run tools/sync_setup_cells.py"
    assert "remove-cell" in first.metadata["tags"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"
    assert "learning goals" in nb.cells[1].source.lower()


def test_config_and_colab_module_agree():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == colab.REPOSITORY_URL
    assert config["repository"]["path_to_book"] == ""  # "book" would double the path
    assert config["execute"]["execute_notebooks"] == "force" and config["execute"]["raise_on_error"] is True
    assert ".venv" in config["exclude_patterns"]


@pytest.mark.parametrize("in_colab,installed,expected_calls", [(True, False, 1), (True, True, 0), (False, False, 0)])
def test_setup_cell_installs_only_in_colab_and_only_once(monkeypatch, in_colab, installed, expected_calls):
    from IPython.core.interactiveshell import InteractiveShell
    import importlib.util

    shell = InteractiveShell.instance()
    calls = []
    shell.register_magic_function(lambda line: calls.append(line), "line", "pip")
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (real_find_spec(name, *a) if installed else None) if name == "course_utils" else real_find_spec(name, *a))
    result = shell.run_cell(colab.setup_cell_source())
    assert result.success
    assert len(calls) == expected_calls
    if calls:
        assert colab.install_url() in calls[0] and "torch" not in calls[0]


def _mini_book(tmp_path: Path, code: str, ledger: bool = False, seeds: bool = False) -> Path:
    """A one-notebook book with this repository's _config.yml (other seeds only if ``seeds``)."""
    tmp_path.mkdir(parents=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    if not seeds:   # executing the notebook again takes time; most tests do not need it
        config["sphinx"]["config"]["claim_seeds"] = []
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    toc = "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/nb\n"
    (tmp_path / "_toc.yml").write_text(toc + ("  - file: book/claims\n" if ledger else ""))
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    htmlbook.copy_config_files(tmp_path)
    if ledger:
        (tmp_path / "book" / "claims.md").write_text((BOOK / "claims.md").read_text())
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("SEED = 0")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), parameters,
                nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "book" / "nb.ipynb")
    return tmp_path


def _build(folder: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(JUPYTER_BOOK), "build", "--all", "-W", "--keep-going", str(folder)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_a_raising_cell_fails_the_build(tmp_path):
    failing = _build(_mini_book(tmp_path / "bad", "raise RuntimeError('boom from a cell')"))
    assert failing.returncode != 0
    assert "boom from a cell" in failing.stdout + failing.stderr
    # the same book without the error builds: test_the_ledger_page_and_claims_json_come_from_the_build


CLAIMS_CELL = """from course_utils.teaching import claims
claims.claim("mini-pool", "C7", "max pooling lowers the shift change", value=0.68,
             baseline=0.83, vs="subsampling", bound=claims.below(0.78))
claims.claim("mini-topic", "superposition", "more features than dimensions", value=12,
             bound=claims.at_least(6))
claims.cited("mini-cited", "C17", "features align with intuition", citation="Olah et al. 2020")
"""


@pytest.mark.slow
def test_a_false_claim_fails_the_build_naming_it(tmp_path):
    code = CLAIMS_CELL + ("claims.claim('mini-false', 'C13', 'cutting the line detectors lowers "
                          "the curve index', value=0.12, bound=claims.above(0.2))\n")
    failing = _build(_mini_book(tmp_path / "false", code, ledger=True))
    log = failing.stdout + failing.stderr
    assert failing.returncode != 0
    assert "ClaimFailed" in log and "claim mini-false (C13) does not hold" in log
    assert "measured 0.12, holds if > 0.2" in log


@pytest.mark.slow
def test_a_claim_that_breaks_with_another_seed_fails_the_build(tmp_path):
    code = CLAIMS_CELL + ("claims.claim('mini-lucky', 'C13', 'cutting the line detectors lowers "
                          "the curve index', value=0.25 - 0.2 * SEED, bound=claims.above(0.2))\n")
    failing = _build(_mini_book(tmp_path / "lucky", code, ledger=True, seeds=True))
    log = failing.stdout + failing.stderr
    assert failing.returncode != 0
    assert "claim mini-lucky (C13) does not hold with SEED = 1: measured 0.05, holds if > 0.2" in log
    assert "does not hold with SEED = 2" in log and "mini-pool" not in log


@pytest.mark.slow
def test_the_ledger_page_and_claims_json_come_from_the_build(tmp_path):
    book = _mini_book(tmp_path / "true", CLAIMS_CELL + "print(6 * 7)\n", ledger=True, seeds=True)
    built = _build(book)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    html_dir = book / "_build" / "html"
    assert "42" in (html_dir / "book" / "nb.html").read_text()  # the cell's output is on the page
    records = {r["id"]: r for r in json.loads((html_dir / "claims.json").read_text())}
    assert set(records) == {"mini-pool", "mini-topic", "mini-cited"}
    pool = records["mini-pool"]
    assert (pool["chapter"], pool["source_claim"], pool["value"], pool["baseline"]) == (
        "book/nb", "C7", 0.68, 0.83)
    assert pool["bound"] == "< 0.78" and pool["holds"] and pool["url"] == "book/nb.html#claim-mini-pool"
    assert records["mini-topic"]["topic"] == "superposition"
    assert [(r["seed"], r["value"], r["holds"]) for r in pool["seeds"]] == [
        (0, 0.68, True), (1, 0.68, True), (2, 0.68, True)]
    assert pool["worst_margin"] == pytest.approx(0.1) and "seeds" not in records["mini-cited"]
    ledger = (html_dir / "book" / "claims.html").read_text()
    assert 'href="nb.html#claim-mini-pool"' in ledger and 'id="claim-mini-pool"' in (
        html_dir / "book" / "nb.html").read_text()
    assert "C7: pooling reduces dimensionality" in ledger and "superposition" in ledger
    assert "0: 0.68, 1: 0.68, 2: 0.68" in ledger and "holds on 3 seeds" in ledger
    not_demonstrated = ledger.split("not demonstrated")[1]
    assert "C1: a convolution output" in not_demonstrated
    assert "C17: CNNs are a good first object for interpretability (cited from the literature only)" in (
        not_demonstrated)
    assert "C7:" not in not_demonstrated
