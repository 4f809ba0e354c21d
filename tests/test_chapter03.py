"""Chapter 3: unit tests of its package functions against closed forms, its exercise checks, and
the notebook's structure.

The chapter's results (linearity, collapse, the trained edge networks, activations through
depth, template matching) are stated as claims in the chapter itself and checked by every book
build; these tests do not recompute them.
"""
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

from course_utils.cnn import expressiveness, linearity, zoo
from course_utils.teaching.checks import CheckFailed, NotImplementedYet, ch03

pytestmark = pytest.mark.usefixtures("one_thread")

NOTEBOOK = Path(__file__).resolve().parent.parent / "book" / "03_nonlinearity.ipynb"


def _majority(labels):
    share = labels.float().mean().item()
    return max(share, 1 - share)


def test_edge_task_is_balanced_enough_and_seeded():
    train, test = zoo.zoo_data("edges_relu")
    again, _ = zoo.zoo_data("edges_relu")
    assert torch.equal(train.images, again.images)
    assert len(train) == 900 and len(test) == 300 and train.images.shape[1:] == (1, 24, 24)
    assert _majority(test.labels) < 0.6


def _images(n=6, seed=0):
    return torch.rand(n, 1, 24, 24, generator=torch.Generator().manual_seed(seed))


def test_mirror_sum_of_an_affine_net_is_the_closed_form_constant():
    # f(1 - x) = f(1) + f(0) - f(x) for affine f: the sum equals margin(ones) + margin(zeros).
    net = zoo.untrained("edges_identity", 0).eval()
    images = _images()
    mirror = expressiveness.mirror_sum(net, images)
    with torch.no_grad():
        ones, zeros = torch.ones(1, 1, 24, 24), torch.zeros(1, 1, 24, 24)
        expected = (expressiveness.logit_margin(net, ones)
                    + expressiveness.logit_margin(net, zeros)).item()
    assert mirror.shape == (6,)
    assert torch.allclose(mirror, torch.full_like(mirror, expected), atol=1e-5)
    relu_mirror = expressiveness.mirror_sum(zoo.untrained("edges_relu", 0).eval(), images)
    assert relu_mirror.std() > 1e-4  # a ReLU net is not affine: no such constant


def test_input_gradient_of_an_affine_net_is_its_template():
    # margin(x) = <g, x> + margin(0), with the same g for every image.
    net = zoo.untrained("edges_identity", 1).eval()
    images = _images(seed=1)
    grads = expressiveness.input_gradients(net, images)
    assert grads.shape == images.shape
    with torch.no_grad():
        margins = expressiveness.logit_margin(net, images)
        offset = expressiveness.logit_margin(net, torch.zeros_like(images[:1]))
    assert torch.allclose(margins, (grads * images).flatten(1).sum(1) + offset, atol=1e-5)
    assert torch.allclose(grads, grads[:1].expand_as(grads), atol=1e-6)


def test_input_gradient_matches_finite_differences_for_a_relu_net():
    net = zoo.untrained("edges_relu", 0).double().eval()
    image = _images(1, seed=2).double()
    grad = expressiveness.input_gradients(net, image)
    direction = torch.randn(image.shape, generator=torch.Generator().manual_seed(3),
                            dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        numeric = (expressiveness.logit_margin(net, image + eps * direction)
                   - expressiveness.logit_margin(net, image - eps * direction)) / (2 * eps)
    assert (grad * direction).sum().item() == pytest.approx(numeric.item(), rel=1e-4, abs=1e-8)


def test_correlation_reference_and_errors():
    a = torch.randn(50, generator=torch.Generator().manual_seed(0))
    b = 2 * a + torch.randn(50, generator=torch.Generator().manual_seed(1))
    expected = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    assert expressiveness.correlation(a, b) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="1-D"):
        expressiveness.correlation(a, b[:10])


# --- exercises: the reference solutions pass, typical mistakes fail -------------------------

def _compose_without_flip(w1, w2):  # the classic slip: correlate instead of convolve the kernels
    padded = F.pad(w1, (w2.shape[1] - 1,) * 2 + (w2.shape[0] - 1,) * 2)
    return F.conv2d(padded[None, None], w2[None, None])[0, 0]


def test_check_compose_two():
    ch03.check_compose_two(
        lambda w1, w2: linearity.compose_kernels(w1[None, None], w2[None, None])[0, 0])
    with pytest.raises(CheckFailed):
        ch03.check_compose_two(lambda w1, w2: _compose_without_flip(w1, w2))
    with pytest.raises(NotImplementedYet, match="not implemented"):
        def compose_two(w1, w2):
            raise NotImplementedError("hint")
        ch03.check_compose_two(compose_two)


