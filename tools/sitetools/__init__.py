"""Checks of a built book that are not unit tests: run by tools/checksite.py and tests/browser/.

- ``htmlbook``: an offline build of the book (MathJax and widget scripts served from the build),
  a local web server, and headless Chromium opening a page as a reader would;
- ``sitecheck``: the built files themselves, without a browser: internal links, anchors and
  page weights;
- ``colab_like``: a Colab-like environment and kernel, in which the tests' build runs every
  chapter (the set-up cell installs the package from the git URL);
- ``solutions``: whether a built site (the student edition) gives a solution away.
"""
