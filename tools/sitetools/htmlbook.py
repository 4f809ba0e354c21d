"""The built book as a reader gets it: an offline build, a local web server and headless Chromium.

Used by the tests in this folder (see conftest.py). Three parts:

- `write_test_config` / `build_book`: build the book as `make book` does (MathJax and the
  widget scripts served by the book itself, tools/offline_static.py), checking the claims on
  fewer seeds; pages render with no network.
- `serve`: a Python `http.server` on 127.0.0.1 and a free port, in a background thread.
- `launch_chromium` / `inspect_page`: Debian's chromium driven by Playwright; `inspect_page`
  opens one page, waits for MathJax and the widgets, exercises animations and solutions, and
  returns what a reader would see (`PageReport.problems` lists what is wrong).
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

from sitetools import colab_like
import offline_static  # tools/offline_static.py: the front-end scripts the book serves itself
from bookcheck import SMALLEST_TEXT_PT  # tools/bookcheck.py: the one place for the figure rule

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".browser" / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
# Screenshots and the page-size report: a build artifact, next to the book's own _build/html.
ARTIFACTS = ROOT / "_build" / "screenshots"
SCREENSHOTS_ENV = "COURSE_SCREENSHOTS"   # "1": the page tests leave a screenshot of each page

# axe-core, the accessibility checker, injected into each page by inspect_page (not served).
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
AXE_FAILING_IMPACTS = ("serious", "critical")
# Script errors that are not the book's, as (text in the message, text in the stack):
# html-manager 1.0 still calls the MathJax 2 API (MathJax.Hub.Queue) after rendering widgets;
# sphinx-book-theme and sphinx-thebe both declare THEBE_JS_URL (thebe is off in this book).
HARMLESS_PAGE_ERRORS = [("reading 'Queue'", "embed-amd.js"), ("'THEBE_JS_URL' has already been declared", "")]


def missing_setup() -> list[str]:
    """What `make browser-deps` should have installed but is not there (empty when ready)."""
    missing = [str(path) for path in [CHROMIUM, AXE] if not path.exists()] + offline_static.missing()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright")
    return missing


# ----------------------------------------------------------------------------- building
CLAIM_SEEDS: tuple[int, ...] = ()  # the seeds this build checks the claims on, beside SEED


# Files the book's _config.yml names (the bibliography, the course's CSS): a small book built
# with that config needs its own copy of them.
CONFIG_FILES = ("book/references.bib", "book/_static")


def copy_config_files(root: Path) -> None:
    """Copy CONFIG_FILES from this repository into the book folder `root` (without the front-end
    scripts: `build_book` copies those, and a small book without math or widgets needs none)."""
    for name in CONFIG_FILES:
        source, target = ROOT / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("offline"))
        else:
            shutil.copy2(source, target)


def write_test_config(config: Path, workdir: Path, kernel: str | None = None) -> Path:
    """A copy of the book's `config` in `workdir` for the tests' build; returns its path.

    The book already serves MathJax and the widget scripts itself (tools/offline_static.py);
    the tests' build only checks the claims on fewer seeds and, given a `kernel` name, runs
    every notebook in that kernel.
    """
    settings = yaml.safe_load(config.read_text())
    sphinx_config = settings.setdefault("sphinx", {}).setdefault("config", {})
    # The claims' other seeds retrain every model twice more (most of a fresh clone's build time):
    # `make book` checks them, and tests/test_book.py checks that mechanism on a small book.
    sphinx_config["claim_seeds"] = list(CLAIM_SEEDS)
    if kernel:
        sphinx_config["nb_kernel_rgx_aliases"] = {".*": kernel}
    path = workdir / "_config_test.yml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def build_book(source: Path, out: Path, timeout: int = 1500,
               colab: colab_like.ColabStart | None = None) -> Path:
    """Build the book in `source` with the offline config into `out`; return the HTML folder.

    Every notebook is executed (`--all`, and `execute_notebooks: force` in the config), in the
    Colab-like kernel of `colab` when given (colab_like.py), else in this environment's.
    Raises RuntimeError with the end of the build log when the build fails.
    """
    out.mkdir(parents=True, exist_ok=True)
    offline_static.build(source / "book" / "_static" / "offline")
    config = write_test_config(source / "_config.yml", out, colab_like.KERNEL_NAME if colab else None)
    command = [str(JUPYTER_BOOK), "build", "--all", "-W", "--keep-going",
               "--config", str(config), "--path-output", str(out), str(source)]
    # The kernels inherit this environment. MPLBACKEND (set to Agg for the tests themselves) would
    # make ipykernel skip its inline backend, and every figure would silently vanish from the book.
    env = {k: v for k, v in (colab.environ() if colab else os.environ).items() if k != "MPLBACKEND"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"book build failed ({' '.join(command)}):\n"
                           + result.stdout[-4000:] + result.stderr[-4000:])
    return out / "_build" / "html"


def toc_pages(source: Path) -> list[str]:
    """The documents of `_toc.yml` in reading order, e.g. ['book/intro', 'book/01_architecture']."""
    toc = yaml.safe_load((source / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key, []))

    walk([toc])
    return pages


def chapter_notebook(page: str, source: Path = ROOT) -> str | None:
    """'book/02_convolution' -> 'book/02_convolution.ipynb' when the page is a notebook, else None."""
    return f"{page}.ipynb" if (source / f"{page}.ipynb").is_file() else None


# ----------------------------------------------------------------------------- serving
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass  # one line per request would drown pytest's output


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (a free port chosen by the OS); yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----------------------------------------------------------------------------- the browser
def launch_chromium(playwright):
    """Debian's chromium (no browser download), headless, with no background traffic."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


