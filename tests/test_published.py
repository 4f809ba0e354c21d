"""The book's published weights: the zoo fetches, verifies and loads them, or says why not.

A tiny zoo recipe (sklearn digits, one epoch) is trained once, published into a folder as the
book build does, and served on 127.0.0.1; nothing leaves this machine.
"""
import contextlib
import functools
import http.server
import json
import shutil
import socket
import threading
from dataclasses import asdict

import pytest
import torch

from course_utils.cnn import published, zoo
from course_utils.teaching import colab

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = zoo.Recipe("lenet", "digits", image_size=8, epochs=1, description="test only")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder):
    """Serve ``folder`` on a free port of 127.0.0.1; yields (url, list of requested paths)."""
    requests = []

    class Handler(_Quiet):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/zoo/", requests
    finally:
        server.shutdown()


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(zoo.RECIPES, "tiny", TINY)
    monkeypatch.delenv(published.BUILD_ENV, raising=False)
    return "tiny"


@pytest.fixture
def site(tiny, tmp_path, monkeypatch):
    """A built book's folder whose zoo/ holds the tiny model, published as the build does."""
    monkeypatch.setenv("COURSE_UTILS_CACHE", str(tmp_path / "build-cache"))
    monkeypatch.setenv(published.URL_ENV, "off")
    model = zoo.pretrained(tiny, seed=0, progress=False)
    manifest = published.publish(zoo.cached_models(), tmp_path / "html" / "zoo")
    # A fresh cache, as in a new Colab runtime.
    monkeypatch.setenv("COURSE_UTILS_CACHE", str(tmp_path / "learner-cache"))
    return {"html": tmp_path / "html", "model": model, "manifest": manifest}


def _learner(monkeypatch, url):
    monkeypatch.setenv(published.URL_ENV, url)


def test_publish_writes_a_manifest_with_checksums(site):
    manifest = site["manifest"]
    assert manifest["format"] == published.FORMAT and manifest["book_ref"] == colab.BOOK_REF
    (entry,) = manifest["models"]
    assert (entry["name"], entry["seed"], entry["recipe"]) == ("tiny", 0, asdict(TINY))
    path = site["html"] / "zoo" / entry["file"]
    assert entry["sha256"] == published.sha256(path) and entry["bytes"] == path.stat().st_size
    assert json.loads((site["html"] / "zoo" / "manifest.json").read_text()) == manifest


def test_a_fresh_cache_fetches_verifies_and_loads_the_published_model(site, monkeypatch, capsys):
    with serve(site["html"]) as (url, requests):
        _learner(monkeypatch, url)
        model = zoo.pretrained("tiny", seed=0, progress=True)
    assert "downloaded from the published book, checksum verified" in capsys.readouterr().out
    assert requests == ["/zoo/manifest.json", "/zoo/" + site["manifest"]["models"][0]["file"]]
    for ours, theirs in zip(model.state_dict().values(), site["model"].state_dict().values()):
        assert torch.equal(ours, theirs)
    assert zoo.checkpoint_path("tiny", 0).is_file()  # cached: the next call reads the disk
    assert zoo.training_history("tiny", 0).loss


def _corrupt_file(site):
    path = site["html"] / "zoo" / site["manifest"]["models"][0]["file"]
    path.write_bytes(path.read_bytes()[:100])


def _wrong_checksum(site):
    manifest = json.loads((site["html"] / "zoo" / "manifest.json").read_text())
    manifest["models"][0]["sha256"] = "0" * 64
    (site["html"] / "zoo" / "manifest.json").write_text(json.dumps(manifest))


def _old_manifest(site):
    manifest = json.loads((site["html"] / "zoo" / "manifest.json").read_text())
    manifest["format"] = 0
    (site["html"] / "zoo" / "manifest.json").write_text(json.dumps(manifest))


def _no_zoo(site):
    shutil.rmtree(site["html"] / "zoo")


@pytest.mark.parametrize("damage,reason", [
    (_corrupt_file, "does not match its sha256 checksum"),
    (_wrong_checksum, "does not match its sha256 checksum"),
    (_old_manifest, "has format 0"),
    (_no_zoo, "404"),
])
def test_a_bad_download_falls_back_to_training_with_a_clear_message(
        site, monkeypatch, capsys, damage, reason):
    damage(site)
    with serve(site["html"]) as (url, _):
        _learner(monkeypatch, url)
        model = zoo.pretrained("tiny", seed=0, progress=False)
    out = capsys.readouterr().out
    assert "zoo: published weights not used (" in out and reason in out
    assert "training 'tiny' here instead" in out
    assert model is not None and zoo.checkpoint_path("tiny", 0).is_file()
    assert not list(zoo.cache_dir().glob("*.download"))  # nothing half-written is left


def test_an_unreachable_host_falls_back_to_training(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_UTILS_CACHE", str(tmp_path))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _learner(monkeypatch, f"http://127.0.0.1:{port}/zoo/")
    zoo.pretrained("tiny", seed=0, progress=False)
    out = capsys.readouterr().out
    assert "published weights not used (cannot read" in out and "refused" in out.lower()


def test_nothing_is_fetched_while_the_book_builds(site, monkeypatch):
    monkeypatch.setenv(published.BUILD_ENV, "1")
    with serve(site["html"]) as (url, requests):
        _learner(monkeypatch, url)
        zoo.pretrained("tiny", seed=0, progress=False)
    assert requests == []


def test_where_the_weights_are_looked_for(monkeypatch):
    monkeypatch.delenv(published.BUILD_ENV, raising=False)
    monkeypatch.delenv(published.URL_ENV, raising=False)
    monkeypatch.delitem(__import__("sys").modules, "google.colab", raising=False)
    assert published.weights_url() is None  # a local learner trains, unless they opt in
    monkeypatch.setitem(__import__("sys").modules, "google.colab", object())
    assert published.weights_url() == colab.weights_url() == f"{colab.BOOK_URL}/zoo/"
    monkeypatch.setenv(published.URL_ENV, "off")
    assert published.weights_url() is None
    monkeypatch.setenv(published.URL_ENV, "http://127.0.0.1:9/book/zoo")
    assert published.weights_url() == "http://127.0.0.1:9/book/zoo/"
    monkeypatch.setenv(published.BUILD_ENV, "1")
    assert published.weights_url() is None
