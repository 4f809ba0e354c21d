"""The claims ledger: a Sphinx extension that collects every claim the chapters checked.

Loaded by the book build (``_config.yml``: ``sphinx: extra_extensions: [course_utils.ledger]``);
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
"""
from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from . import claims

_RECORD = re.compile(r'data-claim="([^"]*)"')
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
        for match in _RECORD.finditer(raw.astext()):
            record = json.loads(html.unescape(match.group(1)))
            record["chapter"] = docname
            found.append(record)
    _store(app.env)[docname] = found


def purge_claims(app, env, docname: str) -> None:
    _store(env).pop(docname, None)


def merge_claims(app, env, docnames, other) -> None:
    _store(env).update({name: _store(other)[name] for name in docnames if name in _store(other)})


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
    return nodes.paragraph(text=(
        f"{len(records)} claims in this build: {len(measured)} measured ({with_baseline} of them "
        f"against a baseline) and {len(records) - len(measured)} from the literature; "
        f"{holding} of {len(records)} hold. The measured ones demonstrate {len(served)} of the "
        f"{len(claims.SOURCE_CLAIMS)} claims of the source text."))


_COLUMNS = [("claim", 38), ("chapter", 14), ("value", 10), ("baseline", 14), ("bound", 12),
            ("status", 12)]


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
            status, value, bound = "cited: " + record["citation"], "-", "-"
        else:
            status = "holds" if record["holds"] else "DOES NOT HOLD"
            value, bound = claims.format_value(record["value"], fmt), record["bound"]
        body += _row([link, nodes.Text(titles.get(record["chapter"], record["chapter"])),
                      nodes.Text(value), nodes.Text(baseline), nodes.Text(bound),
                      nodes.Text(status)])
    group += body
    return table


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
    app.connect("env-updated", check_claims)
    app.connect("doctree-resolved", fill_ledger)
    app.connect("build-finished", write_claims_json)
    app.connect("build-finished", write_css)
    app.add_css_file("course-claims.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}
