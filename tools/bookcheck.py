"""Checks of the book's chapters that need no book build, for contributors and the tests.

    .venv/bin/python tools/bookcheck.py prose                  # typed numbers, long code lines
    .venv/bin/python tools/bookcheck.py run 03_nonlinearity    # execute one chapter, strict claims

`run` executes a chapter as the book build does (claims that do not hold raise) and prints its
claim lines and its running time. `prose` lists numbers typed into markdown cells (a measured
number must come from an executed cell) and visible code lines longer than 88 characters.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
MAX_LINE = 88
FOLDED = {"hide-input", "remove-input", "remove-cell", "hide-cell"}
# A decimal number or a percentage in running text. Math, code spans and headings are removed
# first, and so are references like "section 1.2" or "table 3".
_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d+(?:\.\d+)?\s?%)(?!\w|\.\d)")
_NOT_PROSE = [re.compile(r"\$\$.*?\$\$", re.S), re.compile(r"\$[^$\n]*\$"),
              re.compile(r"`[^`\n]*`"), re.compile(r"^#+ .*$", re.M),
              re.compile(r"\]\([^)]*\)"),
              re.compile(r"(section|sections|§|chapter|chapters|table|figure)\s*\d+(\.\d+)+",
                         re.I)]


def chapters() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb"))


def typed_numbers(notebook: Path) -> list[str]:
    """Decimal numbers and percentages typed into the markdown cells of `notebook`, in context."""
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        for pattern in _NOT_PROSE:
            text = pattern.sub(" ", text)
        for match in _NUMBER.finditer(text):
            context = text[max(0, match.start() - 40):match.end() + 10].replace("\n", " ")
            found.append(f"{notebook.stem}: ...{context}...")
    return found


def long_code_lines(notebook: Path, limit: int = MAX_LINE) -> list[str]:
    """Lines longer than `limit` in code cells a reader sees (not folded by a tag)."""
    found = []
    for index, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] != "code" or tags & FOLDED:
            continue
        for line in "".join(cell["source"]).splitlines():
            if len(line) > limit:
                found.append(f"{notebook.stem} cell {index}: {len(line)} chars: {line[:60]}...")
    return found


def run_chapter(name: str, timeout: int = 600, seed: int | None = None) -> int:
    """Execute book/<name>.ipynb with strict claims (and ``SEED = seed`` if given); print its
    claim lines; 0 if it ran clean."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from course_utils.teaching import claims

    os.environ[claims.STRICT_ENV] = "1"
    os.environ.setdefault("COURSE_UTILS_CACHE", str(ROOT / ".zoo-cache"))
    os.environ.pop("MPLBACKEND", None)
    path = BOOK / f"{name.removesuffix('.ipynb')}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    if seed is not None:   # as the book build's replications do (course_utils.book.replication)
        from course_utils.book import replication

        notebook = replication.with_seed(notebook, seed)
    start = time.perf_counter()
    status = 0
    try:
        NotebookClient(notebook, timeout=timeout, resources={"metadata": {"path": str(BOOK)}}).execute()
    except CellExecutionError as error:
        print(str(error)[-3000:])
        status = 1
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/plain", "")
            if "claim " in text and text[:1] in "✓✗◇":
                print(text)
    print(f"{path.name}: {'ran clean' if status == 0 else 'FAILED'} in {time.perf_counter() - start:.0f} s")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prose", help="typed numbers in markdown, long visible code lines")
    run = sub.add_parser("run", help="execute one chapter with strict claims")
    run.add_argument("chapter", help="e.g. 03_nonlinearity")
    run.add_argument("--seed", type=int, help="the chapter's SEED (default: its own, 0)")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_chapter(args.chapter, seed=args.seed)
    problems = [p for nb in chapters() for p in typed_numbers(nb) + long_code_lines(nb)]
    print("\n".join(problems) or "no typed numbers, no long code lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
