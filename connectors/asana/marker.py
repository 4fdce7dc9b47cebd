"""The mark a new project carries from its very first call.

Asana takes a custom field's value only once the field is on the project, and a project has
no fields until it exists, so the canonical ID can only be stamped by a second call. The create
therefore writes the canonical ID as the last line of the project's notes; the stamp puts the
notes back as mapped. A project whose stamp never happened (a crash, a lost answer) still shows
whose it is, and the retry adopts it instead of creating a second one.
"""

from __future__ import annotations

MARK = "Handoff canonical ID: "


def marked(notes: str | None, canonical_id: str) -> str:
    """``notes`` with the mark for ``canonical_id`` as their last line."""
    line = MARK + canonical_id
    return f"{notes}\n\n{line}" if notes else line


def unmarked(notes: str | None) -> tuple[str | None, str | None]:
    """(the notes without a mark, the canonical ID the mark names or ``None``)."""
    if not notes:
        return notes, None
    head, _sep, last = notes.rpartition("\n")
    if not last.startswith(MARK) or not last[len(MARK) :].strip():
        return notes, None
    return head.rstrip("\n"), last[len(MARK) :].strip()
