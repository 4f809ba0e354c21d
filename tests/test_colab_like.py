"""The Colab-like environment's packages: what it links from the test venv (sitetools/colab_like.py)."""
import importlib.metadata
import os
import sys
from pathlib import Path

from sitetools import colab_like


def test_the_closure_follows_requirements_with_their_installed_versions():
    closure = colab_like._installed_closure(["nbformat"])
    for name in ("nbformat", "jsonschema", "traitlets", "fastjsonschema"):
        assert closure[name] == importlib.metadata.version(name)
    assert "torch" not in closure   # only what nbformat needs
    assert colab_like._installed_closure(["no-such-distribution"]) is None


def test_linked_files_are_the_same_files_not_copies(tmp_path):
    colab_like._link_distributions({"tqdm": importlib.metadata.version("tqdm")}, tmp_path)
    source = Path(importlib.metadata.distribution("tqdm").locate_file("tqdm/__init__.py")).resolve()
    linked = tmp_path / source.relative_to(Path(sys.prefix).resolve())
    assert linked.is_file() and os.path.samefile(linked, source)
    assert not (tmp_path / "bin").exists()   # scripts name this venv's python: left out
