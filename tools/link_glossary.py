"""Link each chapter's first use of every glossary term to book/glossary.md (idempotent).

    .venv/bin/python tools/link_glossary.py          # rewrite the chapters
    .venv/bin/python tools/link_glossary.py --check  # exit 1 if a chapter's first use is unlinked

Only plain prose is touched: headings, tables, code, math, links, roles and emphasis are left
alone, so a term first used inside one of those is linked at its next plain use.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "book" / "glossary.md"
# Before these chapters the words are used in their everyday sense ("an edge in four directions").
FIRST_CHAPTER = {"Direction": "04"}
# Uses that are another term: a "feature map" is a channel's output, not a feature.
NOT_BEFORE = {"Feature": (" map",)}
# Inline spans whose text must not change: code, math, roles, links, bold and italics.
PROTECTED = re.compile(r"(\{[a-z:]+\}`[^`]*`|`[^`]*`|\$[^$]*\$|\[[^\]]*\]\([^)]*\)|\*\*[^*]+\*\*"
                       r"|\*[^*\s][^*]*\*)")


def terms() -> list[str]:
    """The glossary's terms, longest first (so "feature visualization" wins over "feature")."""
    text = GLOSSARY.read_text().split("```{glossary}")[1].split("```")[0]
    found = [line.strip() for line in text.splitlines() if line and not line.startswith(" ")]
    return sorted(found, key=len, reverse=True)


def _plain_lines(lines: list[str]):
    """Indexes of the lines of plain prose in a markdown cell's ``lines``."""
    fenced = False
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith("```") or (stripped.startswith("$$") and stripped.count("$$") == 1):
            fenced = not fenced   # a code block or a display formula opens or closes
            continue
        if fenced or not stripped or stripped.startswith(("#", "|", ":::", "(", "$$")):
            continue
        yield index


def link_first_uses(cells: list[dict], names: list[str]) -> list[str]:
    """Link, in place, the first plain use of each term in these markdown cells; return them."""
    linked, todo = [], [n for n in names if not _already(cells, n)]
    for cell in cells:
        lines = "".join(cell["source"]).split("\n")
        for index in _plain_lines(lines):
            for name in list(todo):
                new = _link_in_line(lines[index], name)
                if new is not None:
                    lines[index] = new
                    todo.remove(name)
                    linked.append(name)
        cell["source"] = "\n".join(lines).splitlines(keepends=True)
    return linked


def _already(cells: list[dict], name: str) -> bool:
    pattern = re.compile(r"\{term\}`[^`<]*<" + re.escape(name) + r">`|\{term\}`" + re.escape(name)
                         + r"`", re.IGNORECASE)
    return any(pattern.search("".join(c["source"])) for c in cells)


def _link_in_line(line: str, name: str) -> str | None:
    parts = PROTECTED.split(line)
    word = re.compile(r"(?<![\w-])(" + re.escape(name) + r")s?(?![\w-])", re.IGNORECASE)
    for i in range(0, len(parts), 2):           # even parts are plain text
        match = next((m for m in word.finditer(parts[i])
                      if not parts[i][m.end():].startswith(NOT_BEFORE.get(name, ()))), None)
        if match:
            text = match.group(0)
            parts[i] = parts[i][:match.start()] + f"{{term}}`{text} <{name}>`" + parts[i][match.end():]
            return "".join(parts)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    names, missing = terms(), []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        cells = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
        here = [n for n in names if path.stem >= FIRST_CHAPTER.get(n, "")]
        linked = link_first_uses(cells, here)
        if args.check:
            missing += [f"{path.stem}: {name}" for name in linked]
        elif linked:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            print(f"{path.stem}: linked {', '.join(sorted(linked))}")
    print("\n".join(f"first use not linked: {m}" for m in missing) if missing else "", end="")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
