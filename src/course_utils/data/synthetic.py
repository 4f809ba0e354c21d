"""Procedurally generated images with known parameters: the ground truth for experiments.

Every generator returns an :class:`~course_utils.data.datasets.ImageDataset` with images
``n x 1 x size x size`` in [0, 1] (bright strokes on black), labels, and ``params`` holding the
exact parameters of each image (angles in radians, positions in pixels). Same seed, same images.
Strokes are drawn from distance fields, so they are anti-aliased at every angle.

The single stimuli of tuning curves and checks are here too: centred arcs and segments
(:func:`curve_images`, over :func:`angle_grid`) and Gabor patches (:func:`gabor`).
Chapter 4's contests between kinds of pattern draw whole families of stimuli (edges, gratings,
textures, lines, corners, curves, blobs, shapes) at one contrast: :func:`stimulus_families`.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from course_utils.data.datasets import ImageDataset


def _check(n: int, size: int, min_size: int = 8) -> None:
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if size < min_size:
        raise ValueError(f"size must be at least {min_size} pixels, got {size}")


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(y, x)``, each ``size x size``."""
    coords = torch.arange(size, dtype=torch.float32)
    return torch.meshgrid(coords, coords, indexing="ij")


def _stroke(distance: torch.Tensor, width: float) -> torch.Tensor:
    """Ink from a distance field: 1 inside the stroke, a one-pixel soft edge, 0 outside."""
    return (width / 2 + 0.5 - distance).clamp(0, 1)


def segment_distance(y, x, cy, cx, angle, length):
    """Distance from each pixel to a segment centred at (cy, cx) with direction ``angle``."""
    dy, dx = -math.sin(angle), math.cos(angle)  # y points down in images
    along = ((y - cy) * dy + (x - cx) * dx).clamp(-length / 2, length / 2)
    return torch.hypot(y - (cy + along * dy), x - (cx + along * dx))


def arc_distance(y, x, cy, cx, angle, radius, length):
    """Distance to a circular arc through (cy, cx), tangent to ``angle`` there, of arc ``length``."""
    # The circle's centre sits one radius away from the point, perpendicular to the tangent.
    oy, ox = cy - radius * math.cos(angle), cx - radius * math.sin(angle)
    theta0 = math.atan2(cy - oy, cx - ox)
    half = length / (2 * radius)
    theta = torch.atan2(y - oy, x - ox)
    delta = torch.remainder(theta - theta0 + math.pi, 2 * math.pi) - math.pi
    on_arc = delta.abs() <= half
    ring = ((y - oy) ** 2 + (x - ox) ** 2).sqrt().sub(radius).abs()
    ends = [(oy + radius * math.sin(theta0 + s * half), ox + radius * math.cos(theta0 + s * half)) for s in (-1, 1)]
    to_ends = torch.minimum(*[torch.hypot(y - ey, x - ex) for ey, ex in ends])
    return torch.where(on_arc, ring, to_ends)


