"""course_utils: the companion package of the book
"Convolutional Neural Networks through the lens of mechanistic interpretability".

Each module holds one concept and is introduced by the chapter that explains it.
"""
from .conv import conv2d, conv2d_loops, conv_output_size
from .pooling import avg_pool2d, max_pool2d
from .datasets import ImageDataset, make_loader
from .data import load_dataset, mnist_subset, sklearn_digits, torchvision_dataset
from .models import ConvNet, build_model, count_parameters
from .training import evaluate, fit, pick_device, seeded
from .similarity import cka_matrix, linear_cka, match_units
from .zoo import pretrained, zoo_data
from . import dataset_examples, featviz, filters, hooks, probes, receptive_field
from .hooks import capture, record
from . import expressiveness, linearity, nonlinearities, template  # chapter 3
from .linearity import additivity_violation, compose_stack, homogeneity_violation
from .receptive_field import receptive_fields

__version__ = "0.1.0"