def test_check_composed_bias():
    def composed_bias(w2, b1, b2):
        return b2 + w2.sum(dim=(2, 3)) @ b1
    ch03.check_composed_bias(composed_bias)
    def forgot_b1(w2, b1, b2):
        return b2
    with pytest.raises(CheckFailed, match="wrong"):
        ch03.check_composed_bias(forgot_b1)
    def added_plainly(w2, b1, b2):
        return b2 + b1.sum()
    with pytest.raises(CheckFailed):
        ch03.check_composed_bias(added_plainly)


def test_check_breaking_alpha():
    ch03.check_breaking_alpha(lambda: -1.0)
    with pytest.raises(CheckFailed, match="sign of alpha"):
        ch03.check_breaking_alpha(lambda: 2.0)
    with pytest.raises(CheckFailed, match="number"):
        ch03.check_breaking_alpha(lambda: "negative")
    def breaking_alpha():
        raise NotImplementedError("hint")
    with pytest.raises(NotImplementedYet, match="not implemented yet. hint"):
        ch03.check_breaking_alpha(breaking_alpha)


def test_check_best_patch():
    ch03.check_best_patch(lambda kernel, norm: norm * kernel / kernel.norm())
    with pytest.raises(CheckFailed):
        ch03.check_best_patch(lambda kernel, norm: kernel)                       # forgot the norm
    with pytest.raises(CheckFailed):
        ch03.check_best_patch(lambda kernel, norm: norm * kernel / kernel.abs().max())


def test_check_snr():
    def snr(response, signal, background):
        rest = response[background]
        return ((response[signal].mean() - rest.mean()) / rest.std(unbiased=False)).item()
    ch03.check_snr(snr)
    def bessel(response, signal, background):               # torch's default std divides by n - 1
        rest = response[background]
        return ((response[signal].mean() - rest.mean()) / rest.std()).item()
    def no_offset(response, signal, background):            # forgot the background's mean
        return (response[signal].mean() / response[background].std(unbiased=False)).item()
    def whole_map(response, signal, background):            # the spread of the whole map
        rest = response[background]
        return ((response[signal].mean() - rest.mean()) / response.std(unbiased=False)).item()
    def ignores_background(response, signal, background):   # background = everything else
        rest = response[~signal]
        return ((response[signal].mean() - rest.mean()) / rest.std(unbiased=False)).item()
    for wrong in (bessel, no_offset, whole_map, ignores_background):
        with pytest.raises(CheckFailed, match="wrong"):
            ch03.check_snr(wrong)
    def snr(response, signal, background):
        raise NotImplementedError("hint")
    with pytest.raises(NotImplementedYet, match="not implemented"):
        ch03.check_snr(snr)


# --- the notebook ---------------------------------------------------------------------------

def _cells():
    return nbformat.read(NOTEBOOK, as_version=4).cells


def test_notebook_has_goals_sections_and_at_least_three_exercises():
    cells = _cells()
    assert cells[1].source.startswith("# Chapter 3") and "learning goals" in cells[1].source.lower()
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert text.count("**Takeaway.**") >= 5
    exercises = [c for c in cells if c.cell_type == "markdown" and c.source.startswith(":::{exercise}")]
    assert len(exercises) >= 3
    for cell in exercises:
        label = cell.source.split(":label:")[1].split()[0]
        i = cells.index(cell)
        assert cells[i + 1].source.startswith(f"::::{{solution-start}} {label}")
        assert "### BEGIN SOLUTION" in cells[i + 2].source and "### END SOLUTION" in cells[i + 2].source
        assert cells[i + 3].source.startswith("::::{solution-end}")
        assert cells[i + 4].cell_type == "code" and cells[i + 4].source.startswith("ch03.check_")


def test_notebook_has_a_seed_parameter_cell_after_the_imports():
    cells = _cells()
    index = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    assert cells[index].source.startswith("SEED = ")
    assert "import" in cells[index - 1].source
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "seed=0" not in code.replace(" ", "")  # every seed derives from SEED


def test_notebook_solutions_pass_their_checks(capsys):
    cells = _cells()
    namespace = {"torch": torch, "F": F, "ch03": ch03}
    solutions = [c.source for c in cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    checks = [c.source for c in cells if c.cell_type == "code" and c.source.startswith("ch03.check_")]
    assert len(solutions) == len(checks) >= 3
    for source in solutions + checks:
        exec(source, namespace)
    assert capsys.readouterr().out.count("Check passed") == len(checks)
