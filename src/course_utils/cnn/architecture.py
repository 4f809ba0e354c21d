"""Shape and parameter bookkeeping for any CNN (chapter 1), and a diagram drawn from it.

:func:`summary` runs one forward pass and lists, layer by layer, the output shape, the number of
parameters and the receptive field (how many input pixels one output unit can see). It works for
the course's small CNN and for torchvision's VGG-16 and GoogLeNet, which
:func:`torchvision_model` builds on PyTorch's ``meta`` device: shapes and parameter counts
without allocating memory or downloading weights.

The receptive field of each layer follows the one rule of :mod:`course_utils.cnn.receptive_field`
(``next_field``: a layer with kernel ``k``, stride ``s`` and dilation ``d`` turns the side ``r``
and the jump ``j`` into ``r + (k - 1) * d * j`` and ``j * s``), carried along the forward pass
by hooks, so parallel branches and functional calls between modules are handled. When branches
run in parallel (GoogLeNet's Inception blocks) a block reports its widest branch.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Polygon, Rectangle
from torch import nn

from course_utils.cnn.receptive_field import PIXEL, ReceptiveField, next_field

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


# --- closed forms ------------------------------------------------------------------------

def conv_parameters(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> int:
    """Parameters of ``nn.Conv2d``: one ``k x k x C_in`` kernel per output channel, plus a bias each."""
    return out_channels * in_channels * kernel_size * kernel_size + (out_channels if bias else 0)


def linear_parameters(in_features: int, out_features: int, bias: bool = True) -> int:
    """Parameters of ``nn.Linear``: a weight from every input to every output, plus a bias each."""
    return out_features * in_features + (out_features if bias else 0)


# --- receptive fields --------------------------------------------------------------------

def _widest(fields: list[ReceptiveField | None]) -> ReceptiveField | None:
    known = [f for f in fields if f is not None]
    return max(known, key=lambda f: (f.global_, f.size, f.jump)) if known else None


# --- the table ---------------------------------------------------------------------------

@dataclass
class LayerRow:
    """One row of a :class:`LayerTable`."""

    name: str
    kind: str                                   # the module's class name
    output_shape: tuple[int, ...] | None        # without the batch dimension; None if not run
    parameters: int
    field: ReceptiveField | None              # None: not run, or a layer with no rule


class LayerTable(list):
    """A list of :class:`LayerRow` that prints as a table; ``total_parameters`` counts them all."""

    def __init__(self, rows: list[LayerRow], total_parameters: int, title: str = "") -> None:
        super().__init__(rows)
        self.total_parameters, self.title = total_parameters, title

    def row(self, name: str) -> LayerRow:
        """The row of layer ``name``; an unknown name lists the valid ones."""
        for r in self:
            if r.name == name:
                return r
        raise KeyError(f"no layer {name!r}; layers: {', '.join(r.name for r in self)}")

    def without(self, *kinds: str) -> "LayerTable":
        """The same table without rows of the given types (e.g. ``"ReLU", "Dropout"``); same total."""
        return LayerTable([r for r in self if r.kind not in kinds], self.total_parameters, self.title)

    def _cells(self) -> list[tuple[str, ...]]:
        cells = []
        for r in self:
            shape = " x ".join(map(str, r.output_shape)) if r.output_shape else "-"
            cells.append((r.name, r.kind, shape, f"{r.parameters:,}", str(r.field) if r.field else "-"))
        cells.append(("total", "", "", f"{self.total_parameters:,}", ""))
        return cells

    _HEADER = ("layer", "type", "output shape (C x H x W)", "parameters", "receptive field")

    def __str__(self) -> str:
        cells = [self._HEADER] + self._cells()
        widths = [max(len(row[i]) for row in cells) for i in range(len(self._HEADER))]
        lines = ["  ".join(c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
        lines.insert(1, "-" * len(lines[0]))
        return (self.title + "\n" if self.title else "") + "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in self._HEADER)
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in self._cells())
        caption = f"<caption>{self.title}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        return str(self)


def units(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The layers a table lists: containers (``nn.Sequential``, ...) are opened, any other module
    with children (a GoogLeNet ``Inception`` block, ``BasicConv2d``) stays one row."""
    found = []
    for name, child in model.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, _CONTAINERS):
            found += units(child, prefix=f"{full}.")
        else:
            found.append((full, child))
    return found


