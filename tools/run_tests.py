"""The whole test suite in two lanes that run side by side on the two cores (`make test`).

- lane "book": the tests that need the whole book's build (tests/browser/: one offline build,
  every chapter executed once from a Colab-like start, shared by the browser, link, ledger,
  page, Colab-start and student-edition tests; the student edition reuses its outputs);
- lane "rest": everything else: unit tests, small books, the browser checks' own small book.

The chapters are executed once per run, in the book lane. Each lane runs several workers (the
book lane's share one build; the rest lane's take the longest files first), so the cores stay
busy until both lanes are done. The "rest" lane prints as it
goes; the "book" lane's output follows when it is done. The last line adds both up, and the
exit status is non-zero if either lane failed. Extra arguments go to both pytest runs.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The tests that need the whole book's build (the `book_html` fixture of tests/browser). The
# browser checks' own small book (test_checks_can_fail.py) runs in the rest lane: the book lane
# is the longer one.
BOOK_LANE = [f"tests/browser/{name}.py" for name in (
    "test_browser", "test_claims_ledger", "test_colab_start", "test_convolution_view", "test_links",
    "test_page_size", "test_published_weights", "test_student_pages", "test_whole_book")]
# The book lane's workers share one build (tests/browser/conftest.py): one builds while the others
# wait, then all open pages, test by test. A page test spends half its time waiting for the browser,
# so three workers keep two cores busy.
BOOK_LANE_WORKERS = ["-n", "3", "--dist", "load"]
# The rest lane spreads its files over both cores (pytest-xdist, one file per worker so a module's
# fixtures are made once): the book lane is one build most of the time, and leaves a core idle.
# Files go to the workers in collection order (tests/conftest.py puts the longest first), not
# xdist's default of the files with most tests first: a long file started last ends the lane late.
REST_LANE_WORKERS = ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]
# The book lane is one chain (the build, then the tests of what it built), the rest lane many
# independent files: the rest lane yields the cores to the book lane whenever both want them, so
# the chain is not slowed and the rest lane fills the time the chain leaves idle.
REST_LANE_NICENESS = 10
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)")


def pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", *args]


def counts(output: str) -> dict[str, int]:
    """The numbers of pytest's closing line ('3 failed, 560 passed, 2 skipped in 600s')."""
    closing = [line for line in output.splitlines() if re.search(r" in [\d.]+s", line)]
    found = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for number, kind in _COUNT.findall(closing[-1] if closing else ""):
        found["errors" if kind.startswith("error") else kind] += int(number)
    return found


# Five processes share two cores (the book's kernel and the lanes' workers): a torch op spread
# over two threads then waits for a core as often as it computes, and OpenMP's waiting threads
# spin. One thread each, in the tests and the kernels they start, wastes none of it.
LANE_ENV = {"OMP_NUM_THREADS": "1"}


def main(extra: list[str], book_lane: list[str] = BOOK_LANE, rest_lane: list[str] = ()) -> int:
    """Run both lanes: ``book_lane`` (paths), and the rest of ``rest_lane`` (default: testpaths)."""
    ignore = [f"--{'deselect' if '::' in path else 'ignore'}={path}" for path in book_lane]
    env = {**os.environ, **LANE_ENV}
    with tempfile.TemporaryFile("w+") as book_log:
        book = subprocess.Popen(pytest(*BOOK_LANE_WORKERS, *book_lane, *extra), cwd=ROOT, stdout=book_log,
                                stderr=subprocess.STDOUT, text=True, env=env)
        rest = subprocess.Popen(pytest(*REST_LANE_WORKERS, *rest_lane, *ignore, *extra), cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env,
                                preexec_fn=lambda: os.nice(REST_LANE_NICENESS))
        rest_output = []
        for line in rest.stdout:  # shown as it comes, kept for the total
            print(line, end="", flush=True)
            rest_output.append(line)
        rest.wait()
        book.wait()
        book_log.seek(0)
        book_output = book_log.read()
    print("\n--- lane book: " + " ".join(book_lane) + "\n" + book_output, end="")
    rest_counts, book_counts = counts("".join(rest_output)), counts(book_output)
    total = {k: rest_counts[k] + book_counts[k] for k in rest_counts}
    # pytest exits 5 when a lane collected no test: that is a failure here too.
    status = 0 if rest.returncode == book.returncode == 0 else 1
    if status and not total["failed"] + total["errors"]:
        total["errors"] += 1
    print(f"total: {total['passed']} passed, {total['failed'] + total['errors']} failed"
          + (f", {total['skipped']} skipped" if total["skipped"] else ""))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
