"""SVG to PNG with resvg (a Rust renderer in a self-contained wheel: no system libraries)."""

from __future__ import annotations

import resvg_py


def png_picture(svg: str) -> bytes:
    # Twice the SVG's size: sharp on high-density screens and in Slack's preview.
    return bytes(resvg_py.svg_to_bytes(svg_string=svg, zoom=2, background="white"))
