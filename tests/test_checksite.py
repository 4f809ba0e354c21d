"""tools/checksite.py on small hand-written sites: it finds what is wrong and says so."""
import pytest

import checksite  # tools/checksite.py (pyproject's pythonpath)


def _site(tmp_path, index: str):
    (tmp_path / "index.html").write_text(f"<html><body><h1 id='top'>Book</h1>{index}</body></html>")
    (tmp_path / "page.html").write_text("<html><body><p id='here'>x</p></body></html>")
    return tmp_path


def test_a_clean_site_passes(tmp_path, capsys):
    site = _site(tmp_path, '<a href="page.html#here">a page</a> <a href="#top">up</a>')
    assert checksite.main([str(site)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("no problems found")


def test_broken_links_and_anchors_are_reported(tmp_path, capsys):
    site = _site(tmp_path, '<a href="missing.html">gone</a> <a href="page.html#nowhere">x</a>')
    assert checksite.main([str(site)]) == 1
    out = capsys.readouterr().out
    assert "missing.html" in out and "#nowhere" in out and out.count("broken link:") == 2


def test_a_heavy_page_is_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(checksite.sitecheck, "PAGE_LIMIT_BYTES", 100)
    assert checksite.main([str(_site(tmp_path, "<p>" + "x" * 500 + "</p>"))]) == 1
    assert "page over" in capsys.readouterr().out


def test_a_folder_without_a_book_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        checksite.main([str(tmp_path)])
    assert stop.value.code == 2 and "has no index.html" in capsys.readouterr().err
