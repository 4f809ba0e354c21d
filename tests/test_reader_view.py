"""The chapters as a reader meets them: lines that fit, figures drawn out of sight, text
alternatives and readable figure text (tools/bookcheck.py holds the checks)."""
import re
from pathlib import Path

import nbformat
import pytest

import bookcheck  # tools/bookcheck.py (pyproject's pythonpath)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = bookcheck.chapters()
SOURCES = sorted((ROOT / "src" / "course_utils").rglob("*.py"))


def _notebook(tmp_path: Path, *cells) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    nbformat.write(nb, tmp_path / "nb.ipynb")
    return tmp_path / "nb.ipynb"


def test_visible_code_lines_fit_the_page():
    long = [line for nb in NOTEBOOKS for line in bookcheck.long_code_lines(nb)]
    assert long == [], "visible code lines over 88 characters:\n" + "\n".join(long)


def test_figure_layout_is_folded_away():
    unfolded = [cell for nb in NOTEBOOKS for cell in bookcheck.unfolded_layout(nb)]
    assert unfolded == [], "\n".join(unfolded)


def test_the_checks_find_long_lines_and_unfolded_layout(tmp_path):
    drawing = "\n".join(["fig, axes = plt.subplots(1, 2)", "for ax in axes:", "    ax.axis('off')",
                         "axes[0].imshow(image)", "axes[1].set_title('map')"])
    path = _notebook(tmp_path, nbformat.v4.new_code_cell("x = 1  # " + "a" * 90),
                     nbformat.v4.new_code_cell("maps = model(image)\n" + drawing),
                     nbformat.v4.new_code_cell(drawing, metadata={"tags": ["hide-input"]}))
    assert [p.split(":")[0] for p in bookcheck.long_code_lines(path)] == ["nb cell 0"]
    found = bookcheck.unfolded_layout(path)
    assert len(found) == 1 and found[0].startswith("nb cell 1: 5 layout lines")


def test_the_reader_check_finds_figures_without_alt_and_long_printed_lines():
    png = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}
    described = nbformat.v4.new_code_cell("plot()", outputs=[png])
    described.metadata["mystnb"] = {"image": {"alt": "Two panels: a photo and its edges."}}
    printed = {"output_type": "stream", "name": "stdout", "text": "ok\n" + "x" * 89 + "\n"}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[png]), described,
                                         nbformat.v4.new_code_cell("print()", outputs=[printed])])
    found = bookcheck.reader_problems(nb, "nb")
    assert found[0] == "nb cell 0: a figure with no text alternative"
    assert len(found) == 2 and found[1].startswith("nb cell 2: printed line of 89 chars")


# Figure text must stay readable: nothing set below 8 points, in the chapters or the package.
_SMALL_FONT = re.compile(r"fontsize\s*=\s*([0-7](?:\.\d+)?)\b|\"font\.size\":\s*([0-7])\b")


@pytest.mark.parametrize("path", NOTEBOOKS + SOURCES, ids=lambda p: p.name)
def test_no_figure_text_is_set_below_8_points(path):
    text = path.read_text().replace('\\"', '"')
    small = [m.group(0) for m in _SMALL_FONT.finditer(text)]
    assert small == [], f"{path.name}: font sizes below 8 pt: {small}"


def test_the_font_check_finds_small_text():
    assert _SMALL_FONT.search('ax.text(0, 0, "a", fontsize=7)') and not _SMALL_FONT.search("fontsize=8")


def test_the_bibliography_entries_get_the_role_of_list_items():
    from course_utils.book import accessibility

    body = '<div role="list" class="citation-list"><div class="citation" role="doc-biblioentry">'
    assert accessibility.mend_roles(body) == body.replace("doc-biblioentry", "listitem")


def test_the_reader_check_finds_figure_text_scaled_below_8_points():
    def svg(width_pt: int, font: int) -> dict:
        figure = f'<svg width="{width_pt}pt" height="100pt"><text style="font-size: {font}px">a</text></svg>'
        return {"output_type": "display_data", "metadata": {},
                "data": {"image/svg+xml": figure, "text/plain": "<Figure>"}}
    cells = [nbformat.v4.new_code_cell("plot()", outputs=[svg(400, 8)]),          # shown as drawn
             nbformat.v4.new_code_cell("plot()", outputs=[svg(1104, 12)])]        # halved: 6 pt
    for cell in cells:
        cell.metadata["mystnb"] = {"image": {"alt": "A figure."}}
    found = bookcheck.reader_problems(nbformat.v4.new_notebook(cells=cells), "nb")
    assert found == ["nb cell 1: figure text shown at 6.0 pt (figure 1104 pt wide, column 552)"]


def test_the_reader_check_finds_a_matplotlib_repr_left_under_a_figure():
    def result(text: str) -> dict:
        return {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                "data": {"text/plain": text}}
    cells = [nbformat.v4.new_code_cell("fig.colorbar(image)",
                                       outputs=[result("<matplotlib.colorbar.Colorbar at 0x7f>")]),
             nbformat.v4.new_code_cell("fig.colorbar(image);"),                   # silenced
             nbformat.v4.new_code_cell("len(x)", outputs=[result("3")]),         # a value: fine
             nbformat.v4.new_code_cell("ax.plot(x)", outputs=[result("[<matplotlib.lines.Line2D>]")],
                                       metadata={"tags": ["remove-cell"]})]      # never shown
    found = bookcheck.reader_problems(nbformat.v4.new_notebook(cells=cells), "nb")
    assert found == ["nb cell 0: shows a matplotlib object's repr (end the line with ;)"]
