"""course_utils.conv2d (a strided view of every window, then one matrix product) against F.conv2d.

Two goals (<= 1.5): the input chapter 2 convolves (the RGB photo with a bank of 3 x 3 kernels),
compared on one thread by CPU time, which hardly depends on what else the shared machine runs;
and a batch of 64 through the small CNN's second layer (chapter 1), compared by wall clock on
the machine's threads, calls interleaved. For that batch the row's note also times the two
steps of ``conv2d`` alone, as shares of F.conv2d's time: laying the windows out as columns (the
im2col copy) and the matrix product. Their sum is the floor of any im2col-and-matmul
convolution; PyTorch's oneDNN kernel convolves in a blocked layout without that copy. Other
layouts measured against F.conv2d on this batch (2026-12-02, 2 threads): windows over padded
rows 2.04x, F.unfold 3.33x, one matrix product over the whole batch 2.70x, a sum of 9 shifted
1 x 1 convolutions (no copy: baddbmm on views, or addmm on channels-last rows) 4.45x and 1.99x,
windows along the width only with 3 matrix products 2.11x; the goal stays missed. A
one-channel first layer is listed for reference (PyTorch uses a dedicated direct-convolution
kernel there). ``conv2d_loops`` (the formula as Python loops) is timed on a tiny input.
"""
from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from course_utils.cnn.conv import conv2d, conv2d_loops, sliding_windows
from course_utils.cnn.training import torch_threads

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


def ratio_row(label: str, x_shape, w_shape, padding: int, goal, wall_clock: bool = False) -> dict:
    """The goal is judged on one thread's CPU time, or with ``wall_clock`` on all threads."""
    g = torch.Generator().manual_seed(0)
    x, weight = torch.rand(*x_shape, generator=g), torch.randn(*w_shape, generator=g)
    ours, theirs, ratio = _ratio(x, weight, padding, 1, time.process_time)
    threads = torch.get_num_threads()
    w_ours, w_theirs, w_ratio = _ratio(x, weight, padding, threads, time.perf_counter)
    note = (f"x {tuple(x_shape)}, weight {tuple(w_shape)}, padding {padding}; 1 thread CPU time, "
            f"median of {REPEATS}: {ratio:.2f}x ({ours * 1e3:.2f} vs {theirs * 1e3:.2f} ms); wall "
            f"clock on {threads} threads: {w_ratio:.2f}x ({w_ours * 1e3:.2f} vs {w_theirs * 1e3:.2f} ms)")
    if wall_clock:
        copy, product = _steps(x, weight, padding)
        note += (f"; alone, the im2col copy takes {copy / w_theirs:.2f}x and the matrix product "
                 f"{product / w_theirs:.2f}x F.conv2d's time")
    return {"name": f"conv2d / F.conv2d, {label}", "value": w_ratio if wall_clock else ratio,
            "goal": goal, "unit": "x", "note": note}


def _steps(x: torch.Tensor, weight: torch.Tensor, padding: int) -> tuple[float, float]:
    """Median wall-clock seconds of conv2d's two steps: the column copy, the matrix product."""
    windows = sliding_windows(F.pad(x, (padding,) * 4), tuple(weight.shape[2:]))
    n, c_in, h_out, w_out, kh, kw = windows.shape
    layout = lambda: windows.permute(0, 1, 4, 5, 2, 3).reshape(n, c_in * kh * kw, h_out * w_out)
    columns, rows = layout(), weight.reshape(weight.shape[0], -1)
    for _ in range(3):
        layout(), rows @ columns
    copy = statistics.median(_time(layout, time.perf_counter) for _ in range(REPEATS))
    product = statistics.median(_time(lambda: rows @ columns, time.perf_counter) for _ in range(REPEATS))
    return copy, product


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
        ratio_row("batch of 64 through the small CNN's conv2 (wall clock)", (64, 16, 14, 14),
                  (32, 16, 3, 3), 1, "<= 1.5", wall_clock=True),
        ratio_row("one-channel conv1 on 64 digits (reference)", (64, 1, 28, 28), (16, 1, 5, 5), 2, None),
        loops_row(),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