def _orientation_bins(angle: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Orientation (mod pi) to one of ``n_bins`` classes centred on multiples of pi / n_bins."""
    return torch.round(torch.remainder(angle, math.pi) / (math.pi / n_bins)).long() % n_bins


def _angle_classes(n_bins: int) -> list[str]:
    return [f"{round(180 * k / n_bins)} deg" for k in range(n_bins)]


def oriented_lines(n: int = 1000, size: int = 28, n_orientations: int = 8, seed: int = 0, noise: float = 0.0) -> ImageDataset:
    """Straight lines at random angles and positions; label = nearest of ``n_orientations`` bins."""
    _check(n, size)
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(n, generator=g) * math.pi
    cy, cx = (size / 2 + (torch.rand(2, n, generator=g) - 0.5) * size / 4) - 0.5
    length = size * (0.5 + 0.3 * torch.rand(n, generator=g))
    width = 1.0 + 1.5 * torch.rand(n, generator=g)
    y, x = _grid(size)
    images = torch.stack([
        _stroke(segment_distance(y, x, cy[i], cx[i], float(angle[i]), float(length[i])), float(width[i]))
        for i in range(n)
    ]).unsqueeze(1)
    images = _add_noise(images, noise, g)
    params = {"angle": angle, "cy": cy, "cx": cx, "length": length, "width": width}
    return ImageDataset(images, _orientation_bins(angle, n_orientations), _angle_classes(n_orientations), params, "lines")


def oriented_edges(n: int = 1000, size: int = 28, n_orientations: int = 8, seed: int = 0, noise: float = 0.0) -> ImageDataset:
    """Step edges (bright on one side) at random angles through a point near the centre.

    The angle runs over a full turn (the bright side matters); label = orientation bin mod pi.
    """
    _check(n, size)
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(n, generator=g) * 2 * math.pi
    cy, cx = (size / 2 + (torch.rand(2, n, generator=g) - 0.5) * size / 4) - 0.5
    y, x = _grid(size)
    signed = [(-(y - cy[i]) * math.cos(float(angle[i])) - (x - cx[i]) * math.sin(float(angle[i]))) for i in range(n)]
    images = torch.stack([(s + 0.5).clamp(0, 1) for s in signed]).unsqueeze(1)
    images = _add_noise(images, noise, g)
    params = {"angle": angle, "cy": cy, "cx": cx}
    return ImageDataset(images, _orientation_bins(angle, n_orientations), _angle_classes(n_orientations), params, "edges")


def lines_vs_arcs(n: int = 2000, size: int = 32, seed: int = 0, noise: float = 0.0) -> ImageDataset:
    """Half straight segments (label 0) and half circular arcs (label 1), at every orientation.

    Telling them apart needs curvature, not orientation: the task that makes curve detectors.
    ``params``: angle (tangent direction at the centre), radius (inf for lines), cy, cx, length.
    """
    _check(n, size, min_size=16)
    g = torch.Generator().manual_seed(seed)
    label = torch.arange(n) % 2
    label = label[torch.randperm(n, generator=g)]
    angle = torch.rand(n, generator=g) * 2 * math.pi
    cy, cx = (size / 2 + (torch.rand(2, n, generator=g) - 0.5) * size / 5) - 0.5
    length = size * (0.45 + 0.25 * torch.rand(n, generator=g))
    radius = size * (0.22 + 0.2 * torch.rand(n, generator=g))
    radius = torch.where(label == 1, radius, torch.full_like(radius, float("inf")))
    width = 1.0 + 1.0 * torch.rand(n, generator=g)
    y, x = _grid(size)
    images = []
    for i in range(n):
        a, r, ln = float(angle[i]), float(radius[i]), float(length[i])
        d = segment_distance(y, x, cy[i], cx[i], a, ln) if label[i] == 0 else arc_distance(y, x, cy[i], cx[i], a, r, ln)
        images.append(_stroke(d, float(width[i])))
    images = _add_noise(torch.stack(images).unsqueeze(1), noise, g)
    params = {"angle": angle, "radius": radius, "cy": cy, "cx": cx, "length": length, "width": width}
    return ImageDataset(images, label, ["line", "arc"], params, "lines_vs_arcs")


def arcs_among_lines(n: int = 2000, size: int = 32, seed: int = 0, noise: float = 0.0,
                     most_strokes: int = 2) -> ImageDataset:
    """One to ``most_strokes`` strokes per image: label 1 if one is an arc, 0 if all are straight.

    Unlike :func:`lines_vs_arcs`, finding straight lines does not solve it (an arc image may
    hold a line too), so a network must detect the arcs themselves: it learns curve detectors
    on every training seed, where ``lines_vs_arcs`` sometimes learns only line detectors.
    ``params``: strokes (count), radius (of the arc; inf when there is none), and every
    stroke's angle (radians), cy, cx (its midpoint, pixels), length and width as
    ``n x most_strokes`` float64 tables: column 0 is the arc in an arc image, NaN marks a stroke
    an image does not have. They redraw the images exactly (chapter 5c probes for them).
    """
    _check(n, size, min_size=16)
    if most_strokes < 1:
        raise ValueError(f"most_strokes must be >= 1, got {most_strokes}")
    g = torch.Generator().manual_seed(seed)
    label = (torch.arange(n) % 2)[torch.randperm(n, generator=g)]
    strokes = torch.randint(1, most_strokes + 1, (n,), generator=g)
    radius = torch.where(label == 1, size * (0.22 + 0.2 * torch.rand(n, generator=g)),
                         torch.full((n,), float("inf")))
    y, x = _grid(size)
    images = torch.zeros(n, 1, size, size)
    table = {key: torch.full((n, most_strokes), math.nan, dtype=torch.float64)
             for key in ("angle", "cy", "cx", "length", "width")}
    for i in range(n):
        for stroke in range(int(strokes[i])):
            angle, length, width = (float(v) for v in torch.rand(3, generator=g))
            cy, cx = (size / 2 + (torch.rand(2, generator=g) - 0.5) * size / 2) - 0.5
            angle, length = angle * 2 * math.pi, size * (0.35 + 0.25 * length)
            if stroke == 0 and label[i] == 1:   # the arc, when there is one
                d = arc_distance(y, x, cy, cx, angle, float(radius[i]), length)
            else:
                d = segment_distance(y, x, cy, cx, angle, length)
            images[i, 0] = torch.maximum(images[i, 0], _stroke(d, 1.0 + width))
            for key, value in zip(table, (angle, cy, cx, length, 1.0 + width)):
                table[key][i, stroke] = float(value)
    images = _add_noise(images, noise, g)
    params = {"strokes": strokes, "radius": radius, **table}
    return ImageDataset(images, label, ["lines only", "an arc"], params, "arcs_among_lines")


SHAPE_CLASSES = ["disk", "square", "triangle", "ring"]


def shapes(n: int = 1000, size: int = 28, seed: int = 0, noise: float = 0.0) -> ImageDataset:
    """Filled disks, squares, triangles and hollow rings of random size, position and rotation."""
    _check(n, size)
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(len(SHAPE_CLASSES), (n,), generator=g)
    scale = size * (0.18 + 0.12 * torch.rand(n, generator=g))
    cy, cx = (size / 2 + (torch.rand(2, n, generator=g) - 0.5) * size / 3) - 0.5
    rotation = torch.rand(n, generator=g) * 2 * math.pi
    y, x = _grid(size)
    images = []
    for i in range(n):
        dy, dx, s, t = y - cy[i], x - cx[i], float(scale[i]), float(rotation[i])
        u, v = dx * math.cos(t) + dy * math.sin(t), -dx * math.sin(t) + dy * math.cos(t)
        r = torch.hypot(u, v)
        if label[i] == 0:
            signed = r - s
        elif label[i] == 1:
            signed = torch.maximum(u.abs(), v.abs()) - s * 0.85
        elif label[i] == 2:
            # Intersection of three half-planes whose normals are 120 degrees apart.
            signed = torch.stack([u * math.cos(a) + v * math.sin(a) for a in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3)]).amax(0) - s * 0.5
        else:
            signed = (r - s).abs() - 1.0
        images.append((0.5 - signed).clamp(0, 1))
    images = _add_noise(torch.stack(images).unsqueeze(1), noise, g)
    params = {"scale": scale, "cy": cy, "cx": cx, "rotation": rotation}
    return ImageDataset(images, label, list(SHAPE_CLASSES), params, "shapes")


def grating(size: int, angle: float, wavelength: float, phase: float = 0.0) -> torch.Tensor:
    """A sinusoidal grating ``size x size`` in [0, 1]; stripes run along ``angle`` (radians)."""
    y, x = _grid(size)
    across = -(y - size / 2) * math.cos(angle) - (x - size / 2) * math.sin(angle)
    return 0.5 + 0.5 * torch.cos(2 * math.pi * across / wavelength + phase)


def gratings(n: int = 1000, size: int = 28, n_orientations: int = 8, seed: int = 0, noise: float = 0.0) -> ImageDataset:
    """Sinusoidal gratings of random orientation, wavelength (3-10 px) and phase; label = orientation bin."""
    _check(n, size)
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(n, generator=g) * math.pi
    wavelength = 3 + 7 * torch.rand(n, generator=g)
    phase = torch.rand(n, generator=g) * 2 * math.pi
    images = torch.stack([grating(size, float(a), float(w), float(p)) for a, w, p in zip(angle, wavelength, phase)]).unsqueeze(1)
    images = _add_noise(images, noise, g)
    params = {"angle": angle, "wavelength": wavelength, "phase": phase}
    return ImageDataset(images, _orientation_bins(angle, n_orientations), _angle_classes(n_orientations), params, "gratings")


JUNCTION_CLASSES = ["corner", "T", "X"]


def junction_distance(y, x, cy, cx, directions: Sequence[float], arm: float):
    """Distance from each pixel to straight arms of length ``arm`` leaving (cy, cx) in each of
    ``directions`` (radians; y points down, as in :func:`segment_distance`)."""
    arms = [segment_distance(y, x, cy - math.sin(a) * arm / 2, cx + math.cos(a) * arm / 2, a, arm)
            for a in directions]
    return torch.stack(arms).amin(0)


def junction_directions(kind: int, angle: float, opening: float) -> list[float]:
    """The arms' directions of a corner (kind 0: two arms ``opening`` apart), a T (1: a bar and a
    stem leaving it at ``opening``) or an X (2: two lines crossing at ``opening``)."""
    if kind == 0:
        return [angle, angle + opening]
    if kind == 1:
        return [angle, angle + math.pi, angle + opening]
    if kind == 2:
        return [angle, angle + math.pi, angle + opening, angle + opening + math.pi]
    raise ValueError(f"kind must be 0 (corner), 1 (T) or 2 (X), got {kind}")


def junctions(n: int = 1000, size: int = 32, seed: int = 0, noise: float = 0.0) -> ImageDataset:
    """Straight arms meeting at a vertex: corners (label 0), T-junctions (1) and crossings (2).

    Arms meet at ``opening`` (45-135 degrees). The total stroke length (``size`` x 0.45-0.7,
    shared among the arms) and the width (1-2 px) are drawn as for the strokes of
    :func:`lines_vs_arcs`: a junction holds as much ink as a line or an arc there.
    ``params``: angle (first arm), opening (radians), cy, cx (the vertex), length (all arms
    together), width.
    """
    _check(n, size, min_size=16)
    g = torch.Generator().manual_seed(seed)
    label = (torch.arange(n) % len(JUNCTION_CLASSES))[torch.randperm(n, generator=g)]
    angle = torch.rand(n, generator=g) * 2 * math.pi
    opening = torch.deg2rad(45 + 90 * torch.rand(n, generator=g))
    cy, cx = (size / 2 + (torch.rand(2, n, generator=g) - 0.5) * size / 5) - 0.5
    length = size * (0.45 + 0.25 * torch.rand(n, generator=g))
    width = 1.0 + 1.0 * torch.rand(n, generator=g)
    y, x = _grid(size)
    images = []
    for i in range(n):
        directions = junction_directions(int(label[i]), float(angle[i]), float(opening[i]))
        arm = float(length[i]) / len(directions)
        distance = junction_distance(y, x, float(cy[i]), float(cx[i]), directions, arm)
        images.append(_stroke(distance, float(width[i])))
    images = _add_noise(torch.stack(images).unsqueeze(1), noise, g)
    params = {"angle": angle, "opening": opening, "cy": cy, "cx": cx, "length": length,
              "width": width}
    return ImageDataset(images, label, list(JUNCTION_CLASSES), params, "junctions")


def blobs(n: int = 1000, size: int = 32, seed: int = 0, noise: float = 0.0) -> ImageDataset:
    """Gaussian spots, peak 1 on black, of standard deviation ``size`` x 0.06-0.16 px at random
    positions near the centre; label 1 for the larger half of that range.

    ``params``: sigma (px), cy, cx. A spot is a function of the distance to (cy, cx) alone.
    """
    _check(n, size)
    g = torch.Generator().manual_seed(seed)
    sigma = size * (0.06 + 0.1 * torch.rand(n, generator=g))
    cy, cx = (size / 2 + (torch.rand(2, n, generator=g) - 0.5) * size / 4) - 0.5
    y, x = _grid(size)
    images = torch.stack([
        torch.exp(-((y - cy[i]) ** 2 + (x - cx[i]) ** 2) / (2 * float(sigma[i]) ** 2))
        for i in range(n)]).unsqueeze(1)
    images = _add_noise(images, noise, g)
    label = (sigma > size * 0.11).long()
    return ImageDataset(images, label, ["small", "large"], {"sigma": sigma, "cy": cy, "cx": cx},
                        "blobs")


def bandpass_noise(size: int, wavelength: float, generator: torch.Generator,
                   bandwidth: float = 0.3) -> torch.Tensor:
    """White noise filtered to spatial frequencies near ``1 / wavelength`` (a ring in the
    spectrum of relative width ``bandwidth``), rescaled to [0, 1]: ``size x size``."""
    freq = torch.fft.fftfreq(size)
    radius = torch.hypot(*torch.meshgrid(freq, freq, indexing="ij"))
    centre = 1 / wavelength
    ring = torch.exp(-((radius - centre) ** 2) / (2 * (bandwidth * centre) ** 2))
    white = torch.randn(size, size, generator=generator)
    texture = torch.fft.ifft2(torch.fft.fft2(white) * ring).real
    return (texture - texture.min()) / (texture.max() - texture.min())


def textures(n: int = 1000, size: int = 32, seed: int = 0, noise: float = 0.0) -> ImageDataset:
    """Two-dimensional textures: plaids (label 0: the mean of two :func:`grating` images whose
    stripes cross at 45-135 degrees) and band-pass noise (label 1). Wavelengths 3-10 px, as for
    :func:`gratings`.

    ``params``: angle, angle2 (the second grating; NaN for noise), wavelength, phase, phase2.
    """
    _check(n, size)
    g = torch.Generator().manual_seed(seed)
    label = (torch.arange(n) % 2)[torch.randperm(n, generator=g)]
    angle = torch.rand(n, generator=g) * math.pi
    angle2 = angle + torch.deg2rad(45 + 90 * torch.rand(n, generator=g))
    wavelength = 3 + 7 * torch.rand(n, generator=g)
    phase, phase2 = torch.rand(2, n, generator=g) * 2 * math.pi
    images = []
    for i in range(n):
        w = float(wavelength[i])
        if label[i] == 0:
            images.append((grating(size, float(angle[i]), w, float(phase[i]))
                           + grating(size, float(angle2[i]), w, float(phase2[i]))) / 2)
        else:
            images.append(bandpass_noise(size, w, g))
    images = _add_noise(torch.stack(images).unsqueeze(1), noise, g)
    angle2 = torch.where(label == 0, angle2, torch.full_like(angle2, math.nan))
    params = {"angle": angle, "angle2": angle2, "wavelength": wavelength, "phase": phase,
              "phase2": phase2}
    return ImageDataset(images, label, ["plaid", "band-pass noise"], params, "textures")


def _add_noise(images: torch.Tensor, noise: float, g: torch.Generator) -> torch.Tensor:
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if noise == 0:
        return images
    return (images + noise * torch.randn(images.shape, generator=g)).clamp(0, 1)


# --- Stimuli for tuning curves and checks (chapters 4, 5b) ---------------------------------

def curve_images(angles: Sequence[float] | torch.Tensor, radius: float, size: int = 32,
                 length: float = 16.0, width: float = 1.5) -> torch.Tensor:
    """One centred arc (or, for ``radius=inf``, a straight segment) per angle: ``N x 1 x size x size``.

    Bright strokes on black in [0, 1], like the training images of ``lines_vs_arcs``.
    """
    if radius <= 0:
        raise ValueError(f"radius must be positive (inf for a straight line), got {radius}")
    if length <= 0 or width <= 0:
        raise ValueError(f"length and width must be positive, got length={length}, width={width}")
    coords = torch.arange(size, dtype=torch.float32)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    centre = (size - 1) / 2
    images = []
    for angle in torch.as_tensor(angles, dtype=torch.float32).tolist():
        if math.isinf(radius):
            distance = segment_distance(y, x, centre, centre, angle, length)
        else:
            distance = arc_distance(y, x, centre, centre, angle, radius, length)
        # Same ink profile as the training images: solid core, one-pixel anti-aliased edge.
        images.append((width / 2 + 0.5 - distance).clamp(0, 1))
    return torch.stack(images).unsqueeze(1)


def angle_grid(n: int = 24, full_turn: bool = True) -> torch.Tensor:
    """``n`` evenly spaced angles in radians over a full turn (arcs: which way they bend matters)
    or half a turn (lines look the same after 180 degrees)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return torch.arange(n, dtype=torch.float32) * (2 if full_turn else 1) * math.pi / n


