"""A learner's "Open in Colab": the book's chapters ran from a Colab-like start (colab_like.py).

The tests' book build (the `book_html` fixture) executes every chapter in a clean environment
holding only what Colab preinstalls, with no ``src/`` beside the notebooks and ``google.colab``
faked: the first chapter's set-up cell installs the package from the repository's git URL (sent
to a clone of this working tree), the later ones find it. This file checks that install, after
the build, and that the set-up cell installs nothing when run again.
"""
import os

import pytest

from course_utils.teaching import colab
from sitetools import colab_like

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    bool(os.environ.get("COURSE_BOOK_HTML")), reason="a reused build did not run in this session's "
    "Colab-like environment")]


def test_the_chapters_set_up_cell_installed_the_package_from_the_git_url(book_html, colab_start):
    assert colab.install_url() == f"course-utils @ git+{colab.REPOSITORY_URL}@{colab_start.ref}"
    assert colab_like.installed_problems(colab_start) == []


def test_the_kernel_believes_it_is_on_colab_and_imports_the_installed_package(
        book_html, colab_start, tmp_path):
    printed = colab_like.run_cell(colab_start, "import sys, course_utils, torch\n"
                                  "print(sys.prefix, 'google.colab' in sys.modules, "
                                  "course_utils.__file__, torch.__version__)", tmp_path / "probe")
    prefix, on_colab, where, torch_version = printed.split()
    assert (prefix, on_colab) == (str(colab_start.venv), "True")
    assert where.startswith(str(colab_start.venv))  # not this repository's src/
    assert torch_version.split("+")[0] == colab_start.before["torch"]


def test_the_set_up_cell_run_again_installs_nothing(book_html, colab_start, tmp_path):
    assert not colab_like.setup_cell_reinstalls(colab_start, tmp_path / "again")