@dataclass
class PageReport:
    """What one page looked like in the browser. `problems` is empty for a good page."""

    url: str
    title: str = ""
    problems: list[str] = field(default_factory=list)
    images: int = 0
    figures: int = 0
    math: int = 0
    widgets: int = 0
    animations: int = 0
    solutions: int = 0
    colab: str | None = None
    offsite_requests: list[str] = field(default_factory=list)
    axe: dict[str, int] = field(default_factory=dict)  # violations by impact, all impacts
    smallest_figure_text_pt: float | None = None      # in the SVG figures, at the size shown


# Runs in the page: the facts the checks need, gathered in one round trip.
_FACTS_JS = """
async () => {
  const main = document.querySelector('main') || document.body;
  const visible = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  // Lazy images would only load on scroll: ask for all of them now and wait.
  const imgs = Array.from(document.images);
  imgs.forEach((img) => { img.loading = 'eager'; });
  await Promise.all(imgs.map((img) => img.decode().catch(() => null)));
  // Figures: images a cell printed, directly or inside a widget (the animation's frame counts).
  const figures = imgs.filter((img) => img.closest('.cell_output')).length;
  const badImages = imgs.filter((img) => !(img.complete && img.naturalWidth > 0))
                        .map((img) => (img.getAttribute('src') || '').slice(0, 80));
  // A figure's text alternative: Sphinx writes the file's own path when a cell gave none.
  const src = (img) => img.getAttribute('src') || '';
  const noAlt = imgs.filter((img) => img.closest('.cell_output')).filter((img) => {
      const alt = (img.getAttribute('alt') || '').trim();
      return !alt || alt === src(img) || /\\.(png|svg|jpe?g|gif)$/i.test(alt);
  }).map((img) => src(img).slice(0, 80));
  // Code boxes whose lines do not fit: the reader would have to scroll sideways.
  const overflowing = Array.from(main.querySelectorAll('pre'))
      .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
      .map((pre) => pre.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '').slice(0, 60));
  // Cells that show an error: a traceback or error output, unless tagged raises-exception.
  const lastLine = (el) => ((el.querySelector('pre') || el).textContent.trim().split('\\n').slice(-1)[0] || '').slice(0, 160);
  const errorOutputs = Array.from(main.querySelectorAll('.cell_output .output.traceback, .cell_output .output.error'))
      .filter((el) => !el.closest('.tag_raises-exception')).map(lastLine);
  const stderrErrors = Array.from(main.querySelectorAll('.cell_output .output.stderr'))
      .filter((el) => !el.closest('.tag_raises-exception'))
      .map((el) => el.textContent)
      .filter((text) => /Traceback|\\b\\w*(Error|Exception)\\b/.test(text))
      .map((text) => text.trim().slice(0, 160));
  const mathSource = main.querySelectorAll('.math').length;
  // MathJax replaces the TeX inside each .math element by an mjx-container.
  const mathTypeset = Array.from(main.querySelectorAll('.math')).filter((el) => el.querySelector('mjx-container')).length;
  const mathErrors = main.querySelectorAll('mjx-merror').length;
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  const unrendered = views.filter((tag) => {
      const area = tag.previousElementSibling;
      return !(area && area.classList.contains('widget-subarea') && area.children.length > 0
               && area.getBoundingClientRect().height > 0);
  }).length;
  const hasWidgetState = !!document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
  const colab = Array.from(document.querySelectorAll('a[href*="colab.research.google.com"]')).map((a) => a.href);
  // The theme also puts a print-only copy of the title in main: take the visible one.
  const h1 = Array.from(main.querySelectorAll('h1')).find(visible);
  return {title: h1 ? h1.textContent.replace('#', '').trim() : '', images: imgs.length, figures, badImages,
          noAlt, overflowing,
          errorOutputs, stderrErrors, mathSource, mathTypeset, mathErrors, views: views.length,
          unrendered, hasWidgetState, colab, articleText: (main.innerText || '').trim().length,
          anyVisible: visible(h1)};
}
"""

