"""Writing the map's document and picture: Markdown, SVG, PNG and HTML."""

from __future__ import annotations

from enum import StrEnum

from bot.map_render.html import html_document
from bot.map_render.markdown import markdown_document
from bot.map_render.png import png_picture
from bot.map_render.svg import svg_picture
from sync_core.map.document import MapDocument, View


class Format(StrEnum):
    MD = "md"
    SVG = "svg"
    PNG = "png"
    HTML = "html"


def render(document: MapDocument, fmt: Format, view: View = View.BOTH) -> bytes:
    """The map in ``fmt``; the picture shows ``view`` (the Markdown and HTML documents
    embed or describe both states)."""
    if fmt is Format.MD:
        return markdown_document(document, view).encode()
    if fmt is Format.SVG:
        return svg_picture(document, view).encode()
    if fmt is Format.PNG:
        return png_picture(svg_picture(document, view))
    return html_document(document, view).encode()


__all__ = ["Format", "render"]
