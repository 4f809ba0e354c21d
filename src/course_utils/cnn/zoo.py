"""The model zoo: trained models by name and seed, trained on first use and cached on disk.

A chapter or a test asks ``pretrained("mnist_small", seed=0)``. The first request trains the
model (seconds on a CPU) and saves it; every later request, from any notebook or test, loads
the file. The cache key includes the whole recipe, so changing a recipe retrains. In Colab (or
with ``COURSE_UTILS_WEIGHTS_URL``) a missing model is first downloaded from the published book,
checksum verified (``course_utils.cnn.published``), so a learner gets the book's own weights.
Cache folder: ``$COURSE_UTILS_CACHE``, else ``~/.cache/course_utils``.
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from course_utils.data.loaders import load_dataset, random_shift
from course_utils.data.datasets import ImageDataset
from course_utils.cnn import published
from course_utils.cnn.models import build_model, ConvNet
from course_utils.cnn.training import History, fit, load_checkpoint, save_checkpoint, seeded, torch_threads


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a trained model, given a seed."""

    model: str                      # a name in models.CONFIGS
    dataset: str                    # a name in data.LOADERS
    dataset_kwargs: dict = field(default_factory=dict)
    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    activation: str = "relu"
    epochs: int = 8
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    max_shift: int = 0              # random-translation augmentation, in pixels
    test_fraction: float = 0.2
    description: str = ""


RECIPES: dict[str, Recipe] = {
    "mnist_small": Recipe("small", "mnist_subset", {"split": "all"}, max_shift=2, epochs=8, lr=5e-3,
                          description="conv5(16)-pool-conv3(32)-pool-conv3(64)-GAP-fc on the 5000-digit MNIST subset"),
    "mnist_lenet": Recipe("lenet", "mnist_subset", {"split": "all"}, max_shift=2, epochs=8,
                          description="LeNet-like conv5(8)-pool-conv5(16)-pool-fc on the 5000-digit MNIST subset"),
    # Chapter 7: Adebayo et al.'s label randomization. The labels are permuted once (seed 0),
    # so nothing links an image to its label; a few epochs keep it cheap (it stays at chance).
    # A small learning rate: at mnist_small's 5e-3 the network fits the label frequencies by
    # switching off every relu2 unit, and a dead network has no map to compare.
    "mnist_small_shuffled": Recipe("small", "mnist_subset", {"split": "all", "shuffle_labels_seed": 0},
                                   epochs=4, lr=1e-3,
                                   description="mnist_small's network trained on the MNIST subset with permuted labels"),
    # Chapter 4: natural-photo patches make first-layer filters oriented; the strong AdamW weight
    # decay wipes out the random initial pattern, so what remains is what the data put there.
    "photo_deep": Recipe("deep", "photo_patches", {"n": 2000, "size": 32, "grayscale": True}, num_classes=18,
                         image_size=32, epochs=16, lr=5e-3, weight_decay=1.0, batch_size=32,
                         description="conv5(16)-pool-conv3(32)-pool-conv3(32)-pool-conv3(64)-GAP-fc: which of 18 photos a grey 32x32 patch is from"),
    # Chapter 3: horizontal vs vertical step edges of either contrast, with and without ReLU.
    **{f"edges_{activation}": Recipe(
        "edge", "edges", {"n": 1200, "size": 24, "n_orientations": 2}, num_classes=2,
        image_size=24, activation=activation, epochs=12, lr=1e-2, batch_size=32,
        test_fraction=0.25, description=f"conv5(8)-avgpool-conv3(16)-GAP-fc, {activation} "
        "after each convolution: horizontal (0) or vertical (1) step edges, 24x24")
       for activation in ("identity", "relu")},
    # Chapter 3: gradient flow through eight narrow convolutions at PyTorch's default
    # initialisation. 1000 digits (800 to train), six short epochs: a few seconds each.
    **{f"mnist_deep8_{name}": Recipe(
        model, "mnist_subset", {"split": "train", "test_fraction": 0.8}, activation=activation,
        epochs=6, lr=5e-3, batch_size=32, description=f"eight conv3(16) with {name}, a max "
        "pool after conv1 and after conv3, GAP, fc, on 1000 MNIST digits")
       for name, model, activation in [("sigmoid", "deep8", "sigmoid"), ("tanh", "deep8", "tanh"),
                                       ("relu", "deep8", "relu"), ("relu_bn", "deep8_bn", "relu")]},
    # Chapter 5b: finding an arc among straight lines needs curve detectors. (Lines vs arcs alone
    # did not: some seeds solved it with line detectors only.)
    "arcs_deep": Recipe("deep", "arcs_among_lines", {"n": 4000}, num_classes=2, image_size=32, max_shift=2,
                        epochs=10, description="conv5(16)-pool-conv3(32)-pool-conv3(32)-pool-conv3(64)-GAP-fc: "
                        "lines only (0) vs an arc among the strokes (1), 32x32"),
}


