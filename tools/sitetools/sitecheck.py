"""Checks over the built HTML files themselves (no browser): internal links and page weight."""
from __future__ import annotations

import html.parser
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Attributes that point at another file or anchor of the site, per tag.
LINK_ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src",
                   "source": "src", "video": "src", "audio": "src"}
_REFRESH = re.compile(r"url=(\S+)", re.IGNORECASE)
# The heaviest a page may be, its images included (inline animations and widget state grow it).
PAGE_LIMIT_BYTES = 2_000_000


@dataclass
class ParsedPage:
    """The links and the anchors (ids) of one HTML file."""

    links: list[tuple[str, str]] = field(default_factory=list)  # (tag, url)
    ids: set[str] = field(default_factory=set)
    images: list[str] = field(default_factory=list)


class _Parser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.page.ids.add(values["id"])
        if tag == "a" and "name" in values:
            self.page.ids.add(values["name"])
        url = values.get(LINK_ATTRIBUTES.get(tag, ""), "")
        if url:
            self.page.links.append((tag, url))
            if tag == "img":
                self.page.images.append(url)
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            match = _REFRESH.search(values.get("content", ""))
            if match:
                self.page.links.append(("meta", match.group(1).strip("'\"")))


@lru_cache(maxsize=None)
def parse(path: Path) -> ParsedPage:
    """Parse one HTML file (cached: every page is read once per run)."""
    parser = _Parser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser.page


def is_internal(url: str) -> bool:
    """True for a link into the site itself: no scheme (http:, data:, mailto:, ...) and no host."""
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc


def site_pages(html_root: Path) -> list[Path]:
    """Every HTML page of the site (theme assets under _static/ excluded)."""
    return sorted(p for p in html_root.rglob("*.html") if "_static" not in p.relative_to(html_root).parts)


def broken_links(html_root: Path, pages: list[Path] | None = None) -> list[str]:
    """Internal links, images, scripts and #anchors that do not resolve, as 'page: tag url (why)'.

    Looks at the links of `pages` (default: every page of the site) into the whole site.
    """
    problems = []
    root = html_root.resolve()
    for page in site_pages(html_root) if pages is None else pages:
        for tag, url in parse(page).links:
            if not is_internal(url):
                continue
            parts = urlsplit(url)
            path_part, fragment = unquote(parts.path), unquote(parts.fragment)
            if path_part.startswith("/"):
                target = root / path_part.lstrip("/")
            else:
                target = (page.parent / path_part) if path_part else page
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(html_root)}: <{tag}> {url}"
            if root not in target.parents and target != root:
                problems.append(f"{where} (points outside the site)")
            elif not target.is_file():
                problems.append(f"{where} (no such file)")
            elif fragment and target.suffix == ".html" and fragment not in parse(target).ids:
                problems.append(f"{where} (no anchor #{fragment})")
    return problems


@dataclass
class PageSize:
    """Bytes a reader downloads for one page, not counting the theme's shared scripts and styles."""

    page: str
    html_bytes: int
    image_bytes: int  # content image files (inline data: images are part of html_bytes; theme logos are not counted)

    @property
    def total(self) -> int:
        return self.html_bytes + self.image_bytes


def page_size(html_root: Path, page: Path) -> PageSize:
    """The weight of `page`: its HTML (inline images, animations, widget state) + its image files."""
    images = set()
    for url in parse(page).images:
        if is_internal(url):
            target = (page.parent / unquote(urlsplit(url).path)).resolve()
            if target.is_file() and "_static" not in target.relative_to(html_root.resolve()).parts:
                images.add(target)
    return PageSize(str(page.relative_to(html_root)), page.stat().st_size, sum(p.stat().st_size for p in images))


def size_table(sizes: list[PageSize], limit: int) -> str:
    """A Markdown table of page sizes, heaviest first."""
    rows = ["| page | HTML | image files | total | limit |", "|---|---:|---:|---:|---:|"]
    for s in sorted(sizes, key=lambda s: -s.total):
        rows.append(f"| {s.page} | {s.html_bytes / 1e3:.0f} kB | {s.image_bytes / 1e3:.0f} kB | "
                    f"{s.total / 1e6:.2f} MB | {limit / 1e6:.0f} MB |")
    return "\n".join(rows)
