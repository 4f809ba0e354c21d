"""What a learner installs is what the chapters import; the instructors' and the build's tools
(course_utils.instructor, course_utils.book) declare their own dependencies as extras."""
from __future__ import annotations

import ast
import importlib.metadata
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import course_utils

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(course_utils.__file__).parent
EXTRAS = {"instructor": "instructor", "book": "book"}  # subpackage -> its extra in pyproject
ONLY_FOR_TOOLS = {"nbformat", "nbclient", "yaml", "sphinx", "docutils", "myst_nb", "jupyter_book"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    return {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", r)[0].lower()) for r in requirements}


def _third_party_imports(files: list[Path]) -> set[str]:
    """Top-level names of every module the files import (anywhere in them) outside the stdlib."""
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"course_utils"}


def _distributions(modules: set[str]) -> set[str]:
    """The installed distributions providing each top-level module name."""
    providers = importlib.metadata.packages_distributions()
    missing = sorted(m for m in modules if m not in providers)
    assert missing == [], f"no installed distribution provides {missing}"
    return {re.sub(r"[-_.]+", "-", providers[m][0].lower()) for m in modules}


def _files(subpackage: str | None) -> list[Path]:
    if subpackage:
        return sorted((PACKAGE / subpackage).rglob("*.py"))
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.relative_to(PACKAGE).parts[0] not in EXTRAS)


def test_the_learners_modules_import_only_declared_dependencies():
    imported = _third_party_imports(_files(None))
    assert imported & ONLY_FOR_TOOLS == set(), "a learner's module imports an instructor tool"
    undeclared = _distributions(imported) - _names(_project()["dependencies"])
    assert undeclared == set(), f"imported but not in pyproject's dependencies: {undeclared}"


@pytest.mark.parametrize("subpackage", sorted(EXTRAS))
def test_each_tool_subpackage_declares_what_it_imports_as_an_extra(subpackage):
    extra = _project()["optional-dependencies"][EXTRAS[subpackage]]
    declared = _names(extra) | _names(_project()["dependencies"])
    imported = _distributions(_third_party_imports(_files(subpackage)))
    # jupyter-book brings Sphinx and docutils with it: the build extra names the book tool.
    if "jupyter-book" in declared:
        declared |= {"sphinx", "docutils"}
    assert imported - declared == set()


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


def _run_without_tools(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER.format(blocked=ONLY_FOR_TOOLS) + code],
                          capture_output=True, text=True, timeout=300)


def test_every_learners_module_imports_without_the_tools_installed():
    names = [m.name for m in pkgutil.walk_packages([str(PACKAGE)], "course_utils.")
             if m.name.split(".")[1] not in EXTRAS]
    assert "course_utils.teaching.checks.ch01" in names and "course_utils.interp.featviz.render" in names
    code = "import importlib\nfor name in %r:\n    importlib.import_module(name)\nprint('ok')" % names
    result = _run_without_tools(code)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


@pytest.mark.parametrize("subpackage", sorted(EXTRAS))
def test_a_tool_without_its_extra_says_which_to_install(subpackage):
    result = _run_without_tools(f"import course_utils.{subpackage}")
    assert result.returncode != 0
    assert f"pip install 'course-utils[{EXTRAS[subpackage]}]'" in result.stderr


def _module_name(path: Path) -> str:
    parts = ["course_utils", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_imports(path: Path) -> set[str]:
    """The course_utils modules ``path`` imports at its top level (where a cycle would bite)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("course_utils"):
            found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("course_utils")}
    return found


def _is_tool(module: str) -> bool:
    """The instructors' and the build's subpackages, and the site tool of tools/."""
    parts = module.split(".")
    return parts[0] == "sitetools" or (parts[0] == "course_utils" and parts[1:2] != []
                                       and parts[1] in EXTRAS)


def test_the_import_graph_has_no_cycles_and_learners_modules_import_no_tool():
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in _package_imports(path) if m in files and m != name}
             for name, path in files.items()}
    for name, path in files.items():
        if not _is_tool(name):
            tools = sorted(filter(_is_tool, _package_imports(path) | _third_party_imports([path])))
            assert tools == [], f"{name} imports {tools}"
    visiting, done = set(), set()

    def visit(name: str, trail: list[str]) -> None:
        assert name not in visiting, "import cycle: " + " -> ".join(trail + [name])
        if name in done:
            return
        visiting.add(name)
        for target in sorted(graph[name]):
            visit(target, trail + [name])
        visiting.discard(name)
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
