"""Small CNNs built from declarative configs, in the style of torchvision's ``vgg.py``.

A config is a list read left to right: an int ``c`` is a ``k x k`` convolution to ``c``
channels followed by the nonlinearity, ``"M"`` a 2 x 2 max pool, ``"A"`` a 2 x 2 average pool,
``"G"`` global average pooling. A fully connected classifier follows. Layers get readable
names (``conv1``, ``relu1``, ``pool1``, ..., ``gap``, ``fc``) that double as hook names.
As in torchvision (``vgg11`` and ``vgg11_bn``), every config also comes with batch
normalisation: the name with the suffix ``"_bn"`` puts a ``bn1``, ``bn2``, ... between each
convolution and its nonlinearity.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence, Union

import torch
from torch import nn

ConfigItem = Union[int, str]

# name -> (layers, kernel sizes of the convolutions in order)
CONFIGS: dict[str, tuple[list[ConfigItem], list[int]]] = {
    # 28x28 -> 16@28 -> 16@14 -> 32@14 -> 32@7 -> 64@7 -> GAP 64 -> 10
    "small": ([16, "M", 32, "M", 64, "G"], [5, 3, 3]),
    # LeNet-like: 28x28 -> 8@28 -> 8@14 -> 16@14 -> 16@7 -> flatten 784 -> 10
    "lenet": ([8, "M", 16, "M"], [5, 5]),
    # deeper, for 32x32 synthetic and photo tasks: 32 -> 16 -> 8 -> 4 -> GAP
    "deep": ([16, "M", 32, "M", 32, "M", 64, "G"], [5, 3, 3, 3]),
    # chapter 3's edge task, 24x24 -> 8@24 -> 8@12 -> 16@12 -> GAP 16 -> 2. Average pooling, not
    # max pooling: with activation="identity" the whole network is then affine.
    "edge": ([8, "A", 16, "G"], [5, 3]),
    # chapter 3's gradient flow: eight narrow 3x3 convolutions on 28x28 digits,
    # conv1 16@28 -> pool 16@14 -> conv2-3 16@14 -> pool 16@7 -> conv4-8 16@7 -> GAP 16 -> 10
    "deep8": ([16, "M", 16, 16, "M", 16, 16, 16, 16, 16, "G"], [3] * 8),
}
BATCH_NORM_SUFFIX = "_bn"   # "deep8_bn": the config "deep8" with batch normalisation

ACTIVATIONS = {
    "relu": nn.ReLU, "identity": nn.Identity, "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
}


class ConvNet(nn.Sequential):
    """A VGG-style CNN: ``features`` layers from a config, then one fully connected layer.

    Input ``N x in_channels x H x W``; output logits ``N x num_classes``. Being an
    ``nn.Sequential`` of named layers, ``dict(model.named_children())`` lists the hook names.
    """

    def __init__(
        self,
        config: Sequence[ConfigItem] = CONFIGS["small"][0],
        kernel_sizes: Sequence[int] = CONFIGS["small"][1],
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
        activation: str = "relu",
        batch_norm: bool = False,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        n_convs = sum(isinstance(item, int) for item in config)
        if len(kernel_sizes) != n_convs:
            raise ValueError(f"config has {n_convs} convolutions but {len(kernel_sizes)} kernel sizes were given")
        layers, channels, size = _build_features(config, kernel_sizes, in_channels, image_size, activation,
                                                 batch_norm)
        layers["flatten"] = nn.Flatten()
        layers["fc"] = nn.Linear(channels * size * size, num_classes)
        super().__init__(layers)
        self.config, self.kernel_sizes = list(config), list(kernel_sizes)
        self.in_channels, self.image_size, self.activation = in_channels, image_size, activation
        self.batch_norm = batch_norm

    @property
    def layer_names(self) -> list[str]:
        """Names of the layers in order: the names hooks and the zoo use."""
        return [name for name, _ in self.named_children()]


def _build_features(config, kernel_sizes, in_channels, image_size, activation, batch_norm=False):
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels, size, conv_i, pool_i = in_channels, image_size, 0, 0
    for item in config:
        if isinstance(item, int):
            k = kernel_sizes[conv_i]
            conv_i += 1
            # "same" padding keeps the spatial size, so only pooling shrinks the map.
            layers[f"conv{conv_i}"] = nn.Conv2d(channels, item, k, padding=k // 2)
            if batch_norm:   # normalise each channel before the nonlinearity, as torchvision does
                layers[f"bn{conv_i}"] = nn.BatchNorm2d(item)
            layers[f"{activation if activation != 'identity' else 'act'}{conv_i}"] = ACTIVATIONS[activation]()
            channels = item
        elif item in ("M", "A"):
            pool_i += 1
            layers[f"pool{pool_i}"] = nn.MaxPool2d(2) if item == "M" else nn.AvgPool2d(2)
            size //= 2
        elif item == "G":
            layers["gap"] = nn.AdaptiveAvgPool2d(1)
            size = 1
        else:
            raise ValueError(f"unknown config item {item!r}; expected an int, 'M', 'A' or 'G'")
    return layers, channels, size


def build_model(name: str = "small", in_channels: int = 1, num_classes: int = 10, image_size: int = 28, activation: str = "relu") -> ConvNet:
    """A :class:`ConvNet` from a named config in ``CONFIGS``; ``name + "_bn"`` adds batch norm."""
    base = name.removesuffix(BATCH_NORM_SUFFIX)
    if base not in CONFIGS:
        raise ValueError(f"unknown model config {name!r}; valid: {', '.join(CONFIGS)}, "
                         f"each also with the suffix {BATCH_NORM_SUFFIX!r}")
    config, kernels = CONFIGS[base]
    return ConvNet(config, kernels, in_channels, num_classes, image_size, activation,
                   batch_norm=base != name)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
