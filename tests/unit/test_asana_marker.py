"""The mark an Asana project's first call carries in its notes."""

from __future__ import annotations

from connectors.asana.marker import marked, unmarked


def test_the_asana_mark_round_trips() -> None:
    assert unmarked(marked("Deal value 9 EUR", "PD-7")) == ("Deal value 9 EUR", "PD-7")
    assert unmarked(marked(None, "PD-7")) == ("", "PD-7")
    assert unmarked("Handoff canonical ID: is mentioned mid-text\nand more") == (
        "Handoff canonical ID: is mentioned mid-text\nand more",
        None,
    )
    assert unmarked(None) == (None, None)
