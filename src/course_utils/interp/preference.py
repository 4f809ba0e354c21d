"""Which family of stimuli drives a unit best: edges, gratings, corners, curves, blobs...
(chapter 4).

A tuning curve (:mod:`course_utils.interp.tuning`) varies one property of one kind of
stimulus. Here the stimuli come in *families* (:func:`course_utils.data.synthetic.
stimulus_families`), each with many orientations, positions and sizes, and every unit of a
layer gets one number per family: its strongest response to the family (the mean of its
``top_k`` best, so one lucky image does not decide), divided by its strongest response to all
families pooled together. The family with the largest share is the unit's *preferred family*,
and a layer is summed up by the fraction of its units that prefer each family.

A unit's response to an image is the largest value anywhere in its map of how much the image
raises the pre-ReLU activation above that of a blank image of the stimuli's mean grey,
rectified: what the pattern adds, wherever it falls, without the unit's bias or the
responses to the image's border that every image shares.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from course_utils.interp.hooks import record, unit_values


def driven_responses(model: nn.Module, images: torch.Tensor, layers: Sequence[str],
                     ground: float = 0.5) -> dict[str, torch.Tensor]:
    """Every unit's response to each image over a blank image of brightness ``ground``:
    ``{layer: N x C}`` from ``images: N x C_in x H x W``; the rectified difference is
    maximised over positions (a linear layer's ``N x F`` is read as it is)."""
    if images.ndim != 4:
        raise ValueError(f"images must be N x C x H x W, got shape {tuple(images.shape)}")
    blank = torch.full_like(images[:1], ground)
    acts = record(model, torch.cat([images, blank]), list(layers))
    return {name: unit_values((a[:-1] - a[-1:]).clamp(min=0), reduce="max")
            for name, a in acts.items()}


def top_k_mean(responses: torch.Tensor, k: int) -> torch.Tensor:
    """The mean of each column's ``k`` largest values: ``N x C -> C``."""
    if responses.ndim != 2:
        raise ValueError(f"responses must be N x C, got shape {tuple(responses.shape)}")
    if not 1 <= k <= len(responses):
        raise ValueError(f"k must be in [1, {len(responses)}] for {len(responses)} stimuli, "
                         f"got {k}")
    return responses.topk(k, dim=0).values.mean(0)


@dataclass
class FamilyPreference:
    """One layer's responses to families of stimuli, and which family each unit prefers.

    ``responses: N x C`` (stimulus x unit), ``family: N`` (each stimulus's index into
    ``families``). Units whose pooled response stays below ``live_fraction`` of the layer's
    strongest unit's are *not live*: they prefer nothing and are not counted.
    """

    layer: str
    families: list[str]
    responses: torch.Tensor
    family: torch.Tensor
    top_k: int = 3
    live_fraction: float = 0.1

    @property
    def best(self) -> torch.Tensor:
        """``F x C``: each unit's top-``k`` mean response to each family."""
        return torch.stack([top_k_mean(self.responses[self.family == f], self.top_k)
                            for f in range(len(self.families))])

    @property
    def pooled(self) -> torch.Tensor:
        """``C``: each unit's top-``k`` mean response to all families pooled."""
        return top_k_mean(self.responses, self.top_k)

    @property
    def normalised(self) -> torch.Tensor:
        """``F x C`` in [0, 1]: :attr:`best` divided by :attr:`pooled` (0 for a silent unit)."""
        pooled = self.pooled
        return torch.where(pooled > 0, self.best / pooled.clamp(min=1e-12), 0.0)

    @property
    def live(self) -> torch.Tensor:
        """``C`` booleans: the units that respond enough to have a preference."""
        pooled = self.pooled
        return (pooled > 0) & (pooled >= self.live_fraction * pooled.max())

    @property
    def preferred(self) -> torch.Tensor:
        """``C``: the index of each unit's preferred family; -1 for a unit that is not live."""
        return torch.where(self.live, self.best.argmax(0), -1)

    @property
    def shares(self) -> torch.Tensor:
        """``F``: the fraction of the live units that prefer each family (sums to 1)."""
        preferred = self.preferred[self.live]
        if len(preferred) == 0:
            raise ValueError(f"no unit of {self.layer} responds to these stimuli")
        counts = torch.bincount(preferred, minlength=len(self.families))
        return counts.float() / len(preferred)

    def among(self, names: Sequence[str]) -> "FamilyPreference":
        """The same units in a contest between ``names`` only (a fair group of families)."""
        unknown = [name for name in names if name not in self.families]
        if unknown:
            raise ValueError(f"unknown families {unknown}; valid names: {self.families}")
        index = [self.families.index(name) for name in names]
        keep = torch.isin(self.family, torch.tensor(index))
        remap = {old: new for new, old in enumerate(index)}
        family = torch.tensor([remap[int(f)] for f in self.family[keep]], dtype=torch.long)
        return FamilyPreference(self.layer, list(names), self.responses[keep], family,
                                self.top_k, self.live_fraction)

    def share(self, name: str) -> float:
        """The fraction of live units that prefer the family ``name``."""
        return float(self.shares[self.families.index(name)])

    def __repr__(self) -> str:
        shares = ", ".join(f"{name} {value:.0%}"
                           for name, value in zip(self.families, self.shares))
        return (f"FamilyPreference({self.layer}, {int(self.live.sum())} of "
                f"{self.responses.shape[1]} units live: {shares})")


def family_preferences(model: nn.Module, stimuli: dict[str, torch.Tensor], layers: Sequence[str],
                       top_k: int = 3, ground: float = 0.5,
                       live_fraction: float = 0.1) -> dict[str, FamilyPreference]:
    """``{layer: FamilyPreference}`` for ``stimuli`` given as ``{family: N_f x 1 x H x W}``."""
    if not stimuli:
        raise ValueError("stimuli must hold at least one family")
    names = list(stimuli)
    images = torch.cat([stimuli[name] for name in names])
    family = torch.cat([torch.full((len(stimuli[name]),), f, dtype=torch.long)
                        for f, name in enumerate(names)])
    responses = driven_responses(model, images, layers, ground)
    return {layer: FamilyPreference(layer, names, responses[layer], family, top_k, live_fraction)
            for layer in layers}
