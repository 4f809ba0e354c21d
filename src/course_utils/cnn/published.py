"""The book's own weights: published next to the HTML, downloaded and checked by the zoo.

The book build trains every zoo model it uses and publishes the checkpoints in ``zoo/`` beside
the HTML, with ``manifest.json`` (name, seed, recipe, sha256 of each file). In Colab, or when a
learner opts in (``COURSE_UTILS_WEIGHTS_URL``), ``zoo.pretrained`` fetches a model missing from
the local cache from there instead of training it, so the learner sees the book's own numbers
in seconds. Anything wrong (no network, a 404, a wrong checksum, another recipe) raises
``WeightsUnavailable``; the zoo then says why in one line and trains the model locally.

Nothing is fetched while the book builds (``BUILD_ENV``): the build is what publishes.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

import torch

from course_utils.teaching import colab

MANIFEST = "manifest.json"
FORMAT = 1                                  # bump when the manifest's layout changes
BUILD_ENV = "COURSE_BOOK_BUILD"             # set by the book build (course_utils.book.ledger)
URL_ENV = "COURSE_UTILS_WEIGHTS_URL"        # a folder URL holding manifest.json, or "off"
TIMEOUT_S = 20


class WeightsUnavailable(RuntimeError):
    """The published weights could not be used; the message says why."""


def weights_url() -> str | None:
    """Where to look for published weights, or None when the zoo must not fetch anything."""
    if os.environ.get(BUILD_ENV) == "1":
        return None
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return None if url.lower() == "off" else url.rstrip("/") + "/"
    if "google.colab" in sys.modules:
        return colab.weights_url()
    return None


# ----------------------------------------------------------------------------- publishing
def publish(entries: list[dict], folder: Path) -> dict:
    """Copy checkpoints into ``folder`` and write its manifest.

    entries: dicts with ``name``, ``seed``, ``recipe`` (a dict) and ``path`` (the checkpoint).
    Returns the manifest.
    """
    folder.mkdir(parents=True, exist_ok=True)
    models = []
    for entry in sorted(entries, key=lambda e: (e["name"], e["seed"])):
        source = Path(entry["path"])
        shutil.copy2(source, folder / source.name)
        models.append({"name": entry["name"], "seed": entry["seed"], "recipe": entry["recipe"],
                       "file": source.name, "sha256": sha256(source),
                       "bytes": source.stat().st_size})
    manifest = {"format": FORMAT, "book_ref": colab.BOOK_REF, "torch": torch.__version__,
                "models": models}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- fetching
def fetch(name: str, seed: int, recipe: dict, target: Path, url: str,
          progress: bool = True) -> Path:
    """Download the published checkpoint of (name, seed, recipe) from ``url`` to ``target``.

    Checks the manifest's format and book version, the recipe, the sha256 and that the file
    loads with ``weights_only=True``; only then moves it into place. Raises WeightsUnavailable.
    """
    manifest = _manifest(url)
    entry = _entry(manifest, name, seed, recipe)
    tmp = target.with_suffix(target.suffix + ".download")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _download(url + entry["file"], tmp, entry.get("bytes"), progress, f"{name} seed {seed}")
        if sha256(tmp) != entry["sha256"]:
            raise WeightsUnavailable(f"{entry['file']} does not match its sha256 checksum")
        try:
            torch.load(tmp, map_location="cpu", weights_only=True)
        except Exception as error:
            raise WeightsUnavailable(f"{entry['file']} is not a checkpoint ({error})") from None
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _manifest(url: str) -> dict:
    try:
        manifest = json.loads(_read(url + MANIFEST))
    except json.JSONDecodeError:
        raise WeightsUnavailable(f"{url}{MANIFEST} is not JSON") from None
    if manifest.get("format") != FORMAT:
        raise WeightsUnavailable(f"the manifest at {url} has format {manifest.get('format')}, "
                                 f"this package reads format {FORMAT}")
    if manifest.get("book_ref") != colab.BOOK_REF:
        raise WeightsUnavailable(f"the weights at {url} are those of book version "
                                 f"{manifest.get('book_ref')!r}, not {colab.BOOK_REF!r}")
    return manifest


def _entry(manifest: dict, name: str, seed: int, recipe: dict) -> dict:
    for entry in manifest.get("models", []):
        if entry["name"] == name and entry["seed"] == seed:
            if entry["recipe"] != recipe:
                raise WeightsUnavailable(f"the published {name!r} was trained with another recipe")
            return entry
    raise WeightsUnavailable(f"{name!r} seed {seed} is not among the published weights")


def _read(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise WeightsUnavailable(f"cannot read {url} ({_reason(error)})") from None


def _download(url: str, path: Path, size: int | None, progress: bool, label: str) -> None:
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(path, "wb") as out, \
                tqdm(total=size, unit="B", unit_scale=True, desc=f"zoo: downloading {label}",
                     disable=not progress, leave=False) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise WeightsUnavailable(f"cannot download {url} ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    return str(getattr(error, "reason", None) or error)


# ----------------------------------------------------------------------------- the book build
def publish_zoo(app, exception) -> None:
    """After an HTML build: every zoo checkpoint of the cache goes to ``zoo/`` beside the pages."""
    if exception is None and app.builder.format == "html":
        from course_utils.cnn import zoo

        publish(zoo.cached_models(), Path(app.outdir) / "zoo")


def setup(app):
    """Sphinx extension (``_config.yml``): no fetching during the build, publishing after it."""
    os.environ[BUILD_ENV] = "1"   # the chapters' kernels inherit it
    app.connect("build-finished", publish_zoo)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
