"""A run's ``report.md`` as HTML for its gallery page.

CommonMark with tables (markdown-it-py). Raw HTML in the Markdown is shown as text, not
interpreted: a report is data the gallery did not write. Every relative link and image goes
through ``relink`` (which copies the target into the site and returns its new address); links
to other sites become plain text, so the gallery never loads or points to anything outside it.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

_md = MarkdownIt("commonmark", {"html": False}).enable("table")


def is_external(href: str) -> bool:
    """True for an address with a scheme (``https:``, ``mailto:``, ``data:``) or a host."""
    return bool(urlsplit(href).scheme) or href.startswith("//")


def render(text: str, relink: Callable[[str], str | None], demote: int = 1) -> str:
    """``text`` (Markdown) as HTML. ``relink(href)`` gets each relative link or image address
    as written (percent-encoded, possibly with a ``#fragment``) and returns the address to use
    instead, or None when the target is not there (the image becomes a note, the link plain
    text). Headings move ``demote`` levels down (the page has its own ``h1``)."""
    tokens = _md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + demote)}"
        if token.type == "inline" and token.children:
            _relink_inline(token.children, relink)
    return _md.renderer.render(tokens, _md.options, {})


def _relink_inline(children: list[Token], relink) -> None:
    closing = None  # what the link_close of a link turned into text should show
    for token in children:
        if token.type == "image":
            src = token.attrGet("src") or ""
            new = None if is_external(src) else relink(src)
            if new is None:
                alt = token.content or src
                _to_text(token, f"[image not in the gallery: {alt} ({src})]")
            else:
                token.attrSet("src", new)
        elif token.type == "link_open":
            href = token.attrGet("href") or ""
            if href.startswith("#"):
                continue
            new = None if is_external(href) else relink(href)
            if new is None:
                _to_text(token, "")
                # an autolink already shows its address
                shown = is_external(href) and token.markup != "autolink"
                closing = f" ({href})" if shown else ""
            else:
                token.attrSet("href", new)
        elif token.type == "link_close" and closing is not None:
            _to_text(token, closing)
            closing = None


def _to_text(token: Token, text: str) -> None:
    token.type, token.tag, token.content, token.children = "text", "", text, None
    token.attrs = {}
