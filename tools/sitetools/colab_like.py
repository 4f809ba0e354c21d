"""A Colab-like start, reproduced as closely as this machine allows; the tests' book runs in it.

- a virtual environment (no system site-packages) holding only what Colab preinstalls that the
  book uses, at the versions of requirements.txt: torch, torchvision, numpy, matplotlib,
  ipywidgets, scikit-learn, plus ipykernel to run a kernel. It is made once and kept in
  ``.venv/colab-like/venv-<hash of the pins>`` (or ``$COURSE_UTILS_COLAB_VENV``), its packages
  hard links to the test environment's own files (which hold the same pins), so nothing is
  unpacked twice. Before each run it is put back to exactly that state (whatever a previous run
  installed is removed);
- the repository as it is now (working tree, uncommitted files included) committed to a
  throw-away clone, at a branch named like ``colab.BOOK_REF``; git is told to fetch
  ``colab.REPOSITORY_URL`` from that clone (``url.<clone>.insteadOf``), so the set-up cell runs
  unchanged, its real ``%pip install "course-utils @ git+https://...@main"`` included;
- ``google.colab`` is faked by an IPython start-up file, so the set-up cell believes it is on
  Colab; the package's own dependencies install at the versions requirements.txt pins
  (``PIP_CONSTRAINT``), the ones the book's offline widget scripts were taken from.

`start` prepares all of it and returns a :class:`ColabStart`. The tests' book build
(`htmlbook.build_book(..., colab=start)`) runs every chapter in that kernel: the first chapter's
set-up cell installs the package from the git URL, the later ones find it. `installed_problems`
then says whether that install was the one a learner gets (this working tree's commit, through
the git URL, Colab's torch kept), and `setup_cell_reinstalls` whether a set-up cell run again
installs anything. Trained zoo models are shared with the rest of the tests
(``$COURSE_UTILS_CACHE``): on Colab they train on first use, here that would repeat work.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import course_utils
from course_utils.teaching import colab

ROOT = Path(__file__).resolve().parents[2]
COLAB_PREINSTALLED = ["torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "scikit-learn",
                      "ipykernel"]
KERNEL_NAME = "colab-like"
_PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)")


def requirement_pins() -> dict[str, str]:
    """``{name: version}`` of every ``name==version`` line of requirements.txt."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {m[1].lower(): m[2] for m in map(_PIN.match, lines) if m}


def colab_pins() -> list[str]:
    """``name==version`` for each Colab package, taken from requirements.txt."""
    pins = requirement_pins()
    missing = [name for name in COLAB_PREINSTALLED if name not in pins]
    if missing:
        raise ValueError(f"requirements.txt pins no version for {missing}")
    return [f"{name}=={pins[name]}" for name in COLAB_PREINSTALLED]


def _pip(python: Path, *args: str, timeout: int = 1800) -> str:
    result = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{result.stdout[-3000:]}\n"
                           f"{result.stderr[-3000:]}")
    return result.stdout


def installed(python: Path) -> dict[str, str]:
    """``{normalised name: version}`` of every distribution in the environment."""
    listing = json.loads(_pip(python, "list", "--format=json", "--disable-pip-version-check"))
    return {re.sub(r"[-_.]+", "-", d["name"].lower()): d["version"] for d in listing}


def colab_venv() -> Path:
    """The base environment (created on first use, then reused), back in its pristine state."""
    pins = colab_pins()
    digest = hashlib.sha256(json.dumps([pins, sys.version]).encode()).hexdigest()[:12]
    # Inside this environment, on its file system: the packages can be hard links to its own
    # files, and `rm -rf .venv` takes the copy with it.
    default = Path(sys.prefix) / "colab-like" / f"venv-{digest}"
    venv = Path(os.environ.get("COURSE_UTILS_COLAB_VENV", default))
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one creator at a time (parallel test runs)
        if not (venv / "baseline.json").exists():
            shutil.rmtree(venv, ignore_errors=True)
            _create(venv, pins)
            (venv / "baseline.json").write_text(json.dumps(installed(python), indent=1))
        baseline = json.loads((venv / "baseline.json").read_text())
        extra = sorted(set(installed(python)) - set(baseline))
        if extra:
            _pip(python, "uninstall", "--yes", "--quiet", *extra)
    return venv


