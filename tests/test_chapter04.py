"""Claims of chapter 4 (the hierarchy of features), each against a baseline."""
import pytest
import torch

import course_utils as cu
from course_utils import filters, hooks, probes, zoo
from course_utils.checks import CheckFailed, ch04
from course_utils.dataset_examples import dataset_examples


# Tiny tensors: one thread (conftest.py) avoids two threads' coordination cost on 2 busy cores.
pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = ["relu1", "relu2", "relu3", "gap"]


@pytest.fixture(scope="module")
def mnist():
    model, untrained = cu.pretrained("mnist_small", progress=False), zoo.untrained("mnist_small")
    train, test = cu.zoo_data("mnist_small")
    return model, untrained, train, test


def test_receptive_fields_grow_with_depth_and_crops_follow(mnist):
    model, _, _, test = mnist
    fields = cu.receptive_fields(model)
    sizes = [fields[name].size for name in ("conv1", "conv2", "conv3")]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3 and fields["gap"].global_
    for name, size in zip(("conv1", "conv2", "conv3"), sizes):
        crops = dataset_examples(model, test.images[:200], name, 0, k=3).crops
        assert crops.shape[-2:] == (size, size)


def test_probe_accuracy_rises_above_pixels_and_the_untrained_net_at_depth(mnist):
    model, untrained, train, test = mnist
    sub = train.subset(slice(0, 2000))
    trained = probes.probe_by_layer(model, sub.images, sub.labels, test.images, test.labels, LAYERS)
    random = probes.probe_by_layer(untrained, sub.images, sub.labels, test.images, test.labels, LAYERS)
    assert all(trained[name] > trained["pixels"] + 0.3 for name in LAYERS)
    assert trained["relu3"] > trained["relu1"]                       # rises with depth
    assert trained["gap"] > random["gap"] + 0.05                      # the gap opens with depth...
    assert trained["gap"] - random["gap"] > trained["relu1"] - random["relu1"] + 0.03  # ...more than at layer 1
    gap_tr = probes.flatten_features(hooks.record(model, sub.images, "gap")["gap"])
    gap_te = probes.flatten_features(hooks.record(model, test.images, "gap")["gap"])
    assert probes.probe_accuracy(gap_tr, sub.labels, gap_te, test.labels, shuffle_labels=True) < 0.2


def test_similarity_to_pixels_falls_with_depth_faster_than_untrained(mnist):
    model, untrained, _, test = mnist
    images = test.images[:500]
    cka = {}
    for name, net in [("trained", model), ("untrained", untrained)]:
        acts = hooks.record(net, images, LAYERS)
        cka[name] = [cu.linear_cka(images.flatten(1), acts[layer].flatten(1)) for layer in LAYERS]
    assert cka["trained"] == sorted(cka["trained"], reverse=True)
    assert cka["trained"][0] > 0.9 and cka["trained"][-1] < 0.5
    assert all(t < u for t, u in zip(cka["trained"][1:], cka["untrained"][1:]))


def test_photo_trained_first_layer_filters_are_oriented_and_smooth():
    trained = cu.pretrained("photo_deep", progress=False).conv1.weight
    random = zoo.untrained("photo_deep").conv1.weight
    assert filters.fraction_oriented(trained, 0.4) >= filters.fraction_oriented(random, 0.4) + 0.25
    assert filters.low_frequency_energy(trained).mean() > filters.low_frequency_energy(random).mean() + 0.15


def test_orientation_index_on_known_filters():
    gabors = torch.stack([filters.gabor(5, angle, 4, 1.5) for angle in (0, 45, 90, 135)])[:, None]
    assert (filters.orientation_selectivity(gabors) > 0.6).all()
    assert torch.allclose(filters.preferred_orientation(gabors), torch.tensor([0.0, 45.0, 90.0, 135.0]), atol=3.0)
    blob = torch.tensor([[0, -1, 0], [-1, 4.0, -1], [0, -1, 0]])[None, None]
    assert filters.orientation_selectivity(blob)[0] < 0.1
    random = torch.randn(500, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    assert filters.fraction_oriented(random, 0.4) < 0.1
    assert abs(filters.low_frequency_energy(random).mean() - 3.14159 * 0.25**2) < 0.08   # white noise: area share


def test_fc_is_a_linear_read_out_of_the_features(mnist):
    model, untrained, train, test = mnist
    gap = {n: hooks.record(n_model, d.images, "gap")["gap"].flatten(1) for n, n_model, d in
           [("train", model, train), ("test", model, test), ("train_u", untrained, train), ("test_u", untrained, test)]}
    logits = hooks.record(model, test.images, "fc")["fc"]
    assert torch.allclose(gap["test"] @ model.fc.weight.T + model.fc.bias, logits, atol=1e-4)
    network = cu.evaluate(model, test)["accuracy"]
    readout = probes.probe_accuracy(gap["train"], train.labels, gap["test"], test.labels)
    readout_untrained = probes.probe_accuracy(gap["train_u"], train.labels, gap["test_u"], test.labels)
    assert readout > network - 0.03 and readout > readout_untrained + 0.05


def test_exercise_checks_accept_solutions_and_reject_mistakes(mnist):
    model = mnist[0]

    def rf(layers, forget_jump=False):
        size, jump, start, out = 1, 1, 0.0, []
        for k, s, p in layers:
            size += (k - 1) * (1 if forget_jump else jump)
            start += ((k - 1) / 2 - p) * jump
            jump *= s
            out.append((size, jump, start))
        return out

    ch04.check_receptive_field(rf)
    with pytest.raises(CheckFailed, match="wrong on input"):
        ch04.check_receptive_field(lambda layers: rf(layers, forget_jump=True))
    ch04.check_top_images(lambda acts, channel, k: acts[:, channel].flatten(1).max(1).values.argsort(descending=True)[:k])
    with pytest.raises(CheckFailed, match="max, not the mean"):
        ch04.check_top_images(lambda acts, channel, k: acts[:, channel].flatten(1).mean(1).argsort(descending=True)[:k])
    ch04.check_orientation_index(lambda kernel: float(filters.orientation_selectivity(kernel[None, None])[0]))
    ch04.check_readout(lambda features, fc: features @ fc.weight.detach().T + fc.bias.detach(), model)
    with pytest.raises(CheckFailed):
        ch04.check_readout(lambda features, fc: features @ fc.weight.detach().T, model)
