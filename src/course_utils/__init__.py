"""course_utils: the companion package of the book
"Convolutional Neural Networks through the lens of mechanistic interpretability".

Each module holds one concept and has one import path. The folders say what kind of thing a
module is; the chapter that introduces it is listed after each one.

``course_utils.data``: images and the datasets that hold them

- ``datasets``: ``ImageDataset``, the one container every loader returns (chapter 1)
- ``loaders``: offline MNIST subset, scikit-learn digits, torchvision for Colab (chapter 1)
- ``photos``: sample photographs and random patches (chapters 2 and 4)
- ``synthetic``: generated images with known parameters: lines, edges, arcs, gratings, shapes

``course_utils.cnn``: the network, its parts and its training

- ``conv``, ``pooling``: the operations, written out and checked against torch (chapters 1, 2)
- ``models``, ``training``, ``zoo``, ``published``: small CNNs, ``fit``, trained models by
  name and seed, and the book's published weights (chapter 1)
- ``architecture``, ``inception``: layer tables, VGG-16 and GoogLeNet (chapter 1)
- ``layers``: layers by name, running part of a network (chapters 4, 5b)
- ``template``: convolution as template matching (chapter 2)
- ``nonlinearities``, ``linearity``, ``expressiveness``: what a nonlinearity adds (chapter 3)
- ``receptive_field``: which pixels a unit can see (chapter 4)

``course_utils.interp``: reading what a network computes

- ``hooks``: recording activations by layer name; one unit's values (chapter 4)
- ``filters``: first-layer filters by their spectrum (chapter 4)
- ``probes``, ``basis``: features as directions, and whether the neuron basis is special (4, 5a)
- ``featviz``: feature visualization, split like Lucent's ``optvis`` (chapter 5a)
- ``dataset_examples``: the inputs that drive a unit most (chapter 5a)
- ``tuning``, ``circuits``, ``interventions``: curve detectors and the circuits that build
  them, read in the weights and tested by ablation (chapter 5b)
- ``similarity``: CKA and unit matching across networks (chapter 5c)

``course_utils.teaching``: the book's own machinery

- ``checks``: the exercises' automatic checks, one module per chapter (``checks.ch02``)
- ``claims``: a claim with the measurement that makes it true (every chapter)
- ``plotting``, ``widgets``: figures and interactive views; ``colab``: the Colab set-up cell

``course_utils.instructor`` (student edition, grading) and ``course_utils.book`` (the claims
ledger, the seed replications) are tools for instructors and for the build, with extras of
their own.
"""

__version__ = "0.1.0"
