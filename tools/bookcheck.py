"""Checks of the book's chapters that need no book build, for contributors and the tests.

    .venv/bin/python tools/bookcheck.py prose                  # typed numbers, long code lines
    .venv/bin/python tools/bookcheck.py run 03_nonlinearity    # execute one chapter, strict claims

`run` executes a chapter as the book build does (claims that do not hold raise) and prints its
claim lines, its running time and what a reader would miss: figures without a text alternative
(cell metadata ``{"mystnb": {"image": {"alt": "..."}}}``) and printed lines longer than 88
characters. `prose` lists numbers typed into markdown cells (a measured number must come from
an executed cell), visible code lines longer than 88 characters, and visible cells that hold a
figure's layout (more than LAYOUT_LIMIT drawing lines: fold them with ``hide-input``).
"""
from __future__ import annotations

import argparse
import ast
import importlib
import inspect
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
# A line that only lays out a figure: matplotlib calls on figures and axes, and loops over axes.
_LAYOUT = re.compile(
    r"^\s*(?:for [\w, ]+ in .*\bax(?:es)?\b.*:|(?:fig|ax|axes|plt|cbar)\w*\b.*"
    r"|.*\.(?:set|set_\w+|imshow|matshow|plot|bar|barh|scatter|hist|step|errorbar|"
    r"fill_between|contour|pcolormesh|legend|text|annotate|axis|axhline|axvline|grid|"
    r"colorbar|tight_layout|suptitle|subplots|add_subplot|tick_params)\()")
FIGURE_TYPES = ("image/png", "image/svg+xml")  # what a cell's figure is displayed as
# The width of a chapter's figures at a 1280 px window, in points (book/_static/course.css);
# a wider figure is scaled down, and its text with it. Text must stay >= SMALLEST_TEXT_PT.
FIGURE_COLUMN_PT = 552
SMALLEST_TEXT_PT = 8
LAYOUT_LIMIT = 3  # drawing lines a visible cell may hold; a figure's layout goes in a folded cell
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
    """Lines longer than `limit` in code cells a reader can see (folded ones unfold)."""
    found = []
    for index, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] != "code" or tags & {"remove-input", "remove-cell"}:
            continue
        for line in "".join(cell["source"]).splitlines():
            if len(line) > limit:
                found.append(f"{notebook.stem} cell {index}: {len(line)} chars: {line[:60]}...")
    return found


def visible_code_cells(notebook: Path) -> list[tuple[int, str]]:
    """(index, source) of the code cells a reader sees unfolded."""
    cells = json.loads(notebook.read_text())["cells"]
    return [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"
            and not set(c.get("metadata", {}).get("tags", [])) & FOLDED]


def unfolded_layout(notebook: Path, limit: int = LAYOUT_LIMIT) -> list[str]:
    """Visible code cells with more than `limit` lines that only lay out a figure."""
    found = []
    for index, source in visible_code_cells(notebook):
        layout = [line for line in source.splitlines() if _LAYOUT.match(line)]
        if len(layout) > limit:
            found.append(f"{notebook.stem} cell {index}: {len(layout)} layout lines, e.g. "
                         f"{layout[0].strip()[:50]!r}: fold them into a hide-input cell")
    return found


STRAY_REPR = re.compile(r"^\[?(?:<matplotlib\.|Text\()")