def summary(model: nn.Module, input_shape: tuple[int, int, int], title: str = "") -> LayerTable:
    """Layer-by-layer output shape, parameters and receptive field of ``model``.

    ``input_shape`` is ``(C, H, W)``. Runs one forward pass, in eval mode, on zeros on the model's
    device (the ``meta`` device works and costs nothing). Receptive fields are followed through
    the forward pass with hooks on every module, so parallel branches and functional calls between
    modules (``torch.flatten``, ``torch.cat``) are handled.
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
    tracker = _FieldTracker(model, image_size=input_shape[-1])
    rows_of = {id(m): name for name, m in units(model)}
    seen: dict[str, LayerRow] = {}

    def record(module, output, field):
        if id(module) in rows_of:
            out = output[0] if isinstance(output, (tuple, list)) else output
            shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else None
            seen[rows_of[id(module)]] = LayerRow(rows_of[id(module)], type(module).__name__, shape, 0, field)

    tracker.on_output = record
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), tracker:
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
    rows = []
    for name, module in units(model):
        row = seen.get(name, LayerRow(name, type(module).__name__, None, 0, None))
        row.parameters = sum(p.numel() for p in module.parameters())
        rows.append(row)
    total = sum(p.numel() for p in model.parameters())
    return LayerTable(rows, total, title)


class _FieldTracker:
    """Forward hooks that carry a receptive field along with every tensor a module returns."""

    def __init__(self, model: nn.Module, image_size: int) -> None:
        self.model, self.image_size, self.on_output = model, image_size, None
        self.names = {id(module): name for name, module in model.named_modules()}
        self.fields: dict[int, ReceptiveField | None] = {}
        self.keep: list[torch.Tensor] = []  # keeps tensors alive so their ids stay unique
        self.log: list[ReceptiveField | None] = []
        self.starts: list[int] = []
        self.handles = []

    def __enter__(self):
        for module in self.model.modules():
            if module is self.model:
                continue
            self.handles.append(module.register_forward_pre_hook(self._pre))
            self.handles.append(module.register_forward_hook(self._post))
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()

    def _pre(self, module, inputs):
        self.starts.append(len(self.log))

    def _post(self, module, inputs, output):
        start = self.starts.pop()
        out = output[0] if isinstance(output, (tuple, list)) else output
        if len(list(module.children())) == 0:
            x = inputs[0] if inputs else None
            # A tensor made by a functional call (torch.flatten, torch.cat) has no record:
            # it comes from the latest module output.
            before = self.fields.get(id(x), self.log[-1] if self.log else PIXEL)
            field = self._step(module, before, x, out)
        else:  # a block: its output is as wide as the widest thing computed inside it
            field = _widest(self.log[start:])
        for tensor in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(tensor, torch.Tensor):
                self.fields[id(tensor)] = field
                self.keep.append(tensor)
        self.log.append(field)
        if self.on_output is not None:
            self.on_output(module, output, field)

    def _step(self, module, before, x, out) -> ReceptiveField | None:
        """receptive_field.next_field; None from a layer with no rule on (the table says "-")."""
        if before is None or not isinstance(x, torch.Tensor) or not isinstance(out, torch.Tensor):
            return None
        try:
            return next_field(before, module, self.names.get(id(module), ""), x.shape[-1],
                              out.shape[-1], self.image_size)
        except ValueError:
            return None


def torchvision_model(name: str) -> nn.Module:
    """torchvision's ``"vgg16"`` or ``"googlenet"`` with no weights (nothing downloads), built on
    the ``meta`` device: right shapes and parameter counts, no memory, no computation.

    GoogLeNet is built without its two auxiliary classifiers (used only during training).
    """
    import torchvision

    builders = {
        "vgg16": lambda: torchvision.models.vgg16(weights=None, init_weights=False),
        "googlenet": lambda: torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False),
    }
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(builders)}")
    with torch.device("meta"):
        return builders[name]().eval()


# --- the diagram -------------------------------------------------------------------------

_COLOURS = {"conv": "#7fa7d9", "pool": "#e57373", "fc": "#81c784"}


def _stages(table: LayerTable) -> list[dict]:
    """Group the table into drawable stages: runs of convolutions with one output shape, pools, linears."""
    stages: list[dict] = []
    for row in table:
        kind = ("conv" if row.kind == "Conv2d" else "pool" if "Pool" in row.kind
                else "fc" if row.kind == "Linear" else None)
        if kind is None or row.output_shape is None:
            continue
        last = stages[-1] if stages else None
        if last and kind == "pool" and last["shape"] == row.output_shape:
            continue  # a pool that changes nothing (VGG's adaptive pool on a 7 x 7 map)
        if last and kind == "conv" and last["kind"] == "conv" and last["shape"] == row.output_shape:
            last["count"] += 1
        else:
            stages.append({"kind": kind, "shape": row.output_shape, "count": 1})
    return stages


def plot_architecture(table: LayerTable, title: str = "", input_shape: tuple[int, int, int] | None = None):
    """Draw a network as a row of boxes, one per stage: height follows the spatial size, depth the
    channels (log scale); blue = convolution + ReLU, red = pooling, green = fully connected.

    Works from a :class:`LayerTable` (e.g. ``summary(torchvision_model("vgg16"), (3, 224, 224))``).
    Returns the figure.
    """
    stages = _stages(table)
    if not stages:
        raise ValueError("the table has no Conv2d, pooling or Linear rows to draw")
    biggest = max(s["shape"][-1] for s in stages if len(s["shape"]) == 3)
    # at most 7.5 inches: wider, the page would scale it down and its labels below 8 pt
    fig, ax = plt.subplots(figsize=(min(7.5, 0.55 * len(stages) + 1.5), 3.2), dpi=80)
    x = 0.0
    for stage in stages:
        shape, colour = stage["shape"], _COLOURS[stage["kind"]]
        if len(shape) == 3:
            channels, side = shape[0], shape[-1]
            height = 0.6 + 2.4 * side / biggest
            depth = 0.12 * max(1.0, torch.log2(torch.tensor(float(channels))).item())
            label = f"{side}x{side}x{channels}"
        else:  # a linear layer: a thin tall bar whose height follows its width
            channels, height, depth = shape[0], 0.6 + 2.4 * min(1.0, shape[0] / 4096), 0.12
            label = f"{channels}"
        _box(ax, x, height, depth, colour)
        name = {"conv": f"conv x{stage['count']}" if stage["count"] > 1 else "conv", "pool": "pool", "fc": "fc"}[stage["kind"]]
        ax.text(x + depth / 2, -0.15, f"{name}\n{label}", ha="center", va="top", fontsize=8, rotation=90)
        x += depth + (0.6 if stage["kind"] == "fc" else 0.25)  # thin fc bars: room for labels
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in _COLOURS.values()]
    ax.legend(handles, ["convolution + ReLU", "pooling", "fully connected"], loc="upper center", ncol=3,
              fontsize=8, frameon=False)
    ax.set_xlim(-0.3, x + 0.5)
    ax.set_ylim(-1.7, 4.0)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _box(ax, x: float, height: float, depth: float, colour: str) -> None:
    """A box seen slightly from above: a front face and a lighter top face."""
    skew = 0.15
    ax.add_patch(Rectangle((x, 0), depth, height, facecolor=colour, edgecolor="black", linewidth=0.5))
    ax.add_patch(Polygon([(x, height), (x + skew, height + skew), (x + depth + skew, height + skew), (x + depth, height)],
                         facecolor=colour, alpha=0.6, edgecolor="black", linewidth=0.5))
    ax.add_patch(Polygon([(x + depth, 0), (x + depth + skew, skew), (x + depth + skew, height + skew), (x + depth, height)],
                         facecolor=colour, alpha=0.8, edgecolor="black", linewidth=0.5))
