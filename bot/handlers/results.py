"""View models shared by several handlers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    """A one-line answer: done, refused, or not understood."""

    text: str
    ok: bool = True
    refused: bool = False
