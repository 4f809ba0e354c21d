"""Chapter 2's convolution view computes in the built page, with no Python kernel and no network."""
import pytest
import torch
import torch.nn.functional as F

from course_utils.cnn.conv import kernel
from course_utils.data import loaders
from course_utils.teaching.convolution_view import ConvolutionView

PAGE = "book/02_convolution.html"


def _digit_view_numbers() -> torch.Tensor:
    """The digit the chapter's first sliding view shows, as the view holds it."""
    view = ConvolutionView(loaders.mnist_subset("test").images[1, 0], kernel("sobel_x"), bias=-0.1)
    return torch.tensor(view.image)


def _torch_value(image: torch.Tensor, weights: torch.Tensor, row: int, col: int) -> float:
    return float(F.conv2d(image[None], weights[None, None], torch.tensor([-0.1]))[0, 0, row, col])


@pytest.mark.slow
def test_moving_the_window_and_editing_the_kernel_change_the_numbers_as_torch_does(book_url, browser):
    page = browser.new_page()
    offsite = []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
               else (offsite.append(r.request.url), r.abort()))
    page.goto(f"{book_url}/{PAGE}", wait_until="load")
    page.wait_for_function("document.querySelectorAll('.cv-readout').length >= 3", timeout=20_000)
    views = page.locator(".widget-subarea:has(.cv-readout)")
    texts = [views.nth(i).locator(".cv-readout").text_content() for i in range(views.count())]
    view = views.nth(next(i for i, text in enumerate(texts) if "f[12, 9]" in text))  # the digit's
    readout = view.locator(".cv-readout")
    value = lambda: float(readout.get_attribute("data-value"))  # noqa: E731 - a probe used three times
    image, sobel = _digit_view_numbers(), kernel("sobel_x")
    assert value() == pytest.approx(_torch_value(image, sobel, 12, 9), abs=1e-5)

    # move the window onto the stroke (its centre pixel is bright): the column slider, dragged
    assert image[0, 13, 11] > 0.5
    view.locator("input[aria-label='output column j']").evaluate(
        "(el) => { el.value = '10'; el.dispatchEvent(new Event('input')); }")
    assert "f[12, 10]" in readout.text_content()
    assert value() == pytest.approx(_torch_value(image, sobel, 12, 10), abs=1e-5)
    window_text = view.locator("table").first.text_content()

    # edit the kernel's centre weight, as a reader types into its box
    view.locator("input[aria-label='kernel (grey), row 1, column 1']").fill("2")
    view.locator("input[aria-label='kernel (grey), row 1, column 1']").dispatch_event("change")
    edited = sobel.clone()
    edited[1, 1] = 2.0
    assert value() == pytest.approx(_torch_value(image, edited, 12, 10), abs=1e-5)
    assert value() != pytest.approx(_torch_value(image, sobel, 12, 10), abs=1e-3)  # it did change
    assert view.locator("table").first.text_content() == window_text             # the window did not
    assert offsite == []
    page.close()
