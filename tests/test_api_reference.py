"""The API reference (book/api.md): every learner module once, under the chapter that first
imports it, in agreement with the package docstring's map."""
import importlib
import pkgutil
import re
from pathlib import Path

import course_utils
import bookcheck  # tools/bookcheck.py (pyproject's pythonpath)

ROOT = Path(__file__).resolve().parent.parent
API_PAGE = ROOT / "book" / "api.md"
LEARNER_PACKAGES = ["course_utils.data", "course_utils.cnn", "course_utils.interp", "course_utils.teaching"]
EVERY_CHAPTER = "every chapter"


def api_sections(text: str) -> dict[str, str]:
    """{module: chapter} from the page: "1", "5a", ... or "every chapter"."""
    sections, chapter = {}, None
    for line in text.splitlines():
        heading = re.match(r"## (?:Chapter (\w+):|(Every chapter))", line)
        if heading:
            chapter = heading.group(1) or EVERY_CHAPTER
        module = re.match(r"\.\. automodule:: (\S+)", line)
        if module:
            assert module.group(1) not in sections, f"{module.group(1)} is listed twice"
            sections[module.group(1)] = chapter
    return sections


def docstring_chapters(doc: str) -> dict[str, str]:
    """{module: chapter} from the package docstring's bullets "- ``a``, ``b``: ... (chapter N)"."""
    found, package = {}, None
    for block in re.split(r"\n(?=- |``course_utils)", doc):
        heading = re.match(r"``(course_utils\.\w+)``", block)
        if heading:
            package = heading.group(1)
            continue
        names, _, _ = block.partition(":")
        marker = re.findall(r"\((chapter (\w+)|every chapter)\)", block)
        if package and block.startswith("- ") and marker:
            chapter = marker[-1][1] or EVERY_CHAPTER
            found.update({f"{package}.{name}": chapter for name in re.findall(r"``(\w+)``", names)})
    return found


def chapter_of(notebook: Path) -> str:
    return notebook.stem.split("_")[0].lstrip("0")   # 05a_features -> 5a


def first_imports() -> dict[str, str]:
    """{module: the first chapter, in reading order, whose code imports it}."""
    first: dict[str, str] = {}
    for notebook in bookcheck.chapters():
        for path in bookcheck.course_names(notebook).values():
            module = path if bookcheck.is_module(path) else path.rpartition(".")[0]
            first.setdefault(module, chapter_of(notebook))
    return first


def learner_modules() -> set[str]:
    """Every module a learner installs, except the parts of a package that documents them."""
    found = set()
    for name in LEARNER_PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, prefix=name + "."):
            parent = importlib.import_module(info.name.rpartition(".")[0])
            if getattr(parent, "__all__", None) is None:  # featviz re-exports its parts
                found.add(info.name)
    return found


def test_every_learner_module_is_in_the_api_reference():
    listed = set(api_sections(API_PAGE.read_text()))
    missing = learner_modules() - listed
    assert not missing, f"modules missing from book/api.md: {sorted(missing)}"
    unknown = {m for m in listed if not bookcheck.is_module(m)}
    assert not unknown, f"book/api.md lists modules that do not exist: {sorted(unknown)}"


def test_each_module_is_listed_under_the_chapter_that_first_imports_it():
    sections = api_sections(API_PAGE.read_text())
    wrong = {module: (sections.get(module), chapter) for module, chapter in first_imports().items()
             if sections.get(module) not in (chapter, EVERY_CHAPTER)}
    assert not wrong, f"(listed under, first imported by chapter): {wrong}"


def test_the_package_docstring_maps_the_modules_to_the_same_chapters():
    sections = api_sections(API_PAGE.read_text())
    documented = docstring_chapters(course_utils.__doc__)
    assert len(documented) >= 30, "the docstring's map was not read"
    differ = {m: (c, sections.get(m)) for m, c in documented.items() if sections.get(m) != c}
    assert not differ, f"(docstring, api.md) disagree: {differ}"


def test_the_page_readers_fail_on_a_wrong_map():
    page = "## Chapter 2: x\n\n```{eval-rst}\n.. automodule:: course_utils.cnn.conv\n```\n"
    assert api_sections(page) == {"course_utils.cnn.conv": "2"}
    doc = "``course_utils.cnn``: the network\n\n- ``conv``, ``pooling``: ops (chapter 1)\n"
    assert docstring_chapters(doc) == {"course_utils.cnn.conv": "1", "course_utils.cnn.pooling": "1"}
