"""The claims ledger: a Sphinx extension that collects every claim the chapters checked.

Loaded by the book build (``_config.yml``: ``sphinx: extra_extensions: [course_utils.book.ledger]``);
learners never import it. While the book builds:

1. ``setup`` sets ``claims.STRICT_ENV`` in the environment the chapters' kernels inherit, so a
   claim that does not hold raises and the build fails, naming the claim.
2. After each chapter is executed and read, its claims are collected from the claim lines in its
   outputs (each line carries its record in ``data-claim``).
3. A page holding the ``claim-ledger`` directive gets one table per claim of the source text and
   per topic, filled in when every chapter has been read; source claims with no row are listed
   as not demonstrated.
4. ``claims.json`` (a list of records, each with its ``chapter`` and ``url``) is written next to
   the HTML.
5. While the chapters execute, worker processes execute them again with the other seeds of
   ``claim_seeds`` (``course_utils.book.replication``); each measured claim then carries its result on
   every seed, and a claim that breaks on any seed fails the build, naming the claim and seed.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from course_utils.teaching import claims
from . import replication

logger = logging.getLogger(__name__)


class ledger_placeholder(nodes.General, nodes.Element):
    """Replaced by the ledger's tables once every chapter has been read."""


class ClaimLedger(SphinxDirective):
    """``{claim-ledger}``: the table of every claim the book checked in this build."""

    def run(self) -> list[nodes.Node]:
        return [ledger_placeholder()]


# ----------------------------------------------------------------------------- collecting
def collect_claims(app, doctree: nodes.document) -> None:
    """After a document is read: keep the claims its executed cells printed."""
    docname = app.env.docname
    found = []
    for raw in doctree.findall(nodes.raw):
        for record in claims.records_in(raw.astext()):
            record["chapter"] = docname
            found.append(record)
    _store(app.env)[docname] = found


def purge_claims(app, env, docname: str) -> None:
    _store(env).pop(docname, None)


def merge_claims(app, env, docnames, other) -> None:
    _store(env).update({name: _store(other)[name] for name in docnames if name in _store(other)})


# ----------------------------------------------------------------------------- other seeds
def start_replications(app, env, docnames) -> None:
    """Before the chapters execute: start executing them with the other seeds, in the background."""
    import nbformat

    chapters, seeds = {}, [int(s) for s in app.config.claim_seeds]
    for name in sorted(env.found_docs):
        path = Path(env.doc2path(name))
        if path.suffix == ".ipynb":
            chapters[name] = (path, replication.build_seed(nbformat.read(path, as_version=4)))
    env.course_build_seeds = {name: seed for name, (_, seed) in chapters.items()}
    runnable = [path for path, seed in chapters.values() if seed is not None]
    others = [s for s in seeds if s not in {seed for _, seed in chapters.values()}]
    if not runnable or not others:
        app.course_replications = None
        return
    logger.info(f"claims: executing {len(runnable)} chapters again with SEED in {others}")
    pool = ThreadPoolExecutor(max_workers=1)
    app.course_replications = pool.submit(
        replication.replicate_all, runnable, others, replication.default_cache(),
        app.config.claim_seed_workers, logger.info)
    pool.shutdown(wait=False)


def add_replications(app, env) -> None:
    """After every chapter is read: each measured claim gets its result on every seed."""
    future = getattr(app, "course_replications", None)
    runs = {}
    if future is not None:
        try:
            runs = future.result()
        except replication.ReplicationError as error:
            logger.warning(f"claims: a chapter failed with another seed: {error}")
    for name, found in _store(env).items():
        seed = getattr(env, "course_build_seeds", {}).get(name)
        if seed is None:
            if any(r["kind"] == "measured" for r in found):
                logger.warning(f"{name} makes claims but has no cell tagged 'parameters' setting "
                               f"SEED: its claims are checked on one training only")
            continue
        stem = Path(env.doc2path(name)).stem
        chapter_runs = {s: records for (chapter, s), records in runs.items() if chapter == stem}
        for problem in replication.across_seeds(found, seed, chapter_runs):
            logger.warning(f"{problem} ({name})")