def _create(venv: Path, pins: list[str]) -> None:
    """A new venv at ``venv`` holding ``pins`` and what they need, and pip.

    Where this environment holds exactly those versions, its files are hard-linked (seconds;
    torch and its CUDA libraries are 5 GB that pip would unpack again, a minute on a fresh
    machine). A hard link is a name, not a shortcut: pip removing or replacing a package in the
    new venv leaves this one's files alone. Otherwise pip installs the pins.
    """
    base_python = getattr(sys, "_base_executable", sys.executable)
    closure = _installed_closure([pin.split("==")[0] for pin in pins] + ["pip"])
    linkable = closure is not None and all(
        closure.get(canonicalize_name(name)) == version for name, version in (p.split("==") for p in pins))
    if linkable:
        subprocess.run([base_python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
        try:
            _link_distributions(closure, venv)
            return
        except OSError:  # another file system: no hard links
            shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=300)
    # pip's cache / local index: no re-download; modules compile when first imported.
    _pip(venv / "bin" / "python", "install", "--quiet", "--no-compile", *pins)


def _installed_closure(roots: list[str]) -> dict[str, str] | None:
    """``{name: version}`` of ``roots`` and everything they require (their extras followed) in
    this environment, or None where something required is not installed."""
    found: dict[str, str] = {}
    todo = [Requirement(root) for root in roots]
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return None
        found[key[0]] = dist.version
        for line in dist.requires or []:
            needed = Requirement(line)
            wanted = [""] + sorted(requirement.extras)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(needed)
    return found


def _link_distributions(names: dict[str, str], venv: Path) -> None:
    """Hard-link every file the distributions ``names`` installed here (their RECORD) into
    ``venv``, at the same place relative to the environment, with the compiled modules this
    environment has cached (the kernels need not compile torch again); scripts in bin/ are left
    out (their first line names this environment's python)."""
    prefix = Path(sys.prefix).resolve()
    for name in names:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            source = Path(dist.locate_file(file)).resolve()
            relative = source.relative_to(prefix) if source.is_relative_to(prefix) else None
            if relative is None or relative.parts[0] == "bin" or not source.is_file():
                continue
            _link(source, venv / relative)
            if source.suffix == ".py":  # its compiled copy too, where this environment has one
                compiled = Path(importlib.util.cache_from_source(str(source)))
                if compiled.is_file():
                    _link(compiled, venv / compiled.relative_to(prefix))


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.link(source, target)


def repository_clone(folder: Path) -> tuple[Path, str, str]:
    """A git repository of the working tree as it is now: (its path, branch, commit).

    The branch is named ``colab.BOOK_REF``, so the set-up cell's git URL finds it.
    """
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    clone = folder / "repository"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    git = ["git", "-C", str(clone), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "--quiet", str(clone)], check=True)
    subprocess.run(git + ["add", "--all"], check=True)
    subprocess.run(git + ["commit", "--quiet", "--no-verify", "-m", "working tree"], check=True)
    ref = colab.BOOK_REF
    if re.fullmatch(r"[0-9a-f]{7,40}", ref):
        raise ValueError(f"BOOK_REF is the commit {ref}: the working tree cannot be installed "
                         "under that name")
    subprocess.run(git + ["branch", "--force", ref], check=True)
    head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    return clone, ref, head.stdout.strip()


@dataclass
class ColabStart:
    """A Colab-like kernel, ready to run chapters (see the module docstring)."""

    venv: Path
    clone: Path
    ref: str
    head: str                    # the clone's commit: the set-up cell must install this one
    jupyter_path: Path           # holds the kernel spec KERNEL_NAME
    before: dict[str, str]       # what the environment held before any chapter ran

    @classmethod
    def from_dict(cls, data: dict) -> "ColabStart":
        """The inverse of ``dataclasses.asdict`` (through JSON: paths come back as strings)."""
        paths = {key: Path(data[key]) for key in ("venv", "clone", "jupyter_path")}
        return cls(**{**data, **paths})

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def environ(self) -> dict[str, str]:
        """This process's environment with the kernel spec findable (for a build or nbclient)."""
        return {**os.environ, "JUPYTER_PATH": str(self.jupyter_path)}


def zoo_cache() -> str:
    """The zoo cache folder the kernel uses: the tests' own (``$COURSE_UTILS_CACHE``)."""
    return os.environ.get("COURSE_UTILS_CACHE", str(ROOT / ".zoo-cache"))