def reader_problems(notebook, name: str, limit: int = MAX_LINE) -> list[str]:
    """In an executed notebook: figures without a text alternative, printed lines too long,
    figure text too small, a matplotlib object's repr left under a figure."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if "remove-cell" in cell.metadata.get("tags", []):  # the reader never sees it
            continue
        outputs = cell.get("outputs", [])
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "").strip()
        if any(kind in o.get("data", {}) for o in outputs for kind in FIGURE_TYPES) and not alt:
            found.append(f"{name} cell {index}: a figure with no text alternative")
        for svg in (o.get("data", {}).get("image/svg+xml", "") for o in outputs):
            shown = shown_text_pt(svg)
            if shown is not None and shown < SMALLEST_TEXT_PT - 0.05:
                found.append(f"{name} cell {index}: figure text shown at {shown:.1f} pt "
                             f"(figure {svg_width_pt(svg):.0f} pt wide, column {FIGURE_COLUMN_PT})")
        texts = [o.get("text", "") for o in outputs]
        texts += [o.get("data", {}).get("text/plain", "") for o in outputs
                  if not set(o.get("data", {})) & {*FIGURE_TYPES, "text/html"}]
        long = [line for text in texts for line in text.splitlines() if len(line) > limit]
        if long:
            found.append(f"{name} cell {index}: printed line of {len(long[0])} chars: {long[0][:50]}...")
        # A cell ending in a call that returns a matplotlib object shows its repr under the figure.
        shown = [o.get("data", {}).get("text/plain", "") for o in outputs
                 if o.get("output_type") == "execute_result" and len(o.get("data", {})) == 1]
        if any(STRAY_REPR.match(text) for text in shown):
            found.append(f"{name} cell {index}: shows a matplotlib object's repr (end the line with ;)")
    return found


def course_names(notebook: Path) -> dict[str, str]:
    """What the code of `notebook` takes from course_utils: {name in the code: dotted path}.

    Each ``from course_utils... import x as y`` gives ``y``; each attribute read from an imported
    module gives ``y.attr`` (``conv.conv2d`` -> ``course_utils.cnn.conv.conv2d``).
    """
    names: dict[str, str] = {}
    trees = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            trees.append(ast.parse(_without_magics(source)))
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    modules = {alias: path for alias, path in names.items() if is_module(path)}
    for tree in trees:
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules):
                names[f"{node.value.id}.{node.attr}"] = f"{modules[node.value.id]}.{node.attr}"
    return names


def _without_magics(source: str) -> str:
    """`source` with IPython's magic and shell lines replaced by ``pass`` (they are not Python)."""
    lines = source.splitlines()
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                     if line.lstrip().startswith(("%", "!")) else line for line in lines)


def resolve(path: str):
    """The object a dotted path names, or None. An attribute wins over a submodule of the same
    name: ``course_utils.interp.featviz.render`` is the function featviz exports."""
    parent, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(parent)
        return getattr(module, name) if hasattr(module, name) else importlib.import_module(path)
    except ImportError:
        return None


def is_module(path: str) -> bool:
    return inspect.ismodule(resolve(path))


def svg_width_pt(svg: str) -> float:
    """The width matplotlib gave an SVG figure, in points."""
    return float(re.search(r'<svg[^>]* width="([\d.]+)pt"', svg).group(1))


def shown_text_pt(svg: str) -> float | None:
    """The smallest text of a matplotlib SVG figure, in points at the size the page shows it."""
    sizes = [float(size) for size in re.findall(r"font-size: ?([\d.]+)px", svg)]
    if not sizes:
        return None
    return min(sizes) * min(1.0, FIGURE_COLUMN_PT / svg_width_pt(svg))


def slowest_cells(notebook, count: int) -> list[str]:
    """The ``count`` code cells of an executed notebook that took longest (nbclient's timing)."""
    from datetime import datetime

    def seconds(cell) -> float:
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
            return 0.0
        start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
        return (end - start).total_seconds()

    timed = sorted(((seconds(c), i, c.source) for i, c in enumerate(notebook.cells)
                    if c.cell_type == "code"), reverse=True)[:count]
    return [f"{t:6.1f} s  cell {i}: {source.splitlines()[0][:60] if source else ''}"
            for t, i, source in timed]


def run_chapter(name: str, timeout: int = 600, seed: int | None = None, slowest: int = 0) -> int:
    """Execute book/<name>.ipynb with strict claims (and ``SEED = seed`` if given); print its
    claim lines (and its ``slowest`` cells); 0 if it ran clean."""
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
    if slowest:
        print("\n".join(slowest_cells(notebook, slowest)))
    problems = reader_problems(notebook, path.stem)
    print("\n".join(problems) or "every figure has a text alternative; no printed line is too long")
    return status or int(bool(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prose", help="typed numbers in markdown, long visible code lines, unfolded layout")
    run = sub.add_parser("run", help="execute one chapter with strict claims")
    run.add_argument("chapter", help="e.g. 03_nonlinearity")
    run.add_argument("--seed", type=int, help="the chapter's SEED (default: its own, 0)")
    run.add_argument("--slowest", type=int, default=0, metavar="N", help="also list the N slowest cells")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_chapter(args.chapter, seed=args.seed, slowest=args.slowest)
    problems = [p for nb in chapters()
                for p in typed_numbers(nb) + long_code_lines(nb) + unfolded_layout(nb)]
    print("\n".join(problems) or "no typed numbers, no long code lines, no unfolded layout")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
