"""The browser, link and size checks pass on a good page and fail on a broken copy of it.

The page comes from featurebook.py (math, a figure, widgets, an animation, a dropdown solution
and a cell that raises on purpose). Each mutation breaks one thing the way a real regression
would, in a copy of the page next to the original, and the check must name it.
"""
import re
from pathlib import Path

import pytest

from sitetools import htmlbook
from sitetools import sitecheck

PAGE = "book/01_features"


@pytest.mark.slow
def test_the_good_feature_page_passes_and_every_feature_is_seen(feature_html, feature_url, browser):
    report = htmlbook.inspect_page(browser, f"{feature_url}/{PAGE}.html", colab_notebook=f"{PAGE}.ipynb")
    assert report.problems == []
    assert (report.math, report.widgets, report.animations, report.solutions) == (2, 1, 1, 1)
    assert report.figures == 2  # the figure and the animation's frame
    assert report.colab.endswith("/blob/main/book/01_features.ipynb")
    assert not set(report.axe) & set(htmlbook.AXE_FAILING_IMPACTS)
    assert report.smallest_figure_text_pt is not None and report.smallest_figure_text_pt >= 8
    good_pages = [p for p in sitecheck.site_pages(feature_html) if "mutants" not in p.parts]
    assert sitecheck.broken_links(feature_html, good_pages) == []


def _replace(old: str, new: str):
    return lambda html: html.replace(old, new, 1) if old in html else pytest.fail(f"{old!r} not in the page")


def _drop_script(src_part: str):
    pattern = re.compile(r'<script[^>]*src="[^"]*' + re.escape(src_part) + r'[^"]*"[^>]*></script>')
    return lambda html: pattern.sub("", html, count=1) if pattern.search(html) else pytest.fail(f"no {src_part}")


def _freeze_animation(html: str) -> str:
    frozen = re.sub(r'onclick="anim\w+\.(next_frame|play_animation)\(\)"', 'onclick=""', html)
    assert frozen != html
    return frozen


def _break_first_image(html: str) -> str:
    return re.sub(r'<img([^>]*) src="\.\./_images/[^"]+"', r'<img\1 src="../_images/missing.png"', html, count=1)


def _long_code_line(html: str) -> str:
    return _replace("</main>", '<div class="cell_input"><pre>' + "x = 1 " * 40 + "</pre></div></main>")(html)


MUTATIONS = {
    "error cell not tagged raises-exception": (_replace("cell tag_raises-exception", "cell"), "cell shows an error: ValueError"),
    "figure file missing": (_break_first_image, "image does not load"),
    "solution not a dropdown": (_replace("solution dropdown admonition", "solution admonition"), "shows its body before it is opened"),
    "MathJax not loaded": (_drop_script("mathjax"), "math not typeset: 0 of 2"),
    "widget manager not loaded": (_drop_script("embed-amd.js"), "1 of 1 widgets do not render"),
    "animation buttons dead": (_freeze_animation, "'Next frame' did not advance"),
    "figure without alt text": (lambda html: re.sub(r'alt="A 4 x 4[^"]*"', 'alt=""', html, count=1),
                                "figure without a text alternative"),
    "animation frame without alt text": (_replace('alt="A square moves from left to right."', ""),
                                         "axe critical: image-alt"),
    "widget controls unnamed": (_drop_script("widget-names.js"), "axe critical: label"),
    "no course stylesheet": (lambda html: re.sub(r'<link[^>]*course\.css[^>]*>', "", html, count=1),
                             "has no white ground in dark mode"),
    "code line too long": (_long_code_line, "code line wider than its box: 'x = 1 x = 1"),
    "figure shown too small": (_replace('<img alt="A 4 x 4', '<img style="width: 60px" alt="A 4 x 4'),
                               "text shown at"),
}


def _mutant(feature_html: Path, name: str, mutate) -> str:
    """Write a broken copy of the feature page beside it (same depth, so relative URLs hold)."""
    folder = feature_html / "mutants"
    folder.mkdir(exist_ok=True)
    slug = re.sub(r"\W+", "-", name)
    (folder / f"{slug}.html").write_text(mutate((feature_html / f"{PAGE}.html").read_text()))
    return f"mutants/{slug}.html"


@pytest.mark.slow
@pytest.mark.parametrize("name", MUTATIONS)
def test_a_broken_page_is_reported(name, feature_html, feature_url, browser):
    mutate, expected = MUTATIONS[name]
    report = htmlbook.inspect_page(browser, f"{feature_url}/{_mutant(feature_html, name, mutate)}")
    assert any(expected in problem for problem in report.problems), report.problems


@pytest.mark.slow
def test_a_wrong_colab_link_is_reported(feature_url, browser):
    report = htmlbook.inspect_page(browser, f"{feature_url}/{PAGE}.html", colab_notebook="book/02_other.ipynb")
    assert any("does not open book/02_other.ipynb" in p for p in report.problems), report.problems


@pytest.mark.slow
def test_broken_links_and_anchors_are_reported(feature_html):
    added = ["#no-such-anchor", "../book/intro.html#nope", "../book/missing.html", "../book/intro.html#sec-missing",
             "../book/01_features.html#sec-features-a", "https://example.org/x"]
    links = "".join(f'<a href="{href}">link</a>' for href in added)
    page = feature_html / _mutant(feature_html, "bad links", _replace("</main>", links + "</main>"))
    broken = [b for b in sitecheck.broken_links(feature_html, [page]) if any(f" {href} " in b for href in added)]
    assert [b.split(" (")[-1] for b in broken] == [
        "no anchor #no-such-anchor)", "no anchor #nope)", "no such file)", "no anchor #sec-missing)"]


@pytest.mark.slow
def test_page_size_counts_html_and_image_files(feature_html):
    page = feature_html / f"{PAGE}.html"
    size = sitecheck.page_size(feature_html, page)
    pngs = {img for img in sitecheck.parse(page).images if img.startswith("../_images/")}  # not theme logos
    assert pngs, "the feature page shows a figure file"
    assert size.html_bytes == page.stat().st_size
    assert size.image_bytes == sum((page.parent / img).stat().st_size for img in pngs)


@pytest.mark.slow
def test_faint_text_is_reported_and_faint_code_only_where_code_contrast_is_checked(feature_html, feature_url, browser):
    faint = '<p style="color: #d0d0d0; background: #fff">faint text</p>'
    faint_code = '<div class="highlight"><pre><span style="color: #d0d0d0">faint_code = 1</span></pre></div>'
    text_page = _mutant(feature_html, "faint text", _replace("</main>", faint + "</main>"))
    code_page = _mutant(feature_html, "faint code", _replace("</main>", faint_code + "</main>"))
    contrast = lambda report: any("color-contrast" in p for p in report.problems)  # noqa: E731
    assert contrast(htmlbook.inspect_page(browser, f"{feature_url}/{text_page}", code_contrast=False))
    assert contrast(htmlbook.inspect_page(browser, f"{feature_url}/{code_page}", code_contrast=True))
    assert not contrast(htmlbook.inspect_page(browser, f"{feature_url}/{code_page}", code_contrast=False))
