"""The map as one HTML page: the picture on top, the document below (no scripts, no links
to fetch: a file to open or attach as it is)."""

from __future__ import annotations

from html import escape

from bot.map_render.markdown import markdown_document
from bot.map_render.svg import svg_picture
from sync_core.map.document import MapDocument, View


def html_document(document: MapDocument, view: View = View.BOTH) -> str:
    # The document part is the Markdown text, shown as it is: readable without a Markdown
    # renderer, and never a way for map text to become markup.
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(document.name)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{white-space:pre-wrap}</style>"
        "</head><body>\n"
        f"{svg_picture(document, view)}"
        f"<pre>{escape(markdown_document(document, view))}</pre>\n"
        "</body></html>\n"
    )
