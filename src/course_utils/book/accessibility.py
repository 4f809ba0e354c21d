"""A Sphinx extension that mends the one markup error axe-core finds in the theme's pages.

docutils writes a bibliography as ``<div role="list">`` holding ``role="doc-biblioentry"``
items; that role is deprecated in DPUB-ARIA 1.1, so screen readers may not announce the items
as a list, and axe-core reports a critical "aria-required-children" violation on the
references page. Each entry is a list item, so it gets the role ``listitem``.
"""
from __future__ import annotations

DEPRECATED_ROLES = {'role="doc-biblioentry"': 'role="listitem"'}


def mend_roles(body: str) -> str:
    """The HTML ``body`` with every deprecated role replaced."""
    for old, new in DEPRECATED_ROLES.items():
        body = body.replace(old, new)
    return body


def _on_page(app, pagename, templatename, context, doctree) -> None:
    if "body" in context:
        context["body"] = mend_roles(context["body"])


def setup(app):
    app.connect("html-page-context", _on_page)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
