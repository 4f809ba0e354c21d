"""Tests of the built book as readers see it: a real browser, links and page sizes."""