_WAIT_FOR_SCRIPTS_JS = """
async (timeoutMs) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + timeoutMs;
  // Wait only for scripts the page loads: a page missing one fails its check at once.
  if (document.querySelector('.math') && document.querySelector('script[src*="mathjax" i]')) {
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline) await sleep(50);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise)
      await Promise.race([MathJax.startup.promise, sleep(Math.max(0, deadline - Date.now()))]);
  }
  const views = () => Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  const rendered = () => views().every((t) => t.previousElementSibling && t.previousElementSibling.classList.contains('widget-subarea')
                                              && t.previousElementSibling.children.length > 0);
  const manager = document.querySelector('script[src*="embed-amd"], script[src*="html-manager"]');
  while (manager && views().length && !rendered() && Date.now() < deadline) await sleep(100);
}
"""


# Runs in the page: the smallest text of each SVG figure, in points at the size it is shown.
_FIGURE_TEXT_JS = """
async () => {
  const figures = Array.from(document.querySelectorAll('.cell_output img[src$=".svg"]'));
  const sizes = [];
  for (const img of figures) {
    const svg = await (await fetch(img.src)).text();
    const box = /viewBox="[\\d.]+ [\\d.]+ ([\\d.]+)/.exec(svg);
    const fonts = Array.from(svg.matchAll(/font-size:\\s*([\\d.]+)px/g), (m) => Number(m[1]));
    if (!box || !fonts.length || !img.getBoundingClientRect().width) continue;
    // SVG user units are points; CSS px to pt is 0.75
    const shown = Math.min(...fonts) * img.getBoundingClientRect().width / Number(box[1]) * 0.75;
    sizes.push([img.getAttribute('src').slice(-20), shown]);
  }
  return sizes;
}
"""


def _check_figure_text(page, report: PageReport) -> None:
    """Text in every SVG figure stays at least SMALLEST_TEXT_PT at the size shown."""
    sizes = page.evaluate(_FIGURE_TEXT_JS)
    if sizes:
        report.smallest_figure_text_pt = round(min(pt for _, pt in sizes), 1)
    report.problems += [f"figure {name}: text shown at {pt:.1f} pt (< {SMALLEST_TEXT_PT})"
                        for name, pt in sizes if pt < SMALLEST_TEXT_PT - 0.05]


