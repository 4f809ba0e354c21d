"""A learner's cold start: each chapter executed alone with an empty model cache.

What a fresh Colab runtime meets. Two runs per chapter, on 2 cores:
- with the book's published weights, served on 127.0.0.1 from the last `make book`
  (`_build/html/zoo/`, COURSE_UTILS_WEIGHTS_URL): goal <= 30 s;
- without them (COURSE_UTILS_WEIGHTS_URL=off): the chapter trains its models first; the
  reference, no goal.
Needs `make book` first (the folder `_build/html/zoo/`).
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_book  # noqa: E402  (chapters(), _timed(): the same runs as the chapter rows)

SITE = bench_book.ROOT / "_build" / "html"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _served(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/zoo/"
    finally:
        server.shutdown()


def _cold_run(notebook: Path, weights_url: str) -> tuple[float, str | None]:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        os.environ.update(COURSE_UTILS_CACHE=cache, COURSE_UTILS_WEIGHTS_URL=weights_url)
        return bench_book._timed(
            [str(bench_book.BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
             "--ExecutePreprocessor.timeout=900", "--output", str(Path(out) / notebook.name),
             notebook.name], cwd=notebook.parent, timeout=1200)


def _row(name: str, result: tuple[float, str | None], goal: str | None) -> dict:
    seconds, error = result
    row = {"name": name, "value": None if error else seconds, "goal": goal, "unit": "s"}
    if error:
        row.update(note=error, error=True)
    return row


def run() -> list[dict]:
    if not (SITE / "zoo" / "manifest.json").is_file():
        return [{"name": "cold start with published weights", "value": None, "goal": "<= 30",
                 "unit": "s", "note": "run `make book` first: no _build/html/zoo/"}]
    saved = {k: os.environ.get(k) for k in ("COURSE_UTILS_CACHE", "COURSE_UTILS_WEIGHTS_URL")}
    rows = []
    try:
        with _served(SITE) as url:
            for notebook in bench_book.chapters():
                print(f"  cold start of {notebook.name}", file=sys.stderr, flush=True)
                rows.append(_row(f"chapter {notebook.stem} cold, published weights",
                                 _cold_run(notebook, url), "<= 30"))
                rows.append(_row(f"chapter {notebook.stem} cold, training its models",
                                 _cold_run(notebook, "off"), None))
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return rows


if __name__ == "__main__":
    for result in run():
        print(result)
