"""Feature visualization: seconds to render one unit (channel) on a CPU. Goal: <= 1 s.

Uses ``course_utils.interp.featviz.render`` with its defaults (Fourier image, standard transforms,
default number of steps) on the zoo's ``mnist_small`` model, one render per channel of
``conv2``, on one torch thread, as chapter 5a does (its models are so small that a second thread
costs more in coordination than it saves; the note gives the time on all threads too). While the featviz package does not exist yet, the figure is
reported as not available.
"""
from __future__ import annotations

import importlib.util
import statistics
import time

ROW = {"name": "feature visualization, one channel (render, CPU)", "goal": "<= 1", "unit": "s"}
MODEL, LAYER, UNITS = "mnist_small", "conv2", 4


def run() -> list[dict]:
    if importlib.util.find_spec("course_utils.interp.featviz") is None:
        return [{**ROW, "value": None, "note": "not available: course_utils.interp.featviz does not exist yet"}]
    import inspect

    import torch

    from course_utils.cnn import zoo
    from course_utils.interp import featviz

    torch.manual_seed(0)
    model = zoo.pretrained(MODEL, seed=0, progress=False).eval()  # trained once, then cached
    steps = inspect.signature(featviz.render).parameters["steps"].default
    threads = torch.get_num_threads()
    one_thread = _median_seconds(model, 1)
    all_threads = _median_seconds(model, threads)
    return [{**ROW, "value": one_thread,
             "note": f"median of {UNITS} channels of {MODEL}.{LAYER}, {steps} steps each (render's default), one "
                     f"thread as in chapter 5a: {1000 * one_thread / steps:.1f} ms per step; on {threads} threads "
                     f"{all_threads:.2f} s"}]


def _median_seconds(model, threads: int) -> float:
    from course_utils.interp import featviz
    from course_utils.cnn.training import torch_threads

    with torch_threads(threads):
        featviz.render(model, featviz.channel(LAYER, 0), progress=False)  # warm-up
        seconds = []
        for unit in range(UNITS):
            start = time.perf_counter()
            featviz.render(model, featviz.channel(LAYER, unit), progress=False)
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)

if __name__ == "__main__":
    for result in run():
        print(result)