def check_claims(app, env) -> None:
    """Every id once in the whole book; a claim that failed (outside strict builds) warns."""
    seen: dict[str, str] = {}
    for record in all_claims(env):
        if record["id"] in seen:
            logger.warning(f"claim id {record['id']!r} is used in {seen[record['id']]} "
                           f"and {record['chapter']}: ids must be unique in the book")
        seen[record["id"]] = record["chapter"]
        if not record["holds"]:
            logger.warning(f"claim {record['id']} in {record['chapter']} does not hold")


def all_claims(env) -> list[dict]:
    """Every record, chapters in name order, claims in the order their cells ran."""
    return [record for name in sorted(_store(env)) for record in _store(env)[name]]


def _store(env) -> dict[str, list[dict]]:
    if not hasattr(env, "course_claims"):
        env.course_claims = {}
    return env.course_claims


# ----------------------------------------------------------------------------- the ledger page
def fill_ledger(app, doctree: nodes.document, docname: str) -> None:
    """Replace the ledger placeholder by the tables, with links relative to this page."""
    for placeholder in list(doctree.findall(ledger_placeholder)):
        records = all_claims(app.env)
        for record in records:
            record["url"] = _claim_uri(app, docname, record)
        placeholder.replace_self(_ledger_nodes(app, records))


def _ledger_nodes(app, records: list[dict]) -> list[nodes.Node]:
    titles = _chapter_titles(app)
    out: list[nodes.Node] = [_summary(records)]
    groups = [(key, f"{key}: {text}") for key, text in claims.SOURCE_CLAIMS.items()]
    groups += [(topic, f"Beyond the source text: {topic}") for topic in claims.TOPICS]
    missing = []
    for key, title in groups:
        rows = [r for r in records if key in (r["source_claim"], r["topic"])]
        if key in claims.SOURCE_CLAIMS and not any(r["kind"] == "measured" for r in rows):
            missing.append(title + (" (cited from the literature only)" if rows else ""))
        if not rows:
            continue
        out.append(nodes.rubric(text=title, ids=[f"ledger-{key.lower()}"]))
        out.append(_table(rows, titles))
    out.append(nodes.rubric(text="Claims of the source text not demonstrated (measured) in this build"))
    if missing:
        out.append(nodes.bullet_list("", *(nodes.list_item("", nodes.paragraph(text=t))
                                           for t in missing)))
    else:
        out.append(nodes.paragraph(text="None: every claim of the source text has a row above."))
    return out


def _summary(records: list[dict]) -> nodes.paragraph:
    measured = [r for r in records if r["kind"] == "measured"]
    with_baseline = sum(r["baseline"] is not None for r in measured)
    holding = sum(r["holds"] for r in records)
    served = {r["source_claim"] for r in measured if r["source_claim"]}
    seeds = [len(r.get("seeds", [])) or 1 for r in measured]
    everywhere = sum(all(s["holds"] for s in r.get("seeds", [r])) for r in measured)
    return nodes.paragraph(text=(
        f"{len(records)} claims in this build: {len(measured)} measured ({with_baseline} of them "
        f"against a baseline) and {len(records) - len(measured)} from the literature; "
        f"{holding} of {len(records)} hold. Each measured claim was checked on "
        f"{_span(seeds)} trainings (seeds) and {everywhere} "
        f"of {len(measured)} hold on every one; a margin is how far inside its bound a value is. "
        f"The measured ones demonstrate {len(served)} of the "
        f"{len(claims.SOURCE_CLAIMS)} claims of the source text."))


def _span(counts: list[int]) -> str:
    low, high = min(counts, default=0), max(counts, default=0)
    return str(low) if low == high else f"{low} to {high}"


_COLUMNS = [("claim", 34), ("chapter", 12), ("value", 9), ("baseline", 13), ("bound", 10),
            ("seeds: values", 14), ("worst margin", 8), ("status", 10)]


