"""Time per slider step of the chapter 2 widgets: set a control, get the new picture.

A step is what happens when a reader moves a slider: the observer computes the new numbers,
moves the changed artists, redraws them over a cached background and encodes a PNG. The value
is the median CPU time of one step (robust to other work on the shared machine); the median
wall-clock time is in the note. Goal: 30 ms, fast enough to feel live.
"""
from __future__ import annotations

import statistics
import time

import torch

from course_utils.data import loaders, photos
from course_utils.teaching import widgets
from course_utils.cnn.conv import KERNELS, kernel
from course_utils.cnn.training import torch_threads

STEPS = 40


def _steps(setters) -> tuple[float, float]:
    cpu, wall = [], []
    for setter in setters:
        c, w = time.process_time(), time.perf_counter()
        setter()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu) * 1e3, statistics.median(wall) * 1e3


def _row(name: str, setters, setting: str, steps_per_setter: int = 1) -> dict:
    cpu, wall = (t / steps_per_setter for t in _steps(setters))
    return {"name": name, "value": cpu, "goal": "<= 30", "unit": "ms",
            "note": f"{setting}; median of {len(setters)} steps, CPU time; wall clock {wall:.1f} ms"}


def sliding_grey() -> dict:
    digit = loaders.mnist_subset("test").images[0, 0]
    view = widgets.SlidingKernel(digit, kernel("sobel_x"), bias=0.1)
    positions = [(i % 26, (7 * i) % 26) for i in range(1, STEPS + 1)]
    setters = [lambda p=p: (setattr(view.row, "value", p[0]), setattr(view.col, "value", p[1])) for p in positions]
    # two controls move per setter: report one slider step
    row = _row("SlidingKernel slider step, grey 28 x 28 digit, numbers shown", setters, "28 x 28 digit, 3 x 3 kernel",
               steps_per_setter=2)
    row["note"] = row["note"].replace("steps", "position changes (2 slider steps each; times per step)")
    return row


def sliding_rgb() -> dict:
    image = photos.photo("astronaut", size=20)[:, :, 2:18]
    view = widgets.SlidingKernel(image, torch.randn(3, 3, 3, generator=torch.Generator().manual_seed(0)))
    setters = [lambda i=i: setattr(view.col, "value", i % 14) for i in range(1, STEPS + 1)]
    return _row("SlidingKernel slider step, RGB 20 x 16 photo", setters, "3 channels, 3 x 3 x 3 kernel")


def playground() -> dict:
    pg = widgets.KernelPlayground(photos.photo("camera", grayscale=True, size=160))
    names = list(KERNELS)
    setters = [lambda i=i: setattr(pg.preset, "value", names[i % len(names)]) for i in range(1, STEPS + 1)]
    return _row("KernelPlayground preset change, 160 x 160 photo", setters, "conv2d of the photo + redraw")


def run() -> list[dict]:
    with torch_threads(1):
        return [sliding_grey(), sliding_rgb(), playground()]


if __name__ == "__main__":
    for row in run():
        print(row)
