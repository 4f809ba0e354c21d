"""Where training runs: the GPU path (mixed precision, channels-last) and the CPU path.

The real GPU test is marked ``gpu`` and skipped without one; the CPU path is checked here on
every machine. (Every chapter runs from a Colab-like start in the tests' book build:
tools/sitetools/colab_like.py, tests/browser/test_colab_start.py.)
"""
from __future__ import annotations

import functools
import math

import pytest
import torch

from course_utils.cnn import training


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training.pick_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert training.pick_device() == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert training.pick_device() == torch.device("cpu")
    assert training.pick_device("cpu") == torch.device("cpu")


def _tiny_data(n: int = 16):
    from course_utils.data.datasets import ImageDataset

    g = torch.Generator().manual_seed(0)
    return ImageDataset(torch.rand(n, 1, 12, 12, generator=g), torch.randint(0, 2, (n,), generator=g), ["a", "b"])


def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(4, 2))


def _pretend(monkeypatch, module, name: str, answer) -> None:
    """``module.name()`` returns ``answer``; wrapped, because torch._dynamo reads __wrapped__."""
    real = getattr(module, name)
    monkeypatch.setattr(module, name, functools.wraps(real)(lambda *args, **kwargs: answer))


def _record_autocast(monkeypatch) -> list[tuple[str, bool]]:
    """Every torch.autocast(device, enabled=...) that fit opens, still done for real."""
    calls, real = [], torch.autocast

    @functools.wraps(real)   # torch._dynamo, imported later, reads __wrapped__
    def autocast(device_type, *args, enabled=True, **kwargs):
        calls.append((device_type, enabled))
        return real(device_type, *args, enabled=enabled, **kwargs)

    monkeypatch.setattr(torch, "autocast", autocast)
    return calls


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_a_gpu_uses_amp_channels_last_and_learns(monkeypatch):
    """A real run on a GPU (Colab's T4, a lent machine): mixed precision, loss scaling,
    channels-last weights, and a loss that goes down."""
    autocasts, scalers = _record_autocast(monkeypatch), []
    real_scaler = torch.amp.GradScaler
    monkeypatch.setattr(torch.amp, "GradScaler", lambda device, enabled=True: (
        scalers.append((device, enabled)) or real_scaler(device, enabled=enabled)))
    model = _tiny_model()
    history = training.fit(model, _tiny_data(64), epochs=8, batch_size=16, lr=1e-2, progress=False)
    assert history.device == "cuda" and next(model.parameters()).is_cuda
    assert autocasts and set(autocasts) == {("cuda", True)} and scalers == [("cuda", True)]
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert all(math.isfinite(x) for x in history.loss) and history.loss[-1] < history.loss[0]


def test_fit_on_cpu_keeps_full_precision_and_the_default_layout(monkeypatch):
    _pretend(monkeypatch, torch.cuda, "is_available", False)
    _pretend(monkeypatch, torch.backends.mps, "is_available", False)
    autocasts = _record_autocast(monkeypatch)
    model = _tiny_model()
    history = training.fit(model, _tiny_data(), epochs=1, batch_size=8, progress=False)
    assert history.device == "cpu" and autocasts == [("cpu", False)] * 2
    assert model[0].weight.is_contiguous()  # not channels-last
