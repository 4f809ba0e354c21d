"""Claims of chapter 5a (features as directions; understanding features), each against a baseline."""
import pytest
import torch

import course_utils as cu
from course_utils import featviz as fv
from course_utils import filters, hooks, probes
from course_utils.checks import CheckFailed, ch05a
from course_utils.dataset_examples import dataset_examples


# Tiny tensors: one thread (conftest.py) avoids two threads' coordination cost on 2 busy cores.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mnist():
    model = cu.pretrained("mnist_small", progress=False)
    train, test = cu.zoo_data("mnist_small")
    gap = {split: hooks.record(model, d.images, "gap")["gap"].flatten(1) for split, d in [("train", train), ("test", test)]}
    return model, train, test, gap


def test_rotation_keeps_the_probe_but_lowers_neuron_selectivity(mnist):
    _, train, test, gap = mnist
    R = probes.random_rotation(64, seed=0)
    plain = probes.fit_probe(gap["train"], train.labels, standardize=False).predict(gap["test"].numpy())
    turned = probes.fit_probe(gap["train"] @ R, train.labels, standardize=False).predict((gap["test"] @ R).numpy())
    assert (plain == turned).mean() > 0.999
    accuracy = (plain == test.labels.numpy()).mean()
    assert accuracy > 0.9 > 0.2 > probes.probe_accuracy(gap["train"], train.labels, gap["test"], test.labels, shuffle_labels=True)
    neurons = probes.class_selectivity(gap["test"], test.labels).mean()
    rotated = [probes.class_selectivity(gap["test"] @ probes.random_rotation(64, seed=s), test.labels).mean() for s in range(10)]
    assert neurons > max(rotated) + 0.05


def test_a_concept_direction_from_lines_finds_horizontal_strokes_in_digits(mnist):
    model, _, test, gap = mnist
    lines = cu.load_dataset("lines", n=800, size=28, seed=0)
    feats = hooks.record(model, lines.images, "gap")["gap"].flatten(1)
    horizontal = torch.nonzero(lines.labels == 0).flatten()
    others = torch.nonzero(lines.labels != 0).flatten()[: len(horizontal)]
    direction, accuracy = probes.concept_direction(feats[horizontal], feats[others])
    both = torch.cat([horizontal, others])[torch.randperm(2 * len(horizontal), generator=torch.Generator().manual_seed(0))]
    _, shuffled = probes.concept_direction(feats[both[: len(horizontal)]], feats[both[len(horizontal):]])
    assert accuracy > shuffled + 0.25
    share_27 = lambda v: torch.isin(test.labels[(gap["test"] @ v).argsort(descending=True)[:30]], torch.tensor([2, 7])).float().mean()
    random_share = torch.stack([share_27(v) for v in probes.random_directions(20, 64, seed=0)]).mean()
    assert share_27(direction) > 0.6 and share_27(direction) > random_share + 0.3


def test_nmf_directions_beat_single_neurons(mnist):
    model, _, test, _ = mnist
    relu2 = hooks.record(model, test.images[:100], "relu2")["relu2"]
    result = probes.nmf_directions(relu2, k=6)
    samples = relu2.permute(0, 2, 3, 1).reshape(-1, relu2.shape[1])
    energy = (samples**2).sum(0)
    best_neurons = float(energy.topk(6).values.sum() / energy.sum())
    svd = float((torch.linalg.svdvals(samples) ** 2)[:6].sum() / (samples**2).sum())
    assert result.explained > best_neurons + 0.15 and result.explained <= svd + 1e-3


def _angle_gap(a, b):
    """Distance between two orientations in degrees, modulo 180."""
    d = abs(a - b) % 180
    return min(d, 180 - d)


def test_unit_chosen_with_synthetic_lines_detects_horizontal_strokes_in_digits(mnist):
    """The chapter picks the conv2 unit preferring horizontal to vertical generated lines; on
    digits its top crops are horizontal strokes and its bottom crops near-vertical ones."""
    model, _, test, _ = mnist
    lines = cu.load_dataset("lines", n=800, size=28, seed=0)
    response = hooks.record(model, lines.images, "conv2")["conv2"].amax((2, 3))
    preference = response[lines.labels == 0].mean(0) - response[lines.labels == 4].mean(0)
    unit = int(preference.argmax())
    assert preference[unit] > 0
    acts = hooks.record(model, test.images, "conv2")["conv2"]
    top = dataset_examples(model, test.images, "conv2", unit, k=8, acts=acts).crops.mean(0, keepdim=True)
    bottom = dataset_examples(model, test.images, "conv2", unit, k=8, largest=False, acts=acts).crops.mean(0, keepdim=True)
    assert _angle_gap(filters.preferred_orientation(top).item(), 0) < 25
    assert _angle_gap(filters.preferred_orientation(bottom).item(), 90) < 30
    # baseline: a random unit's top crops are not reliably horizontal
    assert filters.orientation_selectivity(top).item() > 0.4


