"""Grade submitted notebooks with the exercises' own checks.

Usage::

    python -m course_utils.instructor.grade SUBMISSION.ipynb [...] [--csv marks.csv] [--timeout 600]

Each submission is executed top to bottom in its own folder (nbclient, errors allowed, so one
broken exercise does not hide the others), and each exercise's check cell is read:

- ``passed``: the check ran without raising;
- ``not attempted``: it raised ``NotImplementedYet`` (or the placeholder's ``NotImplementedError``);
- ``failed``: anything else, with the first line of the message (expected vs got).

Executing a submission runs the student's code: do it in a container or account you can spare.
"""
from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .assign import exercises

NOT_ATTEMPTED = {"NotImplementedYet", "NotImplementedError"}


@dataclass
class Mark:
    """The outcome of one exercise of one submission."""

    notebook: str
    exercise: str
    status: str       # "passed", "not attempted", "failed" or "no check cell"
    message: str = ""


def marks_of(nb: nbformat.NotebookNode, name: str) -> list[Mark]:
    """Read the check cells of an *executed* notebook."""
    marks = []
    for exercise in exercises(nb, name):
        if exercise.check is None:
            if exercise.solution_cells:  # a code exercise whose check cell was deleted
                marks.append(Mark(name, exercise.label, "no check cell"))
            continue
        errors = [o for o in nb.cells[exercise.check].get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            marks.append(Mark(name, exercise.label, "passed"))
        elif errors[0]["ename"] in NOT_ATTEMPTED:
            marks.append(Mark(name, exercise.label, "not attempted", errors[0]["evalue"]))
        else:
            first_line = f"{errors[0]['ename']}: {errors[0]['evalue']}".split("\n")[0]
            marks.append(Mark(name, exercise.label, "failed", first_line))
    return marks


def grade(path: Path, timeout: int = 600) -> list[Mark]:
    """Execute the submission at ``path`` (its folder as working directory) and read its checks."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, allow_errors=True, resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    return marks_of(nb, Path(path).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.instructor.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, nargs="+", help="executed or not, student notebooks")
    parser.add_argument("--csv", type=Path, help="also write the marks to this CSV file")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    marks = [mark for path in args.submissions for mark in grade(path, args.timeout)]
    for mark in marks:
        print(f"{mark.notebook}\t{mark.exercise}\t{mark.status}" + (f"\t{mark.message}" if mark.message else ""))
    for notebook in dict.fromkeys(m.notebook for m in marks):
        own = [m for m in marks if m.notebook == notebook]
        print(f"{notebook}: {sum(m.status == 'passed' for m in own)} of {len(own)} exercises passed")
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["notebook", "exercise", "status", "message"])
            writer.writerows([m.notebook, m.exercise, m.status, m.message] for m in marks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
