"""Inception v1 (GoogLeNet) as the paper defines it (chapter 1), built from its Table 1.

Szegedy et al., "Going deeper with convolutions", CVPR 2015 (arXiv:1409.4842), Table 1 lists
every Inception block by six widths: ``#1x1``, ``#3x3 reduce``, ``#3x3``, ``#5x5 reduce``,
``#5x5`` and ``pool proj``. :data:`BLOCKS` copies those columns and :class:`InceptionV1` builds
the network from them, in the declarative style of torchvision's ``vgg.py``.

Differences from torchvision's ``googlenet`` (which the chapter shows beside it): the paper's
third branch (``branch3``) uses a ``5 x 5`` convolution where torchvision uses ``3 x 3``, and
the paper has no batch norm. Left out here: the two auxiliary classifiers (used only during
training) and local response normalisation after the first two convolutions (it has no
parameters, so the bookkeeping does not change). Build it on the ``meta`` device
(:func:`inception_v1`) to count parameters without memory; nothing downloads.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class BlockWidths(NamedTuple):
    """One row of the paper's Table 1: output channels of each convolution of the block."""

    in_channels: int
    n1x1: int
    n3x3_reduce: int
    n3x3: int
    n5x5_reduce: int
    n5x5: int
    pool_proj: int

    @property
    def out_channels(self) -> int:
        """The four branches are concatenated along the channels."""
        return self.n1x1 + self.n3x3 + self.n5x5 + self.pool_proj


# Table 1 of the paper: in_channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
BLOCKS: dict[str, BlockWidths] = {
    "3a": BlockWidths(192, 64, 96, 128, 16, 32, 32),
    "3b": BlockWidths(256, 128, 128, 192, 32, 96, 64),
    "4a": BlockWidths(480, 192, 96, 208, 16, 48, 64),
    "4b": BlockWidths(512, 160, 112, 224, 24, 64, 64),
    "4c": BlockWidths(512, 128, 128, 256, 24, 64, 64),
    "4d": BlockWidths(512, 112, 144, 288, 32, 64, 64),
    "4e": BlockWidths(528, 256, 160, 320, 32, 128, 128),
    "5a": BlockWidths(832, 256, 160, 320, 32, 128, 128),
    "5b": BlockWidths(832, 384, 192, 384, 48, 128, 128),
}
# The "params" column of Table 1 as printed, in K. Its K counts 1024 weights and leaves biases
# out (conv2 and the linear layer then match exactly); rows conv1, 4c and 5a do not follow
# from the table's own widths (for 4c the table's "ops" column agrees with the widths).
PAPER_PARAMS_K: dict[str, float] = {
    "conv1": 2.7, "conv2": 112, "3a": 159, "3b": 380, "4a": 364, "4b": 437, "4c": 463,
    "4d": 580, "4e": 840, "5a": 1072, "5b": 1388, "linear": 1000,
}


