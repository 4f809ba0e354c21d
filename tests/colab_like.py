"""A Colab-like start, reproduced as closely as this machine allows (used by the tests).

- a virtual environment (no system site-packages) holding only what Colab preinstalls that the
  book uses, at the versions of requirements.txt: torch, torchvision, numpy, matplotlib,
  ipywidgets, scikit-learn, plus ipykernel to run a kernel. It is made once and kept in
  ``~/.cache/course_utils/colab-venv-<hash of the pins>`` (or ``$COURSE_UTILS_COLAB_VENV``);
  pip takes the wheels from its cache or local index, so torch is not downloaded again. Before
  each run it is put back to exactly that state (whatever a previous run installed is removed);
- the repository as it is now (working tree, uncommitted files included) committed to a
  throw-away clone, at a branch named like ``colab.BOOK_REF``; git is told to fetch
  ``colab.REPOSITORY_URL`` from that clone (``url.<clone>.insteadOf``), so the set-up cell runs
  unchanged, its real ``%pip install "course-utils @ git+https://...@main"`` included;
- ``google.colab`` is faked by an IPython start-up file, so the set-up cell believes it is on Colab;
- each chapter is copied alone into an empty folder (no ``src/`` next to it) and executed with
  nbclient in a kernel of that environment (`run_chapters`). The first chapter's set-up cell
  installs the package (checked: from the git URL, at this working tree's commit, leaving torch
  and the rest of Colab's packages as they were); the later chapters' identical cells must find
  it and install nothing (idempotence).

Trained zoo models are shared with the book build (``$COURSE_UTILS_CACHE``): on Colab they train
on first use, here that would only repeat the build's work.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import course_utils
from course_utils.teaching import colab

ROOT = Path(__file__).resolve().parent.parent
COLAB_PREINSTALLED = ["torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "scikit-learn", "ipykernel"]


def colab_pins() -> list[str]:
    """``name==version`` for each Colab package, taken from requirements.txt."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    missing = [name for name in COLAB_PREINSTALLED if name not in pins]
    assert not missing, f"requirements.txt pins no version for {missing}"
    return [f"{name}=={pins[name]}" for name in COLAB_PREINSTALLED]


def _pip(python: Path, *args: str, timeout: int = 1800) -> str:
    result = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _installed(python: Path) -> dict[str, str]:
    """``{normalised name: version}`` of every distribution in the environment."""
    listing = json.loads(_pip(python, "list", "--format=json", "--disable-pip-version-check"))
    return {re.sub(r"[-_.]+", "-", d["name"].lower()): d["version"] for d in listing}


def colab_venv() -> Path:
    """The base environment (created on first use, then reused), back in its pristine state."""
    pins = colab_pins()
    digest = hashlib.sha256(json.dumps([pins, sys.version]).encode()).hexdigest()[:12]
    default = Path.home() / ".cache" / "course_utils" / f"colab-venv-{digest}"
    venv = Path(os.environ.get("COURSE_UTILS_COLAB_VENV", default))
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one creator at a time (pytest-xdist, parallel runs)
        if not (venv / "baseline.json").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True, timeout=300)
            _pip(python, "install", "--quiet", *pins)  # pip's cache / local index: no torch re-download
            (venv / "baseline.json").write_text(json.dumps(_installed(python), indent=1))
        baseline = json.loads((venv / "baseline.json").read_text())
        extra = sorted(set(_installed(python)) - set(baseline))
        if extra:
            _pip(python, "uninstall", "--yes", "--quiet", *extra)
    return venv


