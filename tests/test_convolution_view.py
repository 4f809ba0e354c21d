"""The browser's convolution (convolution_view.js, run in Node) equals torch's, and the widget
works from Python through its traits."""
import json
import shutil
import subprocess

import pytest
import torch
import torch.nn.functional as F
import traitlets

from course_utils.cnn import conv
from course_utils.teaching import convolution_view
from course_utils.teaching.convolution_view import ConvolutionView

# Runs the front end's own functions on cases read from stdin; prints their results as JSON.
NODE_SCRIPT = """
import { convolve, stepAt } from "./convolution_view.mjs";
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((c) => ({
    output: convolve(c.image, c.kernel, c.bias, c.geometry),
    step: stepAt(c.image, c.kernel, c.bias, c.geometry, c.row, c.col),
  }));
  process.stdout.write(JSON.stringify(results));
});
"""


def run_front_end(cases: list[dict], tmp_path) -> list[dict]:
    node = shutil.which("node")
    assert node, "these tests need Node.js (it comes with `make browser-deps`)"
    # Node reads ES modules from .mjs files: the same source, copied under that name.
    shutil.copy(convolution_view.FRONT_END, tmp_path / "convolution_view.mjs")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT)
    result = subprocess.run([node, "run.mjs"], input=json.dumps(cases), capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


GEOMETRIES = [dict(stride=1, padding=0, dilation=1), dict(stride=2, padding=1, dilation=1),
              dict(stride=1, padding=2, dilation=2), dict(stride=3, padding=1, dilation=1)]


def random_cases() -> list[dict]:
    g = torch.Generator().manual_seed(0)
    cases = []
    for channels in (1, 3):
        for k in (1, 3, 5):
            for geometry in GEOMETRIES:
                image = torch.rand(channels, 11, 9, generator=g)
                kernel = torch.randn(channels, k, k, generator=g)
                cases.append(dict(image=image.tolist(), kernel=kernel.tolist(), geometry=geometry,
                                  bias=float(torch.randn(1, generator=g)), row=1, col=0))
    return cases


def test_the_browser_convolution_equals_torchs(tmp_path):
    cases = random_cases()
    results = run_front_end(cases, tmp_path)
    worst = 0.0
    for case, result in zip(cases, results):
        expected = F.conv2d(torch.tensor(case["image"])[None], torch.tensor(case["kernel"])[None],
                            torch.tensor([case["bias"]]), **case["geometry"])[0, 0]
        got = torch.tensor(result["output"])
        assert got.shape == expected.shape, case["geometry"]
        worst = max(worst, float((got - expected).abs().max()))
        assert result["step"]["value"] == pytest.approx(float(expected[1, 0]), abs=1e-5)
    assert worst <= 1e-5, f"largest difference from F.conv2d: {worst:.2e}"
    assert len(cases) == 24


def test_each_step_of_the_browser_matches_the_python_view(tmp_path):
    """Window, product and per-channel sums: the numbers the page shows are torch's."""
    g = torch.Generator().manual_seed(1)
    image, kernel = torch.rand(3, 8, 8, generator=g), torch.randn(3, 3, 3, generator=g)
    view = ConvolutionView(image, kernel, bias=0.3, stride=2, padding=1)
    view.row, view.col = 2, 3
    case = dict(image=view.image, kernel=view.kernel, bias=view.bias, row=2, col=3,
                geometry=dict(stride=2, padding=1, dilation=1))
    step = run_front_end([case], tmp_path)[0]["step"]
    shown = view.shown
    assert torch.allclose(torch.tensor(step["window"]), shown.window, atol=1e-6)
    assert torch.allclose(torch.tensor(step["product"]), shown.product, atol=1e-6)
    assert torch.allclose(torch.tensor(step["channelSums"]), shown.channel_sums, atol=1e-5)
    assert step["value"] == pytest.approx(shown.value, abs=1e-5)


def test_the_view_is_driven_through_its_traits():
    digit = torch.rand(28, 28, generator=torch.Generator().manual_seed(2))
    view = ConvolutionView(digit, conv.kernel("sobel_x"), bias=-0.1)
    assert (torch.tensor(view.image)[0] - digit).abs().max() <= 5e-5   # sent with four decimals
    digit = torch.tensor(view.image)[0]                                # what the view computes with
    reference = F.conv2d(digit[None, None], conv.kernel("sobel_x")[None, None], torch.tensor([-0.1]))[0, 0]
    view.row, view.col = 12, 9
    assert view.shown.value == pytest.approx(float(reference[12, 9]), abs=1e-5)
    view.kernel = conv.kernel("blur")[None].tolist()          # as an edit in the browser would
    blurred = F.conv2d(digit[None, None], conv.kernel("blur")[None, None], torch.tensor([-0.1]))[0, 0]
    assert view.shown.value == pytest.approx(float(blurred[12, 9]), abs=1e-5)
    assert view.output_shape == (26, 26) and set(view.presets) == set(conv.KERNELS)
    with pytest.raises(traitlets.TraitError, match="row must be in 0..25"):
        view.row = 26


def test_the_view_falls_back_to_a_picture_where_no_javascript_runs():
    view = ConvolutionView(torch.rand(3, 6, 6), torch.ones(3, 3, 3) / 27)
    data, _ = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["image/png"].startswith("iVBOR")   # base64 of a PNG


@pytest.mark.parametrize("image, kernel, kwargs, message", [
    (torch.rand(1, 1, 8, 8), torch.rand(3, 3), {}, "expected the image as C x H x W or H x W"),
    (torch.rand(8, 8), torch.rand(2, 3), {}, "expected a square kernel"),
    (torch.rand(5, 5), torch.rand(7, 7), {}, "the kernel reaches 7 pixels"),
    (torch.rand(5, 5), torch.rand(3, 3), dict(dilation=3), "the kernel reaches 7 pixels"),
    (torch.rand(3, 8, 8), torch.rand(3, 3), {}, "one k x k slice per image channel"),
    (torch.rand(8, 8), torch.rand(3, 3), dict(stride=0), "expected stride >= 1"),
    (torch.full((8, 8), float("nan")), torch.rand(3, 3), {}, "NaN or infinite"),
])
def test_bad_input_is_refused_in_python_with_what_was_expected(image, kernel, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvolutionView(image, kernel, **kwargs)