class ConvReLU(nn.Module):
    """A convolution followed by ReLU: every convolution of the paper, reductions included."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1) -> None:
        super().__init__()
        # "same" padding for odd kernels: only the stride changes the size
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              padding=kernel_size // 2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class Inception(nn.Module):
    """Four parallel branches, concatenated: ``N x C_in x H x W -> N x C_out x H x W``.

    1 x 1; 1 x 1 reduce then 3 x 3; 1 x 1 reduce then 5 x 5; 3 x 3 max pool then 1 x 1.
    """

    def __init__(self, widths: BlockWidths) -> None:
        super().__init__()
        c = widths.in_channels
        self.branch1 = ConvReLU(c, widths.n1x1, 1)
        self.branch2 = nn.Sequential(ConvReLU(c, widths.n3x3_reduce, 1),
                                     ConvReLU(widths.n3x3_reduce, widths.n3x3, 3))
        self.branch3 = nn.Sequential(ConvReLU(c, widths.n5x5_reduce, 1),
                                     ConvReLU(widths.n5x5_reduce, widths.n5x5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                     ConvReLU(c, widths.pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1, self.branch2, self.branch3, self.branch4]
        return torch.cat([branch(x) for branch in branches], dim=1)


def _pool() -> nn.MaxPool2d:
    # 3 x 3, stride 2; ceil_mode halves 112 -> 56 -> 28 -> 14 -> 7 as in Table 1
    return nn.MaxPool2d(3, stride=2, ceil_mode=True)


class InceptionV1(nn.Module):
    """GoogLeNet of Table 1: ``N x 3 x 224 x 224 -> N x num_classes`` (no auxiliary heads)."""

    def __init__(self, num_classes: int = 1000, blocks: dict[str, BlockWidths] = BLOCKS) -> None:
        super().__init__()
        self.conv1 = ConvReLU(3, 64, 7, stride=2)
        self.maxpool1 = _pool()
        self.conv2_reduce = ConvReLU(64, 64, 1)
        self.conv2 = ConvReLU(64, 192, 3)
        self.maxpool2 = _pool()
        self.inception3a = Inception(blocks["3a"])
        self.inception3b = Inception(blocks["3b"])
        self.maxpool3 = _pool()
        self.inception4a = Inception(blocks["4a"])
        self.inception4b = Inception(blocks["4b"])
        self.inception4c = Inception(blocks["4c"])
        self.inception4d = Inception(blocks["4d"])
        self.inception4e = Inception(blocks["4e"])
        self.maxpool4 = _pool()
        self.inception5a = Inception(blocks["5a"])
        self.inception5b = Inception(blocks["5b"])
        # the paper's 7 x 7 average pool on a 7 x 7 map: a global average pool
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(blocks["5b"].out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x 3 x 224 x 224
        x = self.conv1(x)         # N x 64 x 112 x 112
        x = self.maxpool1(x)      # N x 64 x 56 x 56
        x = self.conv2_reduce(x)  # N x 64 x 56 x 56
        x = self.conv2(x)         # N x 192 x 56 x 56
        x = self.maxpool2(x)      # N x 192 x 28 x 28
        x = self.inception3a(x)   # N x 256 x 28 x 28
        x = self.inception3b(x)   # N x 480 x 28 x 28
        x = self.maxpool3(x)      # N x 480 x 14 x 14
        x = self.inception4a(x)   # N x 512 x 14 x 14
        x = self.inception4b(x)   # N x 512 x 14 x 14
        x = self.inception4c(x)   # N x 512 x 14 x 14
        x = self.inception4d(x)   # N x 528 x 14 x 14
        x = self.inception4e(x)   # N x 832 x 14 x 14
        x = self.maxpool4(x)      # N x 832 x 7 x 7
        x = self.inception5a(x)   # N x 832 x 7 x 7
        x = self.inception5b(x)   # N x 1024 x 7 x 7
        x = self.avgpool(x)       # N x 1024 x 1 x 1
        x = torch.flatten(x, 1)   # N x 1024
        x = self.dropout(x)       # N x 1024
        return self.fc(x)         # N x num_classes


def inception_v1(num_classes: int = 1000, device: str | torch.device = "meta") -> InceptionV1:
    """The paper's Inception v1 without weights, on the ``meta`` device by default (no memory)."""
    with torch.device(device):
        return InceptionV1(num_classes).eval()


def table_units(module: nn.Module) -> float:
    """Parameters as Table 1 counts them: weights only (no biases), in K of 1024."""
    weights = sum(p.numel() for name, p in module.named_parameters()
                  if not name.endswith("bias"))
    return weights / 1024


def table_rows(model: InceptionV1) -> dict[str, nn.Module]:
    """The modules behind each row of :data:`PAPER_PARAMS_K` (conv2 includes its reduction)."""
    rows: dict[str, nn.Module] = {"conv1": model.conv1,
                                  "conv2": nn.ModuleList([model.conv2_reduce, model.conv2])}
    rows.update({name: getattr(model, f"inception{name}") for name in BLOCKS})
    rows["linear"] = model.fc
    return rows