def _check_dark_mode(page, report: PageReport) -> None:
    """In the theme's dark mode every figure keeps a white ground (its dark text stays visible)."""
    grounds = page.evaluate("""() => {
        const root = document.documentElement, before = root.dataset.theme;
        root.dataset.theme = 'dark';
        const found = Array.from(document.querySelectorAll('.cell_output img'))
            .map((img) => [(img.getAttribute('src') || '').slice(-20), getComputedStyle(img).backgroundColor]);
        root.dataset.theme = before || '';
        return found;
    }""")
    report.problems += [f"figure {name} has no white ground in dark mode ({colour})"
                        for name, colour in grounds if colour != "rgb(255, 255, 255)"]


# Colour contrast costs three quarters of axe's time, most of it on the syntax-highlighted code,
# whose colours come from one style for the whole book: `code_contrast=False` leaves those spans
# out of that one rule (a test checks them in full on one chapter). `contrast_scope` (a CSS
# selector) keeps the rule to one part of a page that repeats one markup, such as the API
# reference's 374 signatures; every other rule still reads the whole page.
def _contrast_rule(code_contrast: bool, contrast_scope: str) -> str:
    if code_contrast and contrast_scope == "body":
        return ""
    selector = f"{contrast_scope} *" + ("" if code_contrast else ":not(.highlight span)")
    return f"axe.configure({{rules: [{{id: 'color-contrast', selector: {selector!r}}}]}});"


