"""A two-page book that uses every feature the browser checks look at, to test the checks.

The real chapters may not (yet) contain math, widgets or an animation; this book always does,
so the checks are proven to pass on a good page and, after breaking a copy of it
(test_checks_can_fail.py), to fail.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from sitetools import htmlbook

ROOT = Path(__file__).resolve().parents[2]

MARKDOWN_TOP = r"""# Chapter 1: Every feature

**Learning goals**: see math, a figure, widgets, an animation and an exercise in the browser.

Inline math $y = \sigma(Wx + b)$ and a display:

$$
(x \star k)[i, j] = \sum_{u, v} x[i + u, j + v]\, k[u, v]
$$

A link to [the next section](#sec-features-a) and to [the intro](intro.md).

(sec-features-a)=
## A section
"""

FIGURE = """import matplotlib.pyplot as plt
import numpy as np
from course_utils.teaching import plotting
plotting.use_book_style()   # SVG, as in the chapters
fig, ax = plt.subplots(figsize=(2, 2))
ax.imshow(np.eye(4))
ax.set_title("identity")
plt.show()"""
FIGURE_ALT = "A 4 x 4 identity matrix: a bright diagonal on a dark ground."

WIDGETS = """import ipywidgets as widgets
slider = widgets.IntSlider(value=3, min=0, max=9, description="kernel")
text = widgets.IntText()
widgets.jslink((slider, "value"), (text, "value"))
widgets.VBox([slider, text])"""

ANIMATION = """import matplotlib.pyplot as plt
from matplotlib import animation
from course_utils.teaching import widgets
fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
square = ax.add_patch(plt.Rectangle((0, 0), 1, 1))
ax.set_xlim(0, 4); ax.set_ylim(0, 1)
def step(i):
    square.set_x(i)
    return [square]
anim = animation.FuncAnimation(fig, step, frames=4, interval=100)
plt.close(fig)
widgets.player(anim, alt="A square moves from left to right.")"""

EXERCISE = """:::{exercise} Double it
:label: ex-double
Write `double(x)`.
:::"""

SOLUTION_START = "::::{solution-start} ex-double\n:class: dropdown\n::::"
SOLUTION_CODE = '''def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION'''
SOLUTION_END = "::::{solution-end}\n::::"
RAISES = 'raise ValueError("expected kernel of shape (k, k), got (3,)")'


def feature_notebook() -> nbformat.NotebookNode:
    """The one chapter of the feature book."""
    new_md, new_code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_md(MARKDOWN_TOP),
        new_code(FIGURE, metadata={"mystnb": {"image": {"alt": FIGURE_ALT}}}),
        new_code(WIDGETS), new_code(ANIMATION),
        new_md(EXERCISE), new_md(SOLUTION_START), new_code(SOLUTION_CODE), new_md(SOLUTION_END),
        new_code("assert double(2) == 4"),
        new_code(RAISES, metadata={"tags": ["raises-exception"]}),
    ]
    return nb


def write_feature_book(folder: Path) -> Path:
    """Write the feature book (the real `_config.yml`, an intro and one chapter) into `folder`."""
    (folder / "book").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "_config.yml", folder / "_config.yml")
    htmlbook.copy_config_files(folder)
    (folder / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/01_features\n")
    (folder / "book" / "intro.md").write_text("# Intro\n\nA book to test the browser checks. "
                                              "Read [the chapter](01_features.ipynb).\n")
    nbformat.write(feature_notebook(), folder / "book" / "01_features.ipynb")
    return folder
