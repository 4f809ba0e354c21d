"""Shared test set-up: a headless plotting backend and one model-zoo cache for the whole run."""
import os
from pathlib import Path

import pytest

from course_utils.cnn.training import torch_threads

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")
# Same cache as `make book`, so the tests and the build never train a model twice.
os.environ.setdefault("COURSE_UTILS_CACHE", str(ROOT / ".zoo-cache"))
# No test downloads the published weights from the web (tests/test_published.py serves its own).
os.environ.setdefault("COURSE_UTILS_WEIGHTS_URL", "off")


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module of tiny-tensor tests (``pytestmark = usefixtures("one_thread")``).

    On a busy 2-core machine, two threads spend more time coordinating than computing on tensors
    this small; one thread is faster and its timings do not swing with the load.
    """
    with torch_threads(1):
        yield



# The longest files of `make test`'s rest lane (measured with --durations), started first: with
# two workers, a long file that starts last keeps one core busy alone at the end of the run.
LONGEST_FIRST = ("test_checks_can_fail.py", "test_book.py", "test_student_edition.py",
                 "test_models_training.py", "test_replication.py", "test_architecture.py")


def pytest_collection_modifyitems(items):
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept
