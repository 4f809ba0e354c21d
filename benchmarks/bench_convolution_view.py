"""Time per step of chapter 2's convolution view in the browser (headless Chromium).

A step is what happens when a reader moves the window or edits a kernel value: the view's
event handler computes the new numbers and redraws the canvases and tables. The page loads the
front end (teaching/convolution_view.js) with a stand-in for the widget model, so only the
view's own work is timed, from the input event to the end of the redraw (the browser shows
the new frame at its next refresh). Value: the median over the steps. Goal: 16 ms, one frame
at 60 Hz. Needs `make browser-deps`.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from course_utils.cnn.conv import kernel  # noqa: E402
from course_utils.data import loaders, photos  # noqa: E402
from course_utils.teaching import convolution_view  # noqa: E402
from course_utils.teaching.convolution_view import ConvolutionView  # noqa: E402
from sitetools import htmlbook  # noqa: E402

STEPS = 40

# A page with one view, driven by a minimal model (get / set / on / save_changes).
PAGE = """<!doctype html><html><body><div id="view"></div><script type="module">
import view from "./convolution_view.js";
const state = STATE, handlers = {};
const model = {
  get: (key) => state[key],
  set: (key, value) => { state[key] = value; (handlers["change:" + key] || []).forEach((f) => f()); },
  on: (name, f) => { (handlers[name] = handlers[name] || []).push(f); },
  save_changes: () => {},
};
view.render({ model, el: document.getElementById("view") });
window.ready = true;
</script></body></html>"""

# Runs in the page: the median time of `steps` input events on the control `selector`.
TIME_STEPS = """async ([selector, values, event]) => {
  const control = document.querySelector(selector), times = [];
  for (const value of values) {
    control.value = String(value);
    const start = performance.now();
    control.dispatchEvent(new Event(event));
    times.push(performance.now() - start);
    await new Promise((r) => requestAnimationFrame(r));   // let the frame be shown
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}"""


def _state(view: ConvolutionView) -> dict:
    return {name: getattr(view, name) for name in
            ["image", "kernel", "bias", "stride", "padding", "dilation", "row", "col", "fill",
             "presets", "description"]}


def _time(context, folder: Path, url: str, view: ConvolutionView, selector: str, values, event: str) -> float:
    (folder / "index.html").write_text(PAGE.replace("STATE", json.dumps(_state(view))))
    page = context.new_page()
    page.goto(f"{url}/index.html")
    page.wait_for_function("window.ready === true")
    median = page.evaluate(TIME_STEPS, [selector, list(values), event])
    page.close()
    return median


def run() -> list[dict]:
    from playwright.sync_api import sync_playwright

    digit = loaders.mnist_subset("test").images[1, 0]
    colour = photos.photo("astronaut", size=32)[:, 2:18, 10:26]
    camera = photos.photo("camera", grayscale=True, size=160)
    cases = [
        ("window step, 28 x 28 digit", ConvolutionView(digit, kernel("sobel_x"), bias=-0.1),
         "input[aria-label='output column j']", [i % 26 for i in range(STEPS)], "input"),
        ("window step, RGB 16 x 16 crop", ConvolutionView(colour, torch.ones(3, 3, 3) / 27),
         "input[aria-label='output column j']", [i % 14 for i in range(STEPS)], "input"),
        ("kernel edit, 160 x 160 photo (whole output again)",
         ConvolutionView(camera, kernel("sobel_x"), padding=1, fill="all"),
         "input[aria-label='kernel (grey), row 1, column 1']", [(i % 5) / 2 for i in range(STEPS)], "change"),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, htmlbook.serve(Path(tmp)) as url, sync_playwright() as p:
        shutil.copy(convolution_view.FRONT_END, Path(tmp) / "convolution_view.js")
        browser = htmlbook.launch_chromium(p)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for name, view, selector, values, event in cases:
            median = _time(context, Path(tmp), url, view, selector, values, event)
            rows.append({"name": f"ConvolutionView in the browser: {name}", "value": median,
                         "goal": "<= 16", "unit": "ms",
                         "note": f"median of {STEPS} input events, event to end of redraw, headless Chromium"})
        browser.close()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
