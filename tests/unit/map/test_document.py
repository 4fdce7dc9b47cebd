"""The map as a document: what it says, and which arrows the current and target pictures draw."""

from __future__ import annotations

import json

from sync_core.map.document import ArrowKind, View, build_document
from sync_core.map.loader import load_map_text
from sync_core.map.model import PhaseState
from tests.unit.map.maps import GOOD_MAP, broken

HAND_COPY = """\
    manual_step: Someone types it in.
    manual_copies:
      - {who: Delivery, from: crm.deal, to: work.project, fields: [name], when: on Mondays}
"""


def _document(text: str = GOOD_MAP):
    loaded = load_map_text(text, "map.yaml")
    assert not loaded.errors, loaded.errors
    return build_document(loaded.map)


def test_the_target_state_draws_every_flow_coloured_by_its_phase() -> None:
    arrows = _document().arrows[View.TARGET]
    assert [(str(a.source), str(a.target), a.kind, a.state) for a in arrows] == [
        ("crm.deal", "books.contact", ArrowKind.ONE_WAY, PhaseState.LIVE),
        ("crm.deal", "work.project", ArrowKind.ONE_WAY, PhaseState.PARALLEL),
        ("books.invoice", "crm.deal", ArrowKind.ONE_WAY, PhaseState.PARALLEL),
        ("books.contact", "crm.deal", ArrowKind.ONE_WAY, PhaseState.PARALLEL),
        ("crm.deal", "books.contact", ArrowKind.TWO_WAY, PhaseState.PARALLEL),
    ]
    assert arrows[-1].label == "title-both-ways: title ⇄ FirstName"


def test_a_flow_into_a_copy_carries_the_canonical_id() -> None:
    arrows = _document().arrows[View.TARGET]
    carried = {a.label: a.carries_id for a in arrows if a.kind is ArrowKind.ONE_WAY}
    assert carried == {
        "deal-to-contact": "PD-{id}",
        "deal-to-project": "PD-{id}",
        # an invoice's status goes to a deal, which holds another entity: no ID travels
        "invoice-status-to-deal": None,
        # the contact holds the client too, but the deal is not its copy: the deal mints it
        "tax-number-to-deal": None,
    }


def test_the_current_state_shows_hand_copying_of_phases_not_live_and_no_planned_flow() -> None:
    text = broken("    manual_step: Someone types it in.\n", HAND_COPY)
    text = text.replace("    state: parallel\n", "    state: planned\n")
    current = _document(text).arrows[View.CURRENT]
    # phase 2 is planned: its four flows do not run yet; its hand copy does
    assert [(a.label, a.kind) for a in current] == [
        ("deal-to-contact", ArrowKind.ONE_WAY),
        ("Delivery by hand: name", ArrowKind.MANUAL),
    ]


def test_hand_copies_of_a_live_phase_are_gone_from_the_current_state() -> None:
    text = broken("    manual_step: Someone types it in.\n", HAND_COPY)
    text = text.replace("    state: parallel\n", "    state: live\n")
    current = _document(text).arrows[View.CURRENT]
    assert all(a.kind is not ArrowKind.MANUAL for a in current)
    assert _document(text).phases[1].manual_copies[0].who == "Delivery"


def test_a_hand_copy_naming_an_unknown_system_is_an_error() -> None:
    text = broken(
        "    manual_step: Someone types it in.\n", HAND_COPY.replace("crm.deal", "crn.deal")
    )
    loaded = load_map_text(text, "map.yaml")
    assert [p.rule for p in loaded.errors] == ["unknown-system"]
    assert (
        loaded.errors[0].line
        == text.splitlines().index(next(line for line in text.splitlines() if "crn.deal" in line))
        + 1
    )


def test_more_than_a_quarter_two_way_arrows_warns_and_fewer_do_not() -> None:
    document = _document()  # one two-way field among five arrows
    assert document.two_way_warning(View.TARGET) is None
    two_way = GOOD_MAP + (
        "  - name: both-ways\n    phase: 1\n    between: [crm.deal, books.contact]\n"
        '    fields:\n      "title <-> Name": {conflict: last_write_wins}\n'
    )
    loaded = load_map_text(two_way, "map.yaml")
    document = build_document(loaded.map)
    kinds = [a.kind for a in document.arrows[View.TARGET]]
    assert kinds.count(ArrowKind.TWO_WAY) == 2 and len(kinds) == 6
    assert "2 of 6 arrows are two-way" in (document.two_way_warning(View.TARGET) or "")


def test_the_document_data_is_json() -> None:
    data = json.loads(json.dumps(_document().as_dict()))
    assert [s["name"] for s in data["systems"]] == ["crm", "books", "work"]
    assert data["arrows"]["target"][0]["source"] == "crm.deal"
