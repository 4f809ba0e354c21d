"""Training helpers that run unchanged on CPU, CUDA (e.g. Colab's T4) and Apple MPS.

``fit`` trains with a progress bar and returns the history as data; on CUDA it turns on
automatic mixed precision and channels-last memory, which is where GPUs get their speed.
"""
from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from course_utils.data.datasets import make_loader


def pick_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else CUDA, then Apple MPS, then CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's global generator (CPU and GPUs) seeded with ``seed`` inside the block, and put
    back as it was after it.

    Layers draw their initial weights and dropout masks from the global generator, so that is
    what a repeatable run must seed. Putting it back means that what a chapter draws *after* a
    model is built or trained does not depend on whether it was (a model the zoo had cached).
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the ``with`` block on ``count`` torch CPU threads, then give back the caller's setting.

    Two uses in the course. Repeatability: several threads split a sum differently from one
    setting to the next, so one seed gives other last digits on 1 and on 2 threads, and training
    amplifies them; training on one thread makes the weights depend only on the seed. Speed: for
    the course's tiny tensors a second thread costs more in coordination than it saves.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class History:
    """Per-epoch records of training: lists indexed by epoch (``val_*`` empty without val data)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    images_per_second: list[float] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(**data)

    def __repr__(self) -> str:
        last = lambda xs: f"{xs[-1]:.3f}" if xs else "-"
        return (f"History(epochs={len(self.loss)}, loss={last(self.loss)}, accuracy={last(self.accuracy)}, "
                f"val_accuracy={last(self.val_accuracy)}, seconds={self.seconds:.1f}, device={self.device!r})")


def _as_loader(data: Dataset | DataLoader, batch_size: int, shuffle: bool, seed: int, device: torch.device) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    # Pinned host memory lets the copy to the GPU overlap with compute (non_blocking below).
    return make_loader(data, batch_size, shuffle, seed, pin_memory=device.type == "cuda")


def fit(
    model: nn.Module,
    train_data: Dataset | DataLoader,
    val_data: Dataset | DataLoader | None = None,
    *,
    epochs: int = 5,
    lr: float = 2e-3,
    weight_decay: float = 0.0,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile: bool = False,
    progress: bool = True,
) -> History:
    """Train ``model`` in place with AdamW and cross-entropy; return the :class:`History`.

    ``train_data`` yields ``(images N x C x H x W, labels N)``. ``augment(images, generator)``
    runs on each training batch. ``amp`` and ``channels_last`` default to on for CUDA only.
    The same ``seed`` on CPU gives identical weights.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    device = pick_device(None if device is None else str(device))
    amp = device.type == "cuda" if amp is None else amp
    channels_last = device.type == "cuda" if channels_last is None else channels_last
    with seeded(seed):  # dropout masks repeat; what the caller draws next does not move
        model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        step_model = torch.compile(model) if compile else model
        loader = _as_loader(train_data, batch_size, True, seed, device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
        aug_generator = torch.Generator().manual_seed(seed + 1)
        history, start = History(device=str(device)), time.perf_counter()
        bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress)
        for _ in bar:
            model.train()
            total_loss, correct, seen, epoch_start = 0.0, 0, 0, time.perf_counter()
            for images, labels in loader:
                if augment is not None:
                    images = augment(images, aug_generator)
                images = _to_device(images, device, channels_last)
                labels = labels.to(device, non_blocking=True)
                with torch.autocast(device.type, enabled=amp):
                    logits = step_model(images)
                    loss = nn.functional.cross_entropy(logits, labels)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                total_loss += loss.item() * len(labels)
                correct += (logits.argmax(1) == labels).sum().item()
                seen += len(labels)
            history.loss.append(total_loss / seen)
            history.accuracy.append(correct / seen)
            history.images_per_second.append(seen / (time.perf_counter() - epoch_start))
            postfix = {"loss": f"{history.loss[-1]:.3f}", "acc": f"{history.accuracy[-1]:.3f}"}
            if val_data is not None:
                val = evaluate(model, val_data, batch_size=256, device=device)
                history.val_loss.append(val["loss"])
                history.val_accuracy.append(val["accuracy"])
                postfix["val_acc"] = f"{val['accuracy']:.3f}"
            bar.set_postfix(postfix)
        history.seconds = time.perf_counter() - start
        model.eval()
        return history


def _to_device(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if channels_last and images.ndim == 4 else images


@torch.no_grad()
def predict(model: nn.Module, data: Dataset | DataLoader, batch_size: int = 256, device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``N x classes`` and labels ``N`` for every example, on the CPU, in order."""
    # By default, run where the model already is.
    device = next(model.parameters()).device if device is None else torch.device(device)
    model.to(device).eval()
    loader = _as_loader(data, batch_size, False, 0, device)
    logits, labels = [], []
    for images, targets in loader:
        logits.append(model(images.to(device)).float().cpu())
        labels.append(targets)
    return torch.cat(logits), torch.cat(labels)


def evaluate(model: nn.Module, data: Dataset | DataLoader, batch_size: int = 256, device: str | torch.device | None = None) -> dict[str, float]:
    """``{"loss": mean cross-entropy, "accuracy": fraction correct}`` over ``data``."""
    logits, labels = predict(model, data, batch_size, device)
    return {
        "loss": nn.functional.cross_entropy(logits, labels).item(),
        "accuracy": (logits.argmax(1) == labels).float().mean().item(),
    }


def confusion_matrix(logits: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """``classes x classes`` counts: row = true label, column = predicted label."""
    num_classes = num_classes or logits.shape[1]
    index = labels * num_classes + logits.argmax(1)
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def save_checkpoint(model: nn.Module, path: str | Path, metadata: dict | None = None) -> Path:
    """Save the weights (and JSON-able ``metadata``) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".tmp{uuid.uuid4().hex}")  # unique whatever the seeds
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "metadata": json.dumps(metadata or {})}, tmp)
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def load_checkpoint(model: nn.Module, path: str | Path) -> dict:
    """Load weights saved by :func:`save_checkpoint` into ``model``; return the metadata.

    Uses ``weights_only=True``: a checkpoint can hold tensors and strings, never code.
    """
    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["state_dict"])
    return json.loads(checkpoint["metadata"])