def test_transforms_give_smoother_visualizations(mnist):
    """With transforms, the share of low spatial frequencies rises, for pixel and Fourier images."""
    model = mnist[0]
    conv3_max = hooks.record(model, mnist[2].images, "conv3")["conv3"].mean((2, 3)).max(0).values
    gains = []
    for unit in conv3_max.argsort(descending=True)[:3].tolist():           # the most active channels
        for make in (lambda: fv.PixelImage(1, 1, 28), lambda: fv.FourierImage(1, 1, 28)):
            smooth = [float(filters.low_frequency_energy(
                fv.render(model, fv.channel("conv3", unit), make(), transforms=t, steps=128, progress=False).images)[0])
                for t in ([], None)]
            gains.append(smooth[1] - smooth[0])
    assert min(gains) > 0 and sum(gains) / len(gains) > 0.02


def test_diversity_spreads_a_batch_apart_and_keeps_the_unit_active(mnist):
    model = mnist[0]
    corr = lambda images: (torch.corrcoef(images.flatten(1)).sum() - 4) / 12
    conv3_max = hooks.record(model, mnist[2].images, "conv3")["conv3"].mean((2, 3)).max(0).values
    for unit in conv3_max.argsort(descending=True)[:2].tolist():
        plain = fv.render(model, fv.channel("conv3", unit), fv.FourierImage(4, 1, 28, seed=1), steps=128, progress=False)
        diverse = fv.render(model, fv.channel("conv3", unit) + 10.0 * fv.diversity("relu3"),
                            fv.FourierImage(4, 1, 28, seed=1), steps=128, progress=False)
        activation = fv.objective_values(model, fv.channel("conv3", unit), diverse.images)
        assert corr(diverse.images) < corr(plain.images) - 0.1
        assert activation.median() > conv3_max[unit]                 # still beyond any digit, typically
        assert activation.min() > 0.4 * plain.values.min()


def test_logit_visualizations_exceed_the_data_but_do_not_look_like_digits(mnist):
    model, train, test, _ = mnist
    objective = sum(fv.channel("fc", d, batch=d) for d in range(10))
    result = fv.render(model, objective, fv.FourierImage(10, 1, 28), steps=256, progress=False)
    dataset_max = hooks.record(model, test.images, "fc")["fc"].max(0).values
    assert (result.values / dataset_max).median() > 1.3
    # "looks like a digit": correlation with the class's mean training image, vs real test digits
    means = torch.stack([train.images[train.labels == d].mean(0).flatten() for d in range(10)])
    r_vis = torch.stack([torch.corrcoef(torch.stack([result.images[d].flatten(), means[d]]))[0, 1] for d in range(10)])
    real = torch.stack([test.images[test.labels == d][:20].flatten(1) for d in range(10)])       # 10 x 20 x 784
    r_real = torch.stack([torch.stack([torch.corrcoef(torch.stack([x, means[d]]))[0, 1] for x in real[d]]).mean() for d in range(10)])
    assert r_vis.mean() < r_real.mean() - 0.2


def test_exercise_checks_accept_solutions_and_reject_mistakes():
    ch05a.check_selectivity(probes.class_selectivity)
    with pytest.raises(CheckFailed, match="negative"):       # clamping instead of shifting fails on rotated axes
        ch05a.check_selectivity(lambda features, labels: probes.class_selectivity(features.clamp(min=0), labels))
    ch05a.check_alignment(lambda acts, vector: fv.direction("x", vector)({"x": acts}))
    with pytest.raises(CheckFailed):
        ch05a.check_alignment(lambda acts, vector: fv.direction("x", vector, cosine=False)({"x": acts}))
    ch05a.check_spectrum_scale(fv.param.spectrum_scale)
    with pytest.raises(CheckFailed):
        ch05a.check_spectrum_scale(lambda height, width: fv.param.spectrum_scale(height, width, decay_power=2.0))
