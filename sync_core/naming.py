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


def fragments(word: str) -> list[str]:
    """Pieces of ``word`` of three characters or more, one of which survives a typo: its two
    halves (``glob``, ``exx`` of ``globexx``), or for a short word its first and last three
    characters; a word under three characters as it is. A name containing one of them is
    worth comparing with a mistyped ``word``."""
    if len(word) < 6:
        return list(dict.fromkeys([word[:3], word[-3:]]))
    half = len(word) // 2
    return [word[:half], word[half:]]
