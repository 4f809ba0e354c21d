"""Chapter 3 as a whole: the expressiveness experiment, the exercises and their checks, the notebook.

The expressiveness claim is tested with its baseline: the same architecture, data, seed and
training, with and without ReLU.
"""
import time
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import expressiveness, hooks, activations, linearity
from course_utils.checks import CheckFailed, NotImplementedYet, ch03

NOTEBOOK = Path(__file__).resolve().parent.parent / "book" / "03_nonlinearity.ipynb"


@pytest.fixture(scope="module")
def trained():
    """The chapter's two edge networks (identity and ReLU), trained once for this module."""
    train, test = expressiveness.edge_task()
    nets = {act: expressiveness.train_edge_net(act, train, test, seed=0)[0] for act in ("identity", "relu")}
    return nets, test


def _majority(labels):
    share = labels.float().mean().item()
    return max(share, 1 - share)


def test_edge_task_is_balanced_enough_and_seeded():
    train, test = expressiveness.edge_task()
    again, _ = expressiveness.edge_task()
    assert torch.equal(train.images, again.images)
    assert len(train) == 900 and len(test) == 300 and train.images.shape[1:] == (1, 24, 24)
    assert _majority(test.labels) < 0.6


def test_relu_net_beats_linear_net_by_a_clear_margin(trained):
    nets, test = trained
    accuracy = {act: cu.evaluate(net, test)["accuracy"] for act, net in nets.items()}
    chance = _majority(test.labels)
    assert accuracy["relu"] > 0.9
    assert accuracy["identity"] < chance + 0.1
    assert accuracy["relu"] - accuracy["identity"] > 0.3


def test_the_linear_net_is_one_template_and_mirrors_flipped_edges(trained):
    nets, test = trained
    images = test.images
    mirror = expressiveness.mirror_sum(nets["identity"], images)
    assert mirror.std() < 1e-4 * max(mirror.abs().mean(), 1e-3)  # f(1 - x) = f(1) + f(0) - f(x)
    grads = expressiveness.input_gradients(nets["identity"], images[:50])
    assert torch.allclose(grads, grads[:1].expand_as(grads), atol=1e-6 * grads.abs().max())
    relu_grads = expressiveness.input_gradients(nets["relu"], images[:50])
    assert (relu_grads - relu_grads[:1]).abs().max() > 0.1 * relu_grads.abs().max()  # baseline: input-dependent
    relu_mirror = expressiveness.mirror_sum(nets["relu"], images)
    assert relu_mirror.std() > 1.0


def test_relu_net_is_contrast_invariant_and_pairs_opposite_kernels(trained):
    nets, test = trained
    flipped = cu.ImageDataset(1 - test.images, test.labels, test.classes)
    assert cu.evaluate(nets["relu"], flipped)["accuracy"] > 0.9
    def opposite_pairs(net):
        k = net.conv1.weight.detach()[:, 0]
        unit = F.normalize((k - k.mean(dim=(1, 2), keepdim=True)).flatten(1), dim=1)
        return int((torch.triu(unit @ unit.T, diagonal=1) < -0.7).sum())
    assert opposite_pairs(nets["relu"]) > opposite_pairs(expressiveness.edge_net("relu", seed=0))


def test_linear_net_mostly_reads_brightness(trained):
    nets, test = trained
    brightness = test.images.mean(dim=(1, 2, 3))
    with torch.no_grad():
        linear = expressiveness.correlation(expressiveness.logit_margin(nets["identity"], test.images), brightness)
        relu = expressiveness.correlation(expressiveness.logit_margin(nets["relu"], test.images), brightness)
    assert abs(linear) > 0.5 and abs(relu) < abs(linear)


def test_dead_channels_of_the_trained_net_get_no_gradient(trained):
    nets, test = trained
    net = nets["relu"]
    recorded = hooks.record(net, test.images, ["conv1"])["conv1"]
    dead = (recorded <= 0).flatten(2).all(dim=2).all(dim=0)
    assert activations.dead_fraction(recorded) == pytest.approx(dead.float().mean().item())
    net.zero_grad()
    F.cross_entropy(net(test.images), test.labels).backward()
    grad = net.conv1.weight.grad.flatten(1).norm(dim=1)
    assert torch.all(grad[dead] == 0) and torch.all(grad[~dead] > 0)
    net.zero_grad()


def test_identity_with_max_pooling_is_not_linear(trained):
    nets, test = trained
    centered = lambda net: (lambda x: net(x) - net(torch.zeros_like(x)))
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(4, 1, 28, 28, generator=g), torch.rand(4, 1, 28, 28, generator=g)
    with torch.no_grad():
        avg = linearity.additivity_violation(centered(nets["identity"]), test.images[:4], test.images[4:8])
        maxpool = linearity.additivity_violation(centered(cu.build_model("small", activation="identity").eval()), a, b)
    assert avg < 1e-5 and maxpool > 1e-3


def test_correlation_reference_and_errors():
    a = torch.randn(50, generator=torch.Generator().manual_seed(0))
    b = 2 * a + torch.randn(50, generator=torch.Generator().manual_seed(1))
    expected = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    assert expressiveness.correlation(a, b) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="1-D"):
        expressiveness.correlation(a, b[:10])


# --- exercises: the reference solutions pass, typical mistakes fail -------------------------

def _compose_without_flip(w1, w2):  # the classic slip: correlate instead of convolve the kernels
    return F.conv2d(F.pad(w1, (w2.shape[1] - 1,) * 2 + (w2.shape[0] - 1,) * 2)[None, None], w2[None, None])[0, 0]


def test_check_compose_two():
    ch03.check_compose_two(lambda w1, w2: linearity.compose_kernels(w1[None, None], w2[None, None])[0, 0])
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


def test_notebook_solutions_pass_their_checks(capsys):
    cells = _cells()
    namespace = {"torch": torch, "F": F, "ch03": ch03}
    solutions = [c.source for c in cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    checks = [c.source for c in cells if c.cell_type == "code" and c.source.startswith("ch03.check_")]
    assert len(solutions) == len(checks) >= 3
    for source in solutions + checks:
        exec(source, namespace)
    assert capsys.readouterr().out.count("Check passed") == len(checks)


@pytest.mark.slow
def test_chapter_executes_alone_without_error(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    print(f"chapter 3 executed in {seconds:.0f} s")