# Each Colab runtime is a machine of its own; here the chapters' kernels share one venv, and
# the build executes several chapters at once (course_utils.book.parallel). Two set-up cells
# installing into one venv at the same moment could break each other's files, so a kernel's first
# cell (the set-up cell) waits for any other kernel's first cell to end: the first installs, the
# others find the package.
_ONE_INSTALL_AT_A_TIME = """import fcntl
_setup_lock = open({lock!r}, "w")


def _wait_for_other_set_up_cells(info):
    fcntl.flock(_setup_lock, fcntl.LOCK_EX)
    get_ipython().events.unregister("pre_run_cell", _wait_for_other_set_up_cells)


def _let_the_next_one_run(result):
    fcntl.flock(_setup_lock, fcntl.LOCK_UN)
    get_ipython().events.unregister("post_run_cell", _let_the_next_one_run)


get_ipython().events.register("pre_run_cell", _wait_for_other_set_up_cells)
get_ipython().events.register("post_run_cell", _let_the_next_one_run)
"""


def _kernel_env(folder: Path, venv: Path, clone: Path) -> dict[str, str]:
    """The kernel's environment: the clean venv, a fake Colab, the git URL sent to the clone."""
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-fake-colab.py").write_text(
        "import sys, types\n"
        "# What the set-up cell looks for: on Colab this module is always imported.\n"
        "sys.modules.setdefault('google', types.ModuleType('google'))\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n")
    (startup / "01-one-install-at-a-time.py").write_text(_ONE_INSTALL_AT_A_TIME.format(
        lock=str(folder / "setup-cell.lock")))
    gitconfig = folder / "gitconfig"
    gitconfig.write_text(f'[url "file://{clone}"]\n\tinsteadOf = {colab.REPOSITORY_URL}\n'
                         "[protocol \"file\"]\n\tallow = always\n")
    constraints = folder / "constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in requirement_pins().items()))
    return {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "PYTHONPATH": "",
        "IPYTHONDIR": str(folder / "ipython"),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PIP_CONSTRAINT": str(constraints),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "COURSE_UTILS_CACHE": zoo_cache(),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        # On Colab the zoo would fetch the published weights; here nothing goes to the web.
        "COURSE_UTILS_WEIGHTS_URL": "off",
    }


def start(folder: Path) -> ColabStart:
    """The Colab-like environment, its clone of the working tree and its kernel spec, in ``folder``."""
    venv = colab_venv()
    clone, ref, head = repository_clone(folder)
    spec = folder / "jupyter" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python",
        "env": _kernel_env(folder, venv, clone)}))
    before = installed(venv / "bin" / "python")
    if "course-utils" in before:
        raise RuntimeError(f"{venv} already holds course-utils: the set-up cell would not install it")
    return ColabStart(venv, clone, ref, head, folder / "jupyter", before)


def run_cell(start: ColabStart, code: str, folder: Path) -> str:
    """Run ``code`` as one cell in the Colab-like kernel; return what it printed."""
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(start.jupyter_path)  # where nbclient finds the kernel
    try:
        NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=300,
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if saved is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = saved
    return "".join(o.get("text", "") for o in nb.cells[0].outputs)


def _dist_info(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python*/site-packages/course_utils-*.dist-info"))
    return found[0] if found else None


def installed_problems(start: ColabStart) -> list[str]:
    """What is wrong with the package the set-up cells installed (empty when all is right)."""
    dist = _dist_info(start.venv)
    if dist is None:
        return ["no set-up cell installed course_utils"]
    problems = []
    origin = json.loads((dist / "direct_url.json").read_text())
    vcs = origin.get("vcs_info", {})
    if (origin.get("url"), vcs.get("requested_revision"), vcs.get("commit_id")) != (
            colab.REPOSITORY_URL, start.ref, start.head):
        problems.append(f"installed from {origin}, not {colab.REPOSITORY_URL}@{start.ref} "
                        f"at the working tree's commit {start.head}")
    after = installed(start.python)
    if after.get("course-utils") != course_utils.__version__:
        problems.append(f"course-utils {after.get('course-utils')} installed, this tree is "
                        f"{course_utils.__version__}")
    for name in COLAB_PREINSTALLED:  # "keeps Colab's torch": nothing preinstalled replaced
        if after.get(name) != start.before[name]:
            problems.append(f"installing the package changed {name}: {start.before[name]} -> "
                            f"{after.get(name)}")
    return problems


def setup_cell_reinstalls(start: ColabStart, folder: Path) -> bool:
    """Run the chapters' set-up cell once more: does it install the package again?"""
    dist = _dist_info(start.venv)
    stamp = dist.stat().st_mtime_ns if dist else None
    run_cell(start, colab.setup_cell_source(), folder)
    dist = _dist_info(start.venv)
    return dist is None or dist.stat().st_mtime_ns != stamp
