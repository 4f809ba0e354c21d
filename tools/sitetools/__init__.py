"""Checks of a built book that are not unit tests: run by tools/checksite.py and tests/browser/.

- ``htmlbook``: an offline build of the book (MathJax and widget scripts served from the build),
  a local web server, and headless Chromium opening a page as a reader would;
- ``sitecheck``: the built files themselves, without a browser: internal links, anchors and
  page weights.
"""
