"""HTML to readable text for the model: markdown (headings, lists, links, code blocks) by markdownify,
after dropping what a reader never sees (scripts, styles, hidden elements, forms, embedded media)."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

INVISIBLE = ("script", "style", "noscript", "template", "iframe", "svg", "canvas", "object", "embed", "form")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


def _hidden(tag: Tag) -> bool:
    style = tag.get("style")
    return (
        tag.has_attr("hidden")
        or tag.get("aria-hidden") == "true"
        or (isinstance(style, str) and bool(_HIDDEN_STYLE.search(style)))
    )


def html_to_text(html: bytes | str) -> str:
    """The page title, then the body as markdown."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(INVISIBLE):
        tag.decompose()
    for tag in [t for t in soup.find_all(True) if isinstance(t, Tag) and _hidden(t)]:
        if not tag.decomposed:
            tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for part in (soup.title, soup.head):
        if part is not None and not part.decomposed:
            part.decompose()
    converter = MarkdownConverter(
        heading_style="ATX", bullets="-", escape_underscores=False, escape_asterisks=False
    )
    body = converter.convert_soup(soup)
    body = _BLANK_LINES.sub("\n\n", body).strip()
    return f"# {title}\n\n{body}" if title and not body.startswith("#") else body
