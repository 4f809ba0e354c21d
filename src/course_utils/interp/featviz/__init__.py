"""Feature visualization by optimization (chapter 5a), split like Lucent's ``optvis``.

- :mod:`.param`: how the image is made from parameters (pixels or a Fourier spectrum);
- :mod:`.transform`: small random transforms that make the image robust (pad, jitter, scale, rotate);
- :mod:`.objectives`: what to maximize (``channel``, ``neuron``, ``direction``, ``diversity``),
  composable with ``+``, ``-`` and ``*`` by numbers;
- :mod:`.render`: the optimization loop, which reports the achieved value next to the dataset's.

Example::

    from course_utils.interp import featviz as fv
    obj = fv.channel("conv2", 5)
    result = fv.render(model, obj, fv.FourierImage(1, 1, 28),
                       reference_images=test.images)

Nothing here assumes ImageNet: no colour decorrelation, no normalization, no resizing; images
have the model's own channels and size and live in [0, 1] like the course's datasets.
"""
from .param import FourierImage, ImageParam, PixelImage, image
from .transform import (center_crop, compose, jitter, pad, random_rotate, random_scale,
                        standard_transforms)
from .objectives import Objective, channel, direction, diversity, neuron
from .render import Rendering, objective_values, render

__all__ = [
    "ImageParam", "PixelImage", "FourierImage", "image",
    "pad", "jitter", "random_scale", "random_rotate", "center_crop", "compose", "standard_transforms",
    "Objective", "channel", "neuron", "direction", "diversity",
    "Rendering", "render", "objective_values",
]