def _check_accessibility(page, report: PageReport, code_contrast: bool = True,
                         contrast_scope: str = "body") -> None:
    """axe-core on the whole page: no violation of impact serious or critical."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => {" + _contrast_rule(code_contrast, contrast_scope)
                               + " return (await axe.run(document, {resultTypes: ['violations']}))"
                               ".violations.map((v) => [v.id, v.impact, v.nodes.length,"
                               " v.nodes[0].target.join(' ')]); }")
    for rule, impact, count, target in violations:
        report.axe[impact] = report.axe.get(impact, 0) + count
        if impact in AXE_FAILING_IMPACTS:
            report.problems.append(f"axe {impact}: {rule} on {count} element(s), e.g. {target[:80]}")


def _check_animations(page, report: PageReport) -> None:
    """Every matplotlib `to_jshtml` player steps on "Next frame" and changes its picture on "Play"."""
    players = page.locator("div.animation:has(img[id^='_anim_img']):has(input.anim-slider)")
    report.animations = players.count()
    for i in range(report.animations):
        player = players.nth(i)
        frames = int(player.locator("input.anim-slider").get_attribute("max") or 0) + 1
        if frames < 2:
            report.problems.append(f"animation {i + 1} has {frames} frame(s)")
            continue
        frame = lambda: player.evaluate(  # noqa: E731 - a small probe used twice
            "(el) => [Number(el.querySelector('input.anim-slider').value), el.querySelector('img').naturalWidth]")
        player.locator("button[title='First frame']").click()
        before = frame()
        player.locator("button[title='Next frame']").click()
        after = frame()
        if after[0] != before[0] + 1 or after[1] == 0:
            report.problems.append(f"animation {i + 1}: 'Next frame' did not advance (frame {before[0]} -> {after[0]})")
        # Play: within a few seconds the picture itself must change (consecutive frames may be equal).
        start_src = player.evaluate("(el) => el.querySelector('img').src")
        player.locator("button[title='Play']").click()
        try:
            page.wait_for_function("([el, src]) => el.querySelector('img').src !== src",
                                   arg=[player.element_handle(), start_src], timeout=5000)
        except Exception:  # playwright's TimeoutError
            report.problems.append(f"animation {i + 1}: the picture does not change within 5 s of 'Play'")
        player.locator("button[title='Pause']").click()


def _check_solutions(page, report: PageReport) -> None:
    """Solutions start collapsed (their body hidden) and open when the reader asks."""
    solutions = page.locator("main .solution")
    report.solutions = solutions.count()
    for i in range(report.solutions):
        solution = solutions.nth(i)
        label = (solution.locator(".admonition-title, summary").first.text_content() or f"solution {i + 1}").strip()[:60]
        if solution.evaluate("(el) => el.tagName === 'DETAILS' ? el.open : false"):
            report.problems.append(f"{label!r} starts open")
        body = solution.locator("section, .cell, p:not(.admonition-title)").first
        if not body.count():
            report.problems.append(f"{label!r} is empty")
            continue
        if body.is_visible():
            report.problems.append(f"{label!r} shows its body before it is opened")
            continue
        # A hidden solution must still open: click its toggle as a reader would.
        toggles = [solution.locator(sel) for sel in ("button.toggle-button", "summary", ".admonition-title")]
        next(t for t in toggles if t.count()).first.click()
        try:
            body.wait_for(state="visible", timeout=3000)
        except Exception:  # playwright's TimeoutError
            report.problems.append(f"{label!r} does not open when clicked")


def screenshot_path(page: str) -> Path | None:
    """Where the screenshot of ``page`` ('book/02_convolution') goes, or None: screenshots are
    taken only with COURSE_SCREENSHOTS=1 (a full-page screenshot costs seconds a page)."""
    if os.environ.get(SCREENSHOTS_ENV) != "1":
        return None
    return ARTIFACTS / f"{page.replace('/', '_')}.png"


def inspect_page(context, url: str, screenshot: Path | None = None, colab_notebook: str | None = None,
                 code_contrast: bool = True, contrast_scope: str = "body") -> PageReport:
    """Open `url` in a new tab of `context` and check it as a reader would; see PageReport.

    `colab_notebook` (e.g. "book/02_convolution.ipynb"): the Colab link must end with it.
    `code_contrast=False`: axe skips the colour contrast of syntax-highlighted code (see above);
    `contrast_scope`: the part of the page whose colour contrast axe checks (default all of it).
    Requests that leave 127.0.0.1 are blocked and listed in `offsite_requests`.
    """
    report = PageReport(url)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append((exc.message, exc.stack or "")))

    def route(r) -> None:
        if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            report.offsite_requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    try:
        response = page.goto(url, wait_until="load")
        if response is None or not response.ok:
            report.problems.append(f"HTTP {response.status if response else 'no response'}")
            return report
        page.evaluate(_WAIT_FOR_SCRIPTS_JS, 20_000)
        facts = page.evaluate(_FACTS_JS)
        report.title, report.images, report.figures = facts["title"], facts["images"], facts["figures"]
        report.math, report.widgets = facts["mathSource"], facts["views"]
        if not facts["title"] or not facts["anyVisible"] or facts["articleText"] < 50:
            report.problems.append("page does not render a titled article")
        report.problems += [f"image does not load: {src}" for src in facts["badImages"]]
        report.problems += [f"figure without a text alternative: {src}" for src in facts["noAlt"]]
        report.problems += [f"code line wider than its box: {line!r}" for line in facts["overflowing"]]
        report.problems += [f"cell shows an error: {text}" for text in facts["errorOutputs"] + facts["stderrErrors"]]
        if facts["mathSource"] and facts["mathTypeset"] < facts["mathSource"]:
            report.problems.append(f"math not typeset: {facts['mathTypeset']} of {facts['mathSource']} formulas")
        if facts["mathErrors"]:
            report.problems.append(f"{facts['mathErrors']} formula(s) with TeX errors")
        if facts["views"] and not facts["hasWidgetState"]:
            report.problems.append("widgets without embedded widget state")
        if facts["unrendered"]:
            report.problems.append(f"{facts['unrendered']} of {facts['views']} widgets do not render")
        if screenshot is not None:  # before the clicks below scroll the page
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(screenshot), full_page=True)
        _check_figure_text(page, report)
        _check_dark_mode(page, report)
        _check_accessibility(page, report, code_contrast, contrast_scope)  # before the clicks below
        _check_animations(page, report)
        _check_solutions(page, report)
        if colab_notebook is not None:
            report.colab = facts["colab"][0] if facts["colab"] else None
            if not facts["colab"]:
                report.problems.append("no Colab link")
            elif not all(href.endswith("/" + colab_notebook) for href in facts["colab"]):
                report.problems.append(f"Colab link {facts['colab'][0]} does not open {colab_notebook}")
        report.problems += [f"script error: {message[:160]}" for message, stack in page_errors
                            if not any(m in message and s in stack for m, s in HARMLESS_PAGE_ERRORS)]
    finally:
        page.close()
    return report