def repository_clone(tmp: Path) -> tuple[Path, str]:
    """A git repository holding the working tree as it is now, at a branch named ``colab.BOOK_REF``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    clone = tmp / "repository"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    git = ["git", "-C", str(clone), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "--quiet", str(clone)], check=True)
    subprocess.run(git + ["add", "--all"], check=True)
    subprocess.run(git + ["commit", "--quiet", "--no-verify", "-m", "working tree for the Colab test"], check=True)
    ref = colab.BOOK_REF
    if re.fullmatch(r"[0-9a-f]{7,40}", ref):
        pytest.skip(f"BOOK_REF is the commit {ref}: the working tree cannot be installed under that name")
    subprocess.run(git + ["branch", "--force", ref], check=True)
    return clone, ref


def colab_kernel(tmp: Path, venv: Path, clone: Path, monkeypatch) -> str:
    """Register a kernel of ``venv`` that looks like Colab; return its name."""
    ipython = tmp / "ipython" / "profile_default" / "startup"
    ipython.mkdir(parents=True)
    (ipython / "00-fake-colab.py").write_text(
        "import sys, types\n"
        "# What the set-up cell looks for: on Colab this module is always imported.\n"
        "sys.modules.setdefault('google', types.ModuleType('google'))\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n")
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text(f'[url "file://{clone}"]\n\tinsteadOf = {colab.REPOSITORY_URL}\n'
                         "[protocol \"file\"]\n\tallow = always\n")
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "PYTHONPATH": "",
        "IPYTHONDIR": str(tmp / "ipython"),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "COURSE_UTILS_CACHE": os.environ.get("COURSE_UTILS_CACHE", str(ROOT / ".zoo-cache")),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        # On Colab the zoo would fetch the published weights; here nothing goes to the web.
        "COURSE_UTILS_WEIGHTS_URL": "off",
    }
    spec = tmp / "jupyter" / "kernels" / "colab-like"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python", "env": env}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
    return "colab-like"


def execute(path: Path, kernel: str, folder: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Copy ``path`` alone into ``folder`` and execute it there."""
    folder.mkdir(parents=True)
    nb = nbformat.read(path, as_version=4)
    nbformat.write(nb, folder / path.name)
    NotebookClient(nb, kernel_name=kernel, timeout=timeout, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def _probe(kernel: str, folder: Path, code: str) -> str:
    """Run one cell in a Colab-like kernel; return what it printed."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbformat.write(nb, folder.with_suffix(".ipynb"))
    return execute(folder.with_suffix(".ipynb"), kernel, folder).cells[0].outputs[0]["text"]


def _dist_info(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python*/site-packages/course_utils-*.dist-info"))
    return found[0] if found else None


def run_chapters(paths: list[Path], tmp: Path, monkeypatch) -> dict[str, nbformat.NotebookNode]:
    """Execute each notebook of ``paths`` from a Colab-like start; return them executed, by stem.

    Checks on the way that the first set-up cell installs the package from the git URL at this
    working tree's commit without replacing anything Colab preinstalls, and that every later
    set-up cell finds it and installs nothing. A cell raising where it is not tagged
    ``raises-exception`` fails the run (nbclient's strict execution).
    """
    started = time.perf_counter()
    venv = colab_venv()
    python = venv / "bin" / "python"
    before = _installed(python)
    clone, ref = repository_clone(tmp)
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    kernel = colab_kernel(tmp, venv, clone, monkeypatch)
    assert colab.install_url() == f"course-utils @ git+{colab.REPOSITORY_URL}@{ref}"
    assert "course-utils" not in before

    # The kernel is the clean environment and believes it is on Colab.
    seen = _probe(kernel, tmp / "probe-before", "import sys, importlib.util\n"
                  "print(sys.prefix, 'google.colab' in sys.modules, "
                  "importlib.util.find_spec('course_utils') is None)")
    assert seen.split() == [str(venv), "True", "True"]

    executed, timings, installed_at = {}, {}, None
    for number, path in enumerate(paths):
        start = time.perf_counter()
        executed[path.stem] = execute(path, kernel, tmp / path.stem)
        timings[path.stem] = round(time.perf_counter() - start, 1)
        dist = _dist_info(venv)
        assert dist is not None, f"{path.name}: its set-up cell did not install the package"
        if number == 0:
            origin = json.loads((dist / "direct_url.json").read_text())
            assert origin["url"] == colab.REPOSITORY_URL
            assert origin["vcs_info"]["requested_revision"] == ref
            assert origin["vcs_info"]["commit_id"] == head  # this working tree, through the git URL
            after = _installed(python)
            assert after["course-utils"] == course_utils.__version__
            for name in COLAB_PREINSTALLED:  # "keeps Colab's torch": nothing preinstalled replaced
                assert after[name] == before[name], \
                    f"installing the package changed {name}: {before[name]} -> {after[name]}"
            installed_at = dist.stat().st_mtime_ns
        else:  # idempotent: the set-up cell saw the package and installed nothing
            assert dist.stat().st_mtime_ns == installed_at, \
                f"{path.name}: the set-up cell reinstalled the package"

    where, version = _probe(kernel, tmp / "probe-after", "import course_utils, torch\n"
                            "print(course_utils.__file__, torch.__version__)").split()
    assert where.startswith(str(venv)) and version.split("+")[0] == before["torch"]
    print(f"\nColab-like run, seconds per chapter: {timings} "
          f"(total {time.perf_counter() - started:.0f} s)")
    return executed
