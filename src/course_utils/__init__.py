"""course_utils: the companion package of the book
"Convolutional Neural Networks through the lens of mechanistic interpretability".

Each module holds one concept and has one import path. The folders say what kind of thing a
module is; the chapter that first imports it is listed after each one (the book's API
reference, ``book/api.md``, lists the modules under the same chapters; a test keeps the two
equal).

``course_utils.data``: images and the datasets that hold them

- ``datasets``: ``ImageDataset``, the one container every loader returns (chapter 3)
- ``photos``: sample photographs and random patches (chapter 1)
- ``loaders``: offline MNIST subset, scikit-learn digits, torchvision for Colab (chapter 2)
- ``synthetic``: generated images with known parameters: lines, edges, arcs, gratings, shapes,
  corners, blobs, textures, and families of them at equal contrast (chapter 4)

``course_utils.cnn``: the network, its parts and its training

- ``conv``, ``pooling``: the operations, written out and checked against torch (chapter 1)
- ``models``, ``training``: small CNNs and ``fit`` (chapter 1)
- ``zoo``, ``published``: trained models by name and seed, and the book's published weights
  (chapter 1)
- ``architecture``, ``inception``: layer tables, VGG-16 and GoogLeNet (chapter 1)
- ``layers``: layers by name, running part of a network (chapter 4)
- ``template``: convolution as template matching (chapter 3)
- ``nonlinearities``, ``linearity``, ``expressiveness``: what a nonlinearity adds (chapter 3)
- ``receptive_field``: which pixels a unit can see (chapter 4)

``course_utils.interp``: reading what a network computes

- ``hooks``: recording activations by layer name; one unit's values (chapter 3)
- ``filters``: first-layer filters by their spectrum (chapter 4)
- ``probes``: features as directions (chapter 4)
- ``basis``: whether the neuron basis is special (chapter 5a)
- ``featviz``: feature visualization, split like Lucent's ``optvis`` (chapter 4)
- ``dataset_examples``: the inputs that drive a unit most (chapter 4)
- ``tuning``, ``circuits``, ``interventions``: curve detectors and the circuits that build
  them, read in the weights and tested by ablation (chapter 5b)
- ``similarity``: CKA and unit matching across networks (chapter 4)
- ``preference``: which family of synthetic stimuli drives each unit best (chapter 4)
- ``superposition``: the toy model of superposition, more sparse features than dimensions
  (chapter 6)
- ``dictionary``: sparse autoencoders, and how many classes a unit's top images come from
  (chapter 6)
- ``attribution``: attribution maps (gradient, integrated gradients, occlusion) and their
  sanity checks (chapter 7)

``course_utils.teaching``: the book's own machinery

- ``checks``: the exercises' automatic checks, ``checks.ch02`` for chapter 2 (every chapter)
- ``claims``: a claim with the measurement that makes it true (every chapter)
- ``plotting``: the figures' helpers and style (every chapter)
- ``widgets``: the convolution drawn with matplotlib, for Jupyter and as a picture (chapter 2)
- ``convolution_view``: the convolution computed and drawn in the browser, live in the
  HTML book too (chapter 2)
- ``colab``: the Colab set-up cell (every chapter)

``course_utils.instructor`` (student edition, grading) and ``course_utils.book`` (the claims
ledger, the seed replications) are tools for instructors and for the build, with extras of
their own.
"""

__version__ = "0.1.0"