def cache_dir() -> Path:
    """Where trained models are stored (``$COURSE_UTILS_CACHE`` or ``~/.cache/course_utils``)."""
    return Path(os.environ.get("COURSE_UTILS_CACHE", Path.home() / ".cache" / "course_utils"))


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown zoo model {name!r}; valid names: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def checkpoint_path(name: str, seed: int = 0) -> Path:
    """The cache file for ``name`` and ``seed``; its name changes whenever the recipe does."""
    key = json.dumps(asdict(_recipe(name)), sort_keys=True) + torch.__version__.split("+")[0]
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return cache_dir() / f"{name}-seed{seed}-{digest}.pt"


def zoo_data(name: str) -> tuple[ImageDataset, ImageDataset]:
    """The (train, test) datasets of a zoo model; the split is fixed (seed 0) for every model seed."""
    recipe = _recipe(name)
    return load_dataset(recipe.dataset, **recipe.dataset_kwargs).split(recipe.test_fraction, seed=0)


def untrained(name: str, seed: int = 0) -> ConvNet:
    """A zoo architecture with its random initialisation for ``seed``: the usual baseline."""
    recipe = _recipe(name)
    with seeded(seed):
        model = build_model(recipe.model, recipe.in_channels, recipe.num_classes,
                            recipe.image_size, recipe.activation)
    return model.eval()


def pretrained(name: str, seed: int = 0, progress: bool = True) -> ConvNet:
    """The zoo model ``name`` trained with ``seed``, in eval mode on the CPU (cached on disk)."""
    path = checkpoint_path(name, seed)
    model = untrained(name, seed)
    with _only_one_trainer(path):   # a second process asking meanwhile waits, then loads
        if path.exists() or _download_published(name, seed, path, progress):
            load_checkpoint(model, path)
            return model.eval()
        return _train(model, name, seed, path, progress)


@contextmanager
def _only_one_trainer(path: Path):
    """Hold a lock file next to ``path`` (POSIX); elsewhere, no lock."""
    try:
        import fcntl
    except ImportError:   # Windows: two processes may train the same model; both save it
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _train(model: ConvNet, name: str, seed: int, path: Path, progress: bool) -> ConvNet:
    recipe = _recipe(name)
    train, test = zoo_data(name)
    augment = (lambda x, g: random_shift(x, recipe.max_shift, g)) if recipe.max_shift else None
    if progress:
        # Two short lines: a chapter's printed lines fit the page (at most 88 characters).
        print(f"zoo: training {name!r} (seed {seed}) on first use, then cached in\n  {path.parent}")
    with torch_threads(1):  # the weights then depend only on the recipe and the seed, on any machine
        history = fit(model, train, test, epochs=recipe.epochs, lr=recipe.lr, weight_decay=recipe.weight_decay,
                      batch_size=recipe.batch_size, seed=seed, augment=augment, progress=progress)
    model.cpu()
    save_checkpoint(model, path, {"recipe": asdict(recipe), "seed": seed, "history": history.to_dict()})
    return model.eval()


def _download_published(name: str, seed: int, path: Path, progress: bool) -> bool:
    """Fetch the book's own checkpoint into ``path`` where allowed; False means train it here."""
    url = published.weights_url()
    if url is None:
        return False
    try:
        published.fetch(name, seed, asdict(_recipe(name)), path, url, progress)
    except published.WeightsUnavailable as error:
        print(f"zoo: published weights not used ({error}); training {name!r} here instead")
        return False
    if progress:
        print(f"zoo: {name!r} (seed {seed}) downloaded from the published book, checksum verified")
    return True


def cached_models() -> list[dict]:
    """Every checkpoint in the cache trained with a current recipe: name, seed, recipe, path."""
    found = []
    for name in RECIPES:
        prefix, digest = checkpoint_path(name, 0).name.split("-seed0-")
        for path in sorted(cache_dir().glob(f"{prefix}-seed*-{digest}")):
            seed = path.name[len(prefix) + len("-seed"):].split("-")[0]
            if seed.isdigit():
                found.append({"name": name, "seed": int(seed), "recipe": asdict(RECIPES[name]),
                              "path": path})
    return found


def training_history(name: str, seed: int = 0) -> History:
    """The :class:`History` recorded when the zoo model was trained (trains it if needed)."""
    path = checkpoint_path(name, seed)
    if not path.exists():
        pretrained(name, seed)
    meta = torch.load(path, map_location="cpu", weights_only=True)["metadata"]
    return History.from_dict(json.loads(meta)["history"])
