"""Training helpers vs a hand-written loop; AMP + channels-last vs fp32 where a GPU is present.

1. ``course_utils.cnn.training.fit`` against the plainest loop a reader would write, on the same
   model (same initial weights), the same batches in the same order and the same optimizer.
   Both must end with identical weights, so the timing compares the same work. Goal: fit costs
   at most 5 % more CPU time (measured on one thread; see cpu_overhead).
2. On CUDA only: ``fit(amp=True, channels_last=True)`` against ``fit(amp=False,
   channels_last=False)`` on a larger batch. Goal: at least 1.8x faster. Without a GPU the
   figure is recorded as not measured.

Runs alternate between the two variants and the median is taken, because the machine is
shared and its load drifts.
"""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from course_utils.data.loaders import mnist_subset
from course_utils.data.datasets import make_loader
from course_utils.cnn.models import ConvNet
from course_utils.cnn.training import fit, torch_threads

SEED, BATCH, LR, N_IMAGES, EPOCHS, REPEATS = 0, 64, 2e-3, 1024, 1, 7


def _model(seed: int = SEED) -> ConvNet:
    torch.manual_seed(seed)
    return ConvNet()


def hand_loop(model: nn.Module, data, epochs: int = EPOCHS) -> None:
    """The loop from any tutorial: forward, loss, zero_grad, backward, step."""
    loader = make_loader(data, BATCH, shuffle=True, seed=SEED)  # the order fit uses
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)  # fit's default
    model.train()
    for _ in range(epochs):
        for images, labels in loader:
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()


def with_fit(model: nn.Module, data, epochs: int = EPOCHS) -> None:
    fit(model, data, epochs=epochs, lr=LR, batch_size=BATCH, seed=SEED, device="cpu", progress=False)


def _timed(train, data) -> tuple[float, float, nn.Module]:
    """Wall-clock and CPU seconds of one training run from the same initial weights."""
    model = _model()
    wall, cpu = time.perf_counter(), time.process_time()
    train(model, data)
    return time.perf_counter() - wall, time.process_time() - cpu, model


def _compare(data, threads: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of fit and of the hand loop, runs interleaved, on `threads` threads."""
    with torch_threads(threads):
        _timed(hand_loop, data), _timed(with_fit, data)  # warm-up: allocator, kernels, data cache
        runs: dict[str, list[tuple[float, float]]] = {"fit": [], "hand": []}
        for _ in range(REPEATS):
            *times, fitted = _timed(with_fit, data)
            runs["fit"].append(tuple(times))
            *times, hand = _timed(hand_loop, data)
            runs["hand"].append(tuple(times))
    if not all(torch.equal(a, b) for a, b in zip(fitted.state_dict().values(), hand.state_dict().values())):
        raise AssertionError("fit and the hand-written loop ended with different weights: not the same work")
    return {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for name, r in runs.items()}


def cpu_overhead() -> dict:
    """fit's extra CPU time over the hand loop, on one thread.

    CPU time on one thread counts the work each variant does and hardly depends on what else
    the (shared) machine runs; the wall-clock ratio on all threads is given in the note, but
    under load it mostly measures how often the threads were woken for tiny operations.
    """
    data = mnist_subset("train").subset(slice(0, N_IMAGES))
    one = _compare(data, threads=1)
    threads = torch.get_num_threads()
    many = _compare(data, threads=threads)
    fit_cpu, hand_cpu = one["fit"][1], one["hand"][1]
    wall_overhead = 100 * (many["fit"][0] / many["hand"][0] - 1)
    return {"name": "fit vs hand-written loop, CPU-time overhead", "value": 100 * (fit_cpu / hand_cpu - 1),
            "goal": "<= 5", "unit": "%",
            "note": f"1 thread, median of {REPEATS}: fit {fit_cpu:.2f} s, loop {hand_cpu:.2f} s CPU; "
                    f"wall clock on {threads} threads: {wall_overhead:+.1f} % ({many['fit'][0]:.2f} vs {many['hand'][0]:.2f} s); "
                    f"{N_IMAGES} MNIST images, batch {BATCH}, ConvNet small; identical final weights"}


def gpu_speedup() -> dict:
    row = {"name": "AMP + channels-last vs fp32 (fit, GPU)", "goal": ">= 1.8", "unit": "x"}
    if not torch.cuda.is_available():
        return {**row, "value": None, "note": "not measured: no GPU on this machine"}
    data = mnist_subset("train")
    # A wider model and bigger batches: enough arithmetic for tensor cores to matter.
    model_args = dict(config=[64, "M", 128, "M", 256, "G"], kernel_sizes=[5, 3, 3])
    loader = make_loader(data, 512, shuffle=True, seed=SEED, pin_memory=True)

    def timed(amp: bool) -> float:
        torch.manual_seed(SEED)
        model = ConvNet(**model_args)
        torch.cuda.synchronize()
        start = time.perf_counter()
        fit(model, loader, epochs=3, device="cuda", amp=amp, channels_last=amp, progress=False)
        torch.cuda.synchronize()
        return time.perf_counter() - start

    timed(True), timed(False)  # warm-up: cuDNN autotuning, CUDA context
    fast = statistics.median(timed(True) for _ in range(3))
    slow = statistics.median(timed(False) for _ in range(3))
    return {**row, "value": slow / fast, "note": f"{torch.cuda.get_device_name(0)}: fp32 {slow:.2f} s, AMP {fast:.2f} s"}


def run() -> list[dict]:
    return [cpu_overhead(), gpu_speedup()]


if __name__ == "__main__":
    for result in run():
        print(result)
