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


def test_a_kernels_first_cell_holds_the_set_up_lock_and_only_that_cell(tmp_path):
    """The start-up file's hooks in a real IPython shell: another kernel's first cell would
    wait while this one's first cell runs (trying the lock fails), and not after it."""
    import fcntl

    from IPython.core.interactiveshell import InteractiveShell

    lock = tmp_path / "setup-cell.lock"
    probe = ("import fcntl\nwith open(%r, 'w') as other:\n    try:\n"
             "        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)\n        free = True\n"
             "    except BlockingIOError:\n        free = False\n" % str(lock))
    shell = InteractiveShell.instance()
    try:
        # as IPython runs a start-up file: in the user's namespace, outside any cell
        exec(colab_like._ONE_INSTALL_AT_A_TIME.format(lock=str(lock)), shell.user_ns)
        shell.run_cell(probe)
        assert shell.user_ns["free"] is False   # held during the first cell after the hooks
        shell.run_cell(probe)
        assert shell.user_ns["free"] is True    # released after it, not taken again
        with open(lock, "w") as mine:
            fcntl.flock(mine, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        InteractiveShell.clear_instance()
