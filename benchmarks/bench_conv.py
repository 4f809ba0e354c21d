"""course_utils.conv2d (a strided view of every window, then one matrix product) against F.conv2d.

The goal (<= 1.5) is for the input chapter 2 convolves: the RGB photo with a bank of 3 x 3
kernels. A batch through the small CNN's second layer (chapter 1) is listed for reference: there
the matrix product alone takes longer than PyTorch's whole oneDNN convolution, so no
im2col-and-matmul version reaches 1.5 (measured: about 2x). Both functions run on
one thread and CPU time is compared, which hardly depends on what else the shared machine runs;
the wall-clock ratio on all threads is in the note. A one-channel first layer is listed for
reference: there PyTorch uses a dedicated direct-convolution kernel that a matrix product
cannot match. ``conv2d_loops`` (the formula as Python loops) is timed on a tiny input.
"""
from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from course_utils.conv import conv2d, conv2d_loops
from course_utils.training import torch_threads

REPEATS = 25


def _time(fn, clock) -> float:
    start = clock()
    fn()
    return clock() - start


def _ratio(x: torch.Tensor, weight: torch.Tensor, padding: int, threads: int, clock) -> tuple[float, float, float]:
    """Median time of conv2d and of F.conv2d (calls interleaved) and the median of their ratios."""
    bias = torch.randn(weight.shape[0], generator=torch.Generator().manual_seed(1))
    ours_fn = lambda: conv2d(x, weight, bias, padding=padding)
    torch_fn = lambda: F.conv2d(x, weight, bias, padding=padding)
    if not torch.allclose(ours_fn(), torch_fn(), atol=1e-4, rtol=1e-4):
        raise AssertionError("conv2d and F.conv2d disagree: not the same work")
    with torch_threads(threads):
        for _ in range(3):  # warm-up: allocator, kernels
            ours_fn(), torch_fn()
        ours, theirs = [], []
        for _ in range(REPEATS):
            ours.append(_time(ours_fn, clock))
            theirs.append(_time(torch_fn, clock))
    return statistics.median(ours), statistics.median(theirs), statistics.median(o / t for o, t in zip(ours, theirs))


def ratio_row(label: str, x_shape, w_shape, padding: int, goal) -> dict:
    g = torch.Generator().manual_seed(0)
    x, weight = torch.rand(*x_shape, generator=g), torch.randn(*w_shape, generator=g)
    ours, theirs, ratio = _ratio(x, weight, padding, 1, time.process_time)
    threads = torch.get_num_threads()
    w_ours, w_theirs, w_ratio = _ratio(x, weight, padding, threads, time.perf_counter)
    return {"name": f"conv2d / F.conv2d, {label}", "value": ratio, "goal": goal, "unit": "x",
            "note": f"x {tuple(x_shape)}, weight {tuple(w_shape)}, padding {padding}; 1 thread CPU time, median of "
                    f"{REPEATS}: {ours * 1e3:.2f} vs {theirs * 1e3:.2f} ms; wall clock on {threads} threads: "
                    f"{w_ratio:.2f}x ({w_ours * 1e3:.2f} vs {w_theirs * 1e3:.2f} ms)"}


def loops_row() -> dict:
    g = torch.Generator().manual_seed(0)
    x, weight = torch.rand(1, 2, 8, 8, generator=g), torch.randn(3, 2, 3, 3, generator=g)
    with torch_threads(1):  # a tiny input: on a busy machine, waiting for a second thread dominates
        value = statistics.median(_time(lambda: conv2d_loops(x, weight, padding=1), time.process_time) for _ in range(5))
        reference = statistics.median(_time(lambda: F.conv2d(x, weight, padding=1), time.process_time) for _ in range(200))
    return {"name": "conv2d_loops on a tiny input (reference)", "value": value * 1e3, "goal": None, "unit": "ms",
            "note": f"x (1, 2, 8, 8), weight (3, 2, 3, 3), padding 1; 1 thread CPU time: about "
                    f"{value / max(reference, 1e-7):,.0f}x the time of F.conv2d ({reference * 1e6:.0f} us)"}


def run() -> list[dict]:
    return [
        ratio_row("RGB photo, 8 kernels 3 x 3 (chapter 2)", (1, 3, 256, 256), (8, 3, 3, 3), 1, "<= 1.5"),
        ratio_row("batch of 64 through the small CNN's conv2 (reference)", (64, 16, 14, 14), (32, 16, 3, 3), 1, None),
        ratio_row("one-channel conv1 on 64 digits (reference)", (64, 1, 28, 28), (16, 1, 5, 5), 2, None),
        loops_row(),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
