"""`make book` must not hand MPLBACKEND to the notebooks' kernels.

ipykernel only installs its inline backend when MPLBACKEND is unset; with MPLBACKEND=Agg every
`plt.show()` and every figure left at the end of a cell draws nothing, and the published book
silently loses all its figures (the build still succeeds). The browser tests build the book
themselves without it (htmlbook.build_book), so this test checks the real `make book` recipe:
it runs the recipe with a stand-in `jupyter-book` that reports the variable it was given.
"""
import os
import shutil
import subprocess

import pytest

from sitetools.htmlbook import ROOT

INLINE_OK = ("unset", "", "module://matplotlib_inline.backend_inline", "inline")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_book_leaves_the_kernels_their_inline_backend(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    stand_in = fake_bin / "jupyter-book"
    stand_in.write_text('#!/bin/sh\necho "MPLBACKEND=${MPLBACKEND-unset}"\n')
    stand_in.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # as in a reader's shell
    # -o: take the installed environment and scripts as they are (never reinstall from a test).
    result = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "js-deps",
                             f"BIN={fake_bin}", "book"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("MPLBACKEND=")]
    assert lines, result.stdout
    value = lines[-1].split("=", 1)[1]
    assert value in INLINE_OK, f"make book runs the notebooks with MPLBACKEND={value}: every figure vanishes from the book"


def test_the_browser_tools_are_kept_out_of_the_book():
    """`make browser-deps` puts npm packages in .browser/; Sphinx would read their Markdown
    files (hidden folders are not excluded by default) and -W would fail the build."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert ".browser" in config["exclude_patterns"]
