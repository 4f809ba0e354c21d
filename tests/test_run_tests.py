"""tools/run_tests.py: the two lanes' closing lines add up, and a failure is never lost."""
import re
from pathlib import Path

import pytest

import run_tests  # tools/run_tests.py (pyproject's pythonpath)


def test_counts_read_pytests_closing_line():
    log = "....F\nFAILED tests/x.py::t\n3 failed, 560 passed, 2 skipped, 1 error in 600.1s (0:10:00)\n"
    assert run_tests.counts(log) == {"passed": 560, "failed": 3, "errors": 1, "skipped": 2}


def test_a_lane_without_a_closing_line_counts_nothing():
    assert run_tests.counts("Traceback (most recent call last):\n") == {
        "passed": 0, "failed": 0, "errors": 0, "skipped": 0}


@pytest.mark.slow
def test_lanes_that_ran_no_test_fail_the_run(tmp_path, capsys, monkeypatch):
    """Two lanes over folders with no test: pytest exits 5 in each, and the run fails."""
    (tmp_path / "book").mkdir(), (tmp_path / "rest").mkdir()
    # without pytest-xdist's workers, each of which would import torch to collect nothing
    monkeypatch.setattr(run_tests, "BOOK_LANE_WORKERS", [])
    monkeypatch.setattr(run_tests, "REST_LANE_WORKERS", [])
    status = run_tests.main(["-p", "no:cacheprovider"], book_lane=[str(tmp_path / "book")],
                            rest_lane=[str(tmp_path / "rest")])
    assert status == 1
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == "total: 0 passed, 1 failed"


def test_every_test_of_the_whole_books_build_is_in_the_book_lane():
    """A file that uses the whole book's build in the rest lane would build the book again."""
    browser = Path(run_tests.ROOT) / "tests" / "browser"
    users = {f"tests/browser/{path.name}" for path in browser.glob("test_*.py")
             if re.search(r"\bbook_(html|url)\b", path.read_text())}
    assert users == set(run_tests.BOOK_LANE)
