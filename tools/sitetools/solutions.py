"""Whether a built site gives an exercise's solution away: the student edition's leak finder.

`secret_lines` reads the solutions of the source notebooks (the code between the markers, the
demonstration cells and ``{solution}`` blocks, hints excepted); `leaks` looks for them in every
text file a reader or a downloader of a built site gets (pages, notebooks, sources).
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from course_utils.instructor import assign


def _normalise(text: str) -> str:
    """Markup-insensitive text: markdown bold and code marks and runs of spaces do not matter."""
    return re.sub(r"\s+", " ", text.replace("`", "").replace("**", "")).strip()


def _solution_parts(nb) -> tuple[list[str], list[str]]:
    """(lines of every solution, lines of everything else) of a source notebook."""
    secret, public = [], []
    in_solution = set()
    for exercise in assign.exercises(nb):
        in_solution |= set(exercise.other_solution_cells)
    for index, cell in enumerate(nb.cells):
        lines = cell.source.split("\n")
        if index in in_solution:
            secret += lines
            continue
        solution = assign.solution_lines(cell.source) if cell.cell_type == "code" else []
        blocks = []
        if cell.cell_type == "markdown" and "{solution}" in cell.source:
            kept = assign._remove_solution_blocks(cell.source, "cell").split("\n")
            blocks = [line for line in lines if line not in kept]
        secret += solution + blocks
        public += [line for line in lines if line not in solution and line not in blocks]
    return secret, public


def secret_lines(notebooks) -> set[str]:
    """Solution lines that must not appear in a student edition.

    Hints are meant to be shown, and a line that also appears outside the solutions, alone or
    inside a longer line (``return out``, a closing fence, a row of zeros) gives nothing away,
    so neither counts.
    """
    secret, public = set(), []
    for nb in notebooks:
        s, p = _solution_parts(nb)
        secret |= {_normalise(line) for line in s if not line.strip().startswith(assign.HINT)}
        public += [_normalise(line) for line in p]
    public_text = "\n".join(public)
    return {line for line in secret if len(line) >= 6 and line not in public_text}


def readable_text(path: Path) -> str:
    """What a reader or a downloader of ``path`` gets to see, as plain text."""
    raw = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        nb = json.loads(raw)
        parts = []
        for cell in nb["cells"]:
            parts.append("".join(cell["source"]))
            for output in cell.get("outputs", []):
                parts.append(json.dumps(output))
        raw = "\n".join(parts)
    elif path.suffix in (".html", ".htm"):
        raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
    return _normalise(raw)


# Third-party scripts the book serves itself (tools/offline_static.py): not ours to leak from,
# and generic solution lines such as "return out" occur in them.
VENDORED = "_static/offline"


def leaks(folder: Path, secrets: set[str]) -> list[str]:
    """``file: line`` for every secret line found in any text file under ``folder``."""
    found = []
    for path in folder.rglob("*"):
        if VENDORED in path.relative_to(folder).as_posix():
            continue
        if path.is_file() and path.suffix in (".html", ".ipynb", ".js", ".txt", ".md", ".py", ".json"):
            text = readable_text(path)
            found += [f"{path.relative_to(folder)}: {line}" for line in secrets if line in text]
    return found
