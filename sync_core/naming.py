"""How customers are found by name: one lower-case, space-folded key per name they go by."""

from __future__ import annotations


def search_key(text: str) -> str:
    return " ".join(text.lower().split())


def with_name(search_name: str, name: str | None) -> str:
    """``search_name`` with one more name a customer is known by ("acme ltd | acme limited")."""
    key = search_key(name or "")
    if not key or key in search_name.split(" | "):
        return search_name
    return f"{search_name} | {key}" if search_name else key
