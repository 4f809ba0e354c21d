"""The book's spine: table of contents, committed notebooks, Colab cell, and the build itself."""
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils import colab

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for part in toc["parts"] for c in part["chapters"]]


def test_toc_lists_every_chapter_and_only_existing_files():
    files = _toc_files()
    assert sorted(files) == sorted(f"book/{p.stem}" for p in NOTEBOOKS)
    assert len(files) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_committed_clean_with_setup_cell_and_goals(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.source == colab.setup_cell_source(), "run tools/sync_setup_cells.py"
    assert "remove-cell" in first.metadata["tags"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"
    assert "learning goals" in nb.cells[1].source.lower()


def test_config_and_colab_module_agree():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == colab.REPOSITORY_URL
    assert config["repository"]["path_to_book"] == ""  # "book" would double the path
    assert config["execute"]["execute_notebooks"] == "force" and config["execute"]["raise_on_error"] is True
    assert ".venv" in config["exclude_patterns"]


@pytest.mark.parametrize("in_colab,installed,expected_calls", [(True, False, 1), (True, True, 0), (False, False, 0)])
def test_setup_cell_installs_only_in_colab_and_only_once(monkeypatch, in_colab, installed, expected_calls):
    from IPython.core.interactiveshell import InteractiveShell
    import importlib.util

    shell = InteractiveShell.instance()
    calls = []
    shell.register_magic_function(lambda line: calls.append(line), "line", "pip")
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (real_find_spec(name, *a) if installed else None) if name == "course_utils" else real_find_spec(name, *a))
    result = shell.run_cell(colab.setup_cell_source())
    assert result.success
    assert len(calls) == expected_calls
    if calls:
        assert colab.install_url() in calls[0] and "torch" not in calls[0]


def _mini_book(tmp_path: Path, code: str) -> Path:
    """A one-notebook book that uses this repository's _config.yml settings."""
    tmp_path.mkdir(parents=True)
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/nb\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "book" / "nb.ipynb")
    return tmp_path


def _build(folder: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(JUPYTER_BOOK), "build", "--all", "-W", "--keep-going", str(folder)],
                          capture_output=True, text=True, timeout=timeout)


def test_a_raising_cell_fails_the_build(tmp_path):
    failing = _build(_mini_book(tmp_path / "bad", "raise RuntimeError('boom from a cell')"))
    assert failing.returncode != 0
    assert "boom from a cell" in failing.stdout + failing.stderr
    passing = _build(_mini_book(tmp_path / "good", "print(6 * 7)"))
    assert passing.returncode == 0, passing.stdout[-3000:] + passing.stderr[-3000:]
    assert "42" in (tmp_path / "good" / "_build" / "html" / "book" / "nb.html").read_text()
