"""The book's running time: each chapter executed alone, and the whole build.

- Each chapter of `_toc.yml` runs alone, as a learner would run it (CONTRIBUTING.md's command:
  `jupyter nbconvert --to notebook --execute`, from `book/`), kernel start included.
  Goal: <= 60 s each.
- The whole book (`jupyter-book build --all`, every chapter executed, as `make book`) into a
  scratch folder. Goal: <= 6 min.

Both use the shared model cache ($COURSE_UTILS_CACHE), so models trained once are loaded, as in
the build. The goals are for 2 cores: on a larger machine the runs are pinned to 2 of its cores.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from sitetools import htmlbook  # noqa: E402  (the one reader of _toc.yml)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CORES = 2
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in the tools' output


def chapters() -> list[Path]:
    """The notebooks listed in _toc.yml, in reading order."""
    pages = htmlbook.toc_pages(ROOT)
    return [ROOT / notebook for notebook in map(htmlbook.chapter_notebook, pages) if notebook]


def _pin_to_cores() -> None:
    """Run the child (and its kernels) on at most CORES cores, like the goal's machine."""
    if hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cores[:CORES])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("COURSE_UTILS_CACHE", str(ROOT / ".zoo-cache"))
    env.pop("MPLBACKEND", None)  # as in the book: the kernel's inline backend draws the figures
    return env


def _timed(command: list[str], cwd: Path, timeout: int) -> tuple[float, str | None]:
    """Seconds the command took, and an error message if it failed."""
    start = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True,
                                timeout=timeout, preexec_fn=_pin_to_cores)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, f"timed out after {timeout} s"
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        return seconds, "failed: " + _cause(result.stdout + "\n" + result.stderr)
    return seconds, None


def _cause(log: str) -> str:
    """Why a run failed: Sphinx's first warning (fatal under -W), else the last error line."""
    lines = [_ANSI.sub("", line).strip() for line in log.splitlines()]
    lines = [line for line in lines if line and "Kernel is running over TCP" not in line]
    warnings = [line for line in lines if "WARNING:" in line or "ERROR:" in line]
    if warnings:
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        return warnings[0][:160] + more
    errors = [line for line in lines if re.search(r"Error|Exception|Traceback", line)]
    return (errors or lines or ["no output"])[-1][:160]


def chapter_rows() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for notebook in chapters():
            print(f"  executing {notebook.name}", file=sys.stderr, flush=True)
            seconds, error = _timed([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                                     "--ExecutePreprocessor.timeout=600", "--output", str(Path(tmp) / notebook.name),
                                     notebook.name], cwd=notebook.parent, timeout=900)
            rows.append({"name": f"chapter {notebook.stem} executed alone", "value": None if error else seconds,
                         "goal": "<= 60", "unit": "s", **({"note": error, "error": True} if error else {})})
    return rows


def build_row() -> dict:
    print("  building the whole book", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        seconds, error = _timed([str(BIN / "jupyter-book"), "build", "--all", "-W", "--keep-going",
                                 "--path-output", tmp, str(ROOT)], cwd=ROOT, timeout=1800)
    row = {"name": "whole book build (jupyter-book build --all)", "value": None if error else seconds,
           "goal": "<= 360", "unit": "s", "note": f"{len(chapters())} chapters"}
    if error:
        row.update(note=error, error=True)
    return row


def run() -> list[dict]:
    return [*chapter_rows(), build_row()]


if __name__ == "__main__":
    for result in run():
        print(result)