def gabor(size: int, angle_deg: float, wavelength: float, sigma: float, phase: float = 0.0) -> torch.Tensor:
    """A ``size x size`` Gabor patch: a grating whose *stripes* run at ``angle_deg`` under a
    Gaussian window: the textbook model of an oriented edge detector (and a test input here)."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    theta = math.radians(angle_deg)
    across = -x * math.sin(theta) + y * math.cos(theta)     # distance across the stripes
    window = torch.exp(-(x**2 + y**2) / (2 * sigma**2))
    return (window * torch.cos(2 * math.pi * across / wavelength + phase)).float()


# --- Stimulus families: which kind of pattern drives a unit best (chapter 4) ---------------

# Families grouped by how much of the image they cover: a contest is fair only within a group
# (at equal contrast a pattern that fills a unit's field beats one that crosses it).
FAMILY_GROUPS = {
    "fill the image": ["edges", "gratings", "textures"],
    "strokes of equal ink": ["lines", "corners", "curves"],
    "spots and shapes": ["blobs", "shapes"],
}


def normalise_contrast(images: torch.Tensor, contrast: float = 0.1, mean: float = 0.5,
                       clip: bool = True) -> torch.Tensor:
    """Every image ``N x C x H x W`` to the same mean brightness and RMS contrast (the pixels'
    standard deviation), then clipped to [0, 1] unless ``clip=False``: ``N x C x H x W``."""
    if images.ndim != 4:
        raise ValueError(f"images must be N x C x H x W, got shape {tuple(images.shape)}")
    if contrast <= 0:
        raise ValueError(f"contrast must be positive, got {contrast}")
    flat = images.flatten(1)
    spread = flat.std(1, keepdim=True)
    if bool((spread == 0).any()):
        raise ValueError("a blank image has no contrast to normalise")
    flat = mean + contrast * (flat - flat.mean(1, keepdim=True)) / spread
    flat = flat.clamp(0, 1) if clip else flat
    return flat.reshape(images.shape)


def stimulus_families(n: int = 48, size: int = 32, seed: int = 0,
                      contrast: float = 0.1) -> dict[str, torch.Tensor]:
    """``n`` stimuli of each family of :data:`FAMILY_GROUPS`, each ``n x 1 x size x size``.

    Random orientations, positions and scales (wavelength, length, size) from this module's
    generators; half of every family is reversed in polarity (dark on light), and every image
    is brought to mean 0.5 and RMS contrast ``contrast`` by :func:`normalise_contrast`.
    Lines and curves are the two halves of :func:`lines_vs_arcs`, so lines, corners and
    curves share their length and width distribution.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2 (half of each family is reversed), got {n}")
    strokes = lines_vs_arcs(2 * n, size, seed=seed)
    raw = {
        "edges": oriented_edges(n, size, seed=seed).images,
        "gratings": gratings(n, size, seed=seed).images,
        "textures": textures(n, size, seed=seed).images,
        "lines": strokes.images[strokes.labels == 0],
        "corners": junctions(n, size, seed=seed).images,
        "curves": strokes.images[strokes.labels == 1],
        "blobs": blobs(n, size, seed=seed).images,
        "shapes": shapes(n, size, seed=seed).images,
    }
    return {name: normalise_contrast(torch.cat([images[: n // 2], 1 - images[n // 2 :]]),
                                     contrast)
            for name, images in raw.items()}
