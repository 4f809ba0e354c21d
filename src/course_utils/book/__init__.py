"""The book build's own tools: what `make book` loads besides the chapters.

- ``ledger``: the Sphinx extension that collects every chapter's claims into the ledger page
  and ``claims.json``, and fails the build on a claim that does not hold;
- ``replication``: a chapter executed again with another seed, its claims compared;
- ``accessibility``: the Sphinx extension that mends the markup axe-core objects to;
- ``parallel``: the Sphinx extension that executes the chapters in several processes at once.

They need the book's build dependencies (Sphinx, nbformat, nbclient), declared by the extra
``course-utils[book]``; a learner's install does not need them.
"""

try:  # a clear message instead of a traceback deep inside a module
    import docutils, nbclient, nbformat, sphinx  # noqa: F401
except ImportError as missing:
    raise ImportError(f"course_utils.book needs {missing.name}, which a learner's install "
                      f"leaves out: pip install 'course-utils[book]'") from missing
