"""Train the book's zoo models in a second process while the tests' book build runs.

The build executes the chapters a few at a time (course_utils.book.parallel), and on a fresh
machine much of that time is the first training of the zoo models the chapters ask for
(``zoo.pretrained`` trains on first use). Here another process trains them beside it, roughly
in the order the chapters first ask for them, into the same cache: when a chapter gets there its
model is on disk, or being trained (then the zoo's lock file makes the chapter wait and load it),
or not yet started (then the chapter trains it, and the warm-up loads it when its turn comes).

Nothing depends on this list for correctness, only for speed: a model missing from it is
trained by the chapter, one listed but unused is trained for nothing. After a build on an empty
cache, every model a chapter trained itself is on the list
(tests/browser/test_published_weights.py checks it). The first model is left to chapter 1, so
that training on first use, and what it prints, runs in the build too.
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import nbformat

# (name, seed) in the order of first use, chapter 1's mnist_small first.
BOOK_MODELS: list[tuple[str, int]] = [
    ("mnist_small", 0),                                                    # chapter 1
    ("edges_identity", 0), ("edges_relu", 0), ("mnist_deep8_sigmoid", 0),  # chapter 3
    ("mnist_deep8_tanh", 0), ("mnist_deep8_relu", 0), ("mnist_deep8_relu_bn", 0),
    ("photo_deep", 0), ("photo_deep", 1), ("photo_deep", 2),               # chapter 4
    ("arcs_deep", 0),                                                      # chapter 5b
    ("mnist_small", 1), ("mnist_small", 2), ("mnist_lenet", 0),            # chapter 5c
    ("mnist_small_shuffled", 0),                                           # chapter 7
]

_TRAIN = ("import sys\nfrom course_utils.cnn import zoo\n"
          "for name, seed in zip(sys.argv[1::2], map(int, sys.argv[2::2])):\n"
          "    zoo.pretrained(name, seed, progress=False)\n")


@contextlib.contextmanager
def training_beside(cache: str, models: list[tuple[str, int]] = BOOK_MODELS[1:]) -> Iterator[None]:
    """Train ``models`` into the zoo cache folder ``cache`` (the build's) in a background
    process while the block runs; after it, wait for the process and raise if it failed."""
    arguments = [str(part) for model in models for part in model]
    process = subprocess.Popen([sys.executable, "-c", _TRAIN, *arguments],
                               env={**os.environ, "COURSE_UTILS_CACHE": cache},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield
    finally:
        output, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"training the zoo models beside the build failed:\n{output[-3000:]}")


# What zoo.pretrained prints when it trains a model (course_utils/cnn/zoo.py, _train; a test
# keeps the two equal).
_TRAINED = re.compile(r"zoo: training '(\w+)' \(seed (\d+)\) on first use")


def trained_by_chapters(executed: Path) -> list[tuple[str, int]]:
    """The models the chapters trained themselves, in reading order: (name, seed) for each
    first-use message in the executed notebooks of ``executed`` (the build's jupyter_execute)."""
    found = []
    for notebook in sorted(executed.rglob("*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            for output in cell.get("outputs", []):
                text = output.get("text", "")
                found += [(name, int(seed)) for name, seed in _TRAINED.findall(text)]
    return list(dict.fromkeys(found))  # a message can repeat in a cell's merged output
