"""The book's front-end scripts, served from the book itself: no CDN (run by `make book`).

    .venv/bin/python tools/offline_static.py     # fills book/_static/offline/ (not committed)

MathJax, require.js and the ipywidgets HTML manager come from npm (`make js-deps` installs
them into .browser/node_modules); anywidget's front end comes from the anywidget wheel in the
venv. `_config.yml` points MathJax and the widget scripts at these copies, so the published
book, and a downloaded copy of it, typeset math and run the chapters' widgets offline.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / ".browser" / "node_modules"
OFFLINE = ROOT / "book" / "_static" / "offline"   # served as _static/offline/ (html_static_path)


def sources() -> dict[str, Path]:
    """Name under OFFLINE -> the installed file or folder it is copied from."""
    import anywidget

    return {
        "mathjax": NODE_MODULES / "mathjax" / "es5",
        "require.js": NODE_MODULES / "requirejs" / "require.js",
        "embed-amd.js": NODE_MODULES / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js",
        # require.js looks for the widget module "anywidget" here (book/_static/widget-paths.js)
        "anywidget.js": Path(anywidget.__file__).parent / "nbextension" / "index.js",
    }


def missing() -> list[str]:
    """Installed files that the copies would come from but are not there (empty when ready)."""
    return [str(path) for path in sources().values() if not path.exists()]


def build(target: Path = OFFLINE) -> Path:
    """Copy every source into `target`; return `target`."""
    absent = missing()
    if absent:
        raise FileNotFoundError("run `make js-deps` first; missing: " + ", ".join(absent))
    target.mkdir(parents=True, exist_ok=True)
    for name, source in sources().items():
        if source.is_dir():   # MathJax's speech-rule engine is not needed to show formulas
            shutil.copytree(source, target / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("sre"))
        else:
            shutil.copy2(source, target / name)
    return target


if __name__ == "__main__":
    try:
        print(f"front-end scripts in {build().relative_to(ROOT)}")
    except FileNotFoundError as error:
        sys.exit(str(error))
