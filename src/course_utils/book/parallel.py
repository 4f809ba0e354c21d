"""A Sphinx extension that executes the chapters in several processes at once.

Sphinx executes a notebook when it reads it, one after another unless it reads in parallel.
It never does for this book, for two reasons. jupyter-book 1's command line passes no ``-j`` to
Sphinx. And two extensions jupyter-book loads, ``sphinx_multitoc_numbering`` and
``sphinx_jupyterbook_latex``, do not say whether they are safe in parallel, so Sphinx assumes
they are not. Both are safe: the first numbers the table of contents once every page is read,
in the main process; the second acts only on LaTeX builds.

This extension says so for them and asks Sphinx for ``book_processes`` processes (a setting in
``_config.yml``). Sphinx reads in parallel only books of more than five pages, so a small book
is read as before. Each process sends back what it collected (the ledger's claims included:
``course_utils.book.ledger`` merges them).
"""
from __future__ import annotations

UNDECLARED_BUT_SAFE = ("sphinx_multitoc_numbering", "sphinx_jupyterbook_latex")


def allow_parallel(app) -> None:
    """Mark the extensions above parallel-safe and raise the process count to the setting."""
    for name in UNDECLARED_BUT_SAFE:
        extension = app.extensions.get(name)
        if extension is not None:
            extension.parallel_read_safe = extension.parallel_write_safe = True
    processes = app.config.book_processes
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"book_processes must be a whole number >= 1, got {processes!r}")
    # Sphinx reads the process count from the application when it starts reading, after this
    # event; a -j given on Sphinx's own command line still wins when it is larger.
    app.parallel = max(app.parallel, processes)


def setup(app):
    app.add_config_value("book_processes", 1, "env")
    app.connect("builder-inited", allow_parallel)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
