"""The Colab set-up cell: one place for the repository URL and the version the book matches.

Every chapter starts with :func:`setup_cell_source` (tagged ``remove-cell``, so the HTML hides
it). In Colab it installs ``course_utils`` from the repository at ``BOOK_REF``; it keeps
Colab's own torch (the package declares lower bounds only) and does nothing when the package
is already installed, so running it twice is harmless. ``tools/sync_setup_cells.py`` rewrites
the cell in every notebook; a test checks they match.
"""
from __future__ import annotations

REPOSITORY_URL = "https://github.com/cnn-mech-interp/cnn-mech-interp-course"
# The tag or commit the published book was built from; bump it with each release of the book.
BOOK_REF = "main"
# Where the book built from BOOK_REF is published (GitHub Pages, .github/workflows/book.yml).
BOOK_URL = "https://cnn-mech-interp.github.io/cnn-mech-interp-course"


def weights_url(ref: str = BOOK_REF) -> str:
    """The folder of the published book that holds its trained weights (``zoo/manifest.json``).

    The Pages workflow publishes the book of ``main`` at the site's root.
    """
    if ref != "main":
        return f"{BOOK_URL}/{ref}/zoo/"
    return f"{BOOK_URL}/zoo/"


def install_url(ref: str = BOOK_REF) -> str:
    """A pip requirement that installs the package from the repository at ``ref``."""
    return f"course-utils @ git+{REPOSITORY_URL}@{ref}"


def setup_cell_source(ref: str = BOOK_REF) -> str:
    """The source of the first code cell of every chapter."""
    return (
        "# Set-up for Google Colab: installs the course package (hidden in the HTML book).\n"
        "# In Colab the trained models download from the published book (checksums verified),\n"
        "# so a chapter runs in about half a minute; elsewhere, or offline, each model trains\n"
        "# once on first use (a minute or two more per chapter) and is cached.\n"
        "import importlib.util, sys\n"
        'if "google.colab" in sys.modules and importlib.util.find_spec("course_utils") is None:\n'
        f'    %pip install --quiet "{install_url(ref)}"'
    )
