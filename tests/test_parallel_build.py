"""course_utils.book.parallel: the book's chapters execute in several processes at once."""
import types
from pathlib import Path

import nbformat
import pytest
import yaml
from sphinx.extension import Extension

from course_utils.book import parallel
from sitetools import htmlbook
from test_book import _build

ROOT = Path(__file__).resolve().parent.parent


def _app(processes, parallel_now: int = 1):
    undeclared = {name: Extension(name, types.ModuleType(name)) for name in parallel.UNDECLARED_BUT_SAFE}
    declared_unsafe = Extension("unsafe_ext", types.ModuleType("unsafe_ext"), parallel_read_safe=False)
    return types.SimpleNamespace(extensions={**undeclared, "unsafe_ext": declared_unsafe},
                                 config=types.SimpleNamespace(book_processes=processes),
                                 parallel=parallel_now)


def test_the_undeclared_extensions_are_marked_safe_and_the_process_count_raised():
    app = _app(4)
    assert all(app.extensions[name].parallel_read_safe is None for name in parallel.UNDECLARED_BUT_SAFE)
    parallel.allow_parallel(app)
    assert app.parallel == 4
    for name in parallel.UNDECLARED_BUT_SAFE:
        assert app.extensions[name].parallel_read_safe and app.extensions[name].parallel_write_safe
    assert app.extensions["unsafe_ext"].parallel_read_safe is False  # a declared "no" is kept


def test_a_larger_count_given_to_sphinx_wins():
    app = _app(2, parallel_now=6)
    parallel.allow_parallel(app)
    assert app.parallel == 6


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4"])
def test_a_bad_process_count_says_what_it_got(bad):
    with pytest.raises(ValueError, match=f"book_processes must be a whole number >= 1, got {bad!r}"):
        parallel.allow_parallel(_app(bad))


def _notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"),
                nbformat.v4.new_code_cell("import os\nprint('reader', os.getppid())")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _reader_of(book: Path, page: str) -> str:
    executed = nbformat.read(book / "_build" / "jupyter_execute" / "book" / f"{page}.ipynb", as_version=4)
    return executed.cells[1].outputs[0]["text"].strip()


@pytest.mark.slow
def test_two_chapters_of_a_book_execute_in_two_processes(tmp_path):
    """Six pages (Sphinx reads in parallel only above five), read in two runs of three: the
    notebooks first and last, so each run executes one. A kernel's parent is its reader."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["sphinx"]["config"].update(claim_seeds=[], book_processes=2)
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    pages = ["a_first", "intro", "m1", "m2", "m3", "z_last"]
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n" + "".join(
        f"  - file: book/{page}\n" for page in pages if page != "intro"))
    (tmp_path / "book").mkdir()
    for page in pages:
        if page in ("a_first", "z_last"):
            _notebook(tmp_path / "book" / f"{page}.ipynb")
        else:
            (tmp_path / "book" / f"{page}.md").write_text(f"# Page {page}\n")
    htmlbook.copy_config_files(tmp_path)
    built = _build(tmp_path, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    first, last = _reader_of(tmp_path, "a_first"), _reader_of(tmp_path, "z_last")
    assert first.startswith("reader ") and last.startswith("reader ") and first != last
