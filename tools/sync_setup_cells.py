"""Make the first cell of every chapter the Colab set-up cell and strip all outputs.

Run after editing a notebook:  .venv/bin/python tools/sync_setup_cells.py
The cell's text comes from course_utils.teaching.colab (the one place for the URL and version).
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from course_utils.teaching.colab import setup_cell_source

BOOK = Path(__file__).resolve().parent.parent / "book"


def sync(path: Path) -> bool:
    """Rewrite ``path`` if needed; return True when it changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    cell = nbformat.v4.new_code_cell(setup_cell_source(), metadata={"tags": ["remove-cell"]})
    cell.id = "colab-setup"  # a fixed id keeps diffs quiet
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "code" and "remove-cell" in first.metadata.get("tags", []) and "google.colab" in first.source:
        nb.cells[0] = cell
    else:
        nb.cells.insert(0, cell)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    after = nbformat.writes(nb)
    if after != before:
        path.write_text(after)
    return after != before


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted(BOOK.glob("*.ipynb"))
    for p in paths:
        if sync(p):
            print(f"updated {p}")