def _table(rows: list[dict], titles: dict[str, str]) -> nodes.table:
    table = nodes.table(classes=["claim-ledger"])
    group = nodes.tgroup(cols=len(_COLUMNS))
    table += group
    group.extend(nodes.colspec(colwidth=width) for _, width in _COLUMNS)
    group += nodes.thead("", _row([nodes.Text(name) for name, _ in _COLUMNS]))
    body = nodes.tbody()
    for record in rows:
        link = nodes.reference("", record["statement"], refuri=record["url"], internal=True)
        fmt = record.get("fmt")   # as the chapter printed it
        baseline = claims.format_value(record["baseline"], fmt)
        if record["vs"] and record["baseline"] is not None:
            baseline += f" ({record['vs']})"
        if record["kind"] == "cited":
            status, value, bound, seeds, worst = "cited: " + record["citation"], "-", "-", "-", "-"
        else:
            value, bound = claims.format_value(record["value"], fmt), record["bound"]
            seeds, worst, status = _seed_cells(record)
        body += _row([link, nodes.Text(titles.get(record["chapter"], record["chapter"])),
                      nodes.Text(value), nodes.Text(baseline), nodes.Text(bound),
                      nodes.Text(seeds), nodes.Text(worst), nodes.Text(status)])
    group += body
    return table


def _seed_cells(record: dict) -> tuple[str, str, str]:
    """The seeds column ("0: 68%, 1: 70%"), the worst margin and the status of a measured claim."""
    fmt = record.get("fmt")
    results = record.get("seeds") or [{"seed": "build", **record}]
    seeds = ", ".join(f"{r['seed']}: {claims.format_value(r['value'], fmt)}" for r in results)
    worst = claims.format_value(min(r["margin"] for r in results), fmt)
    failing = [str(r["seed"]) for r in results if not r["holds"]]
    if failing:
        return seeds, worst, "DOES NOT HOLD with SEED = " + ", ".join(failing)
    return seeds, worst, f"holds on {len(results)} seed" + ("s" if len(results) > 1 else "")


def _row(cells: list[nodes.Node]) -> nodes.row:
    return nodes.row("", *(nodes.entry("", nodes.paragraph("", "", cell)) for cell in cells))


def _claim_uri(app, fromdoc: str, record: dict) -> str:
    try:
        uri = app.builder.get_relative_uri(fromdoc, record["chapter"])
    except Exception:  # builders without pages (linkcheck, ...)
        uri = record["chapter"]
    return f"{uri}#claim-{record['id']}"


def _chapter_titles(app) -> dict[str, str]:
    return {name: title.astext() for name, title in app.env.titles.items()}


# ----------------------------------------------------------------------------- claims.json
def write_claims_json(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    records = all_claims(app.env)
    for record in records:
        record["url"] = _claim_uri(app, "index", record).lstrip("/")
    path = Path(app.outdir) / "claims.json"
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False))


_CSS = """
.course-claim { font-family: var(--pst-font-family-monospace, monospace); font-size: 0.85em;
  padding: 0.3em 0.6em; margin: 0.3em 0; border-left: 4px solid #2e7d32; }
.course-claim.fails { border-left-color: #c62828; }
.course-claim.cited { border-left-color: #6a5acd; }
table.claim-ledger { font-size: 0.85em; }
"""


def write_css(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(exist_ok=True)
        (static / "course-claims.css").write_text(_CSS)


def setup(app):
    # The kernels of the chapters inherit this process's environment.
    os.environ[claims.STRICT_ENV] = "1"
    app.add_node(ledger_placeholder)
    app.add_directive("claim-ledger", ClaimLedger)
    app.connect("doctree-read", collect_claims)
    app.connect("env-purge-doc", purge_claims)
    app.connect("env-merge-info", merge_claims)
    app.add_config_value("claim_seeds", [1, 2], "env")
    app.add_config_value("claim_seed_workers", 2, "env")
    app.connect("env-before-read-docs", start_replications)
    app.connect("env-updated", add_replications)
    app.connect("env-updated", check_claims)
    app.connect("doctree-resolved", fill_ledger)
    app.connect("build-finished", write_claims_json)
    app.connect("build-finished", write_css)
    app.add_css_file("course-claims.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}
