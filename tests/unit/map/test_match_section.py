"""The ``match:`` section of an entity: defaults, thresholds, keys checked like the rest."""

from __future__ import annotations

import pytest

from sync_core.map.loader import MapError, load_map_text
from sync_core.map.model import RecordRef
from tests.unit.map.maps import GOOD_MAP, broken, line_of

COPY = '      work.project: {id_field: "custom_field:Deal"}\n'


def _with_match(section: str) -> str:
    return broken(COPY, COPY + "    match:\n" + section)


def test_defaults_when_the_section_is_left_out() -> None:
    loaded = load_map_text(GOOD_MAP, "map.yaml")
    assert loaded.map is not None
    match = loaded.map.entities["client"].match
    assert (match.auto_accept, match.review, match.keys) == (0.95, 0.75, {})


def test_keys_and_thresholds_are_read() -> None:
    text = _with_match(
        '      keys:\n        email: {crm.deal: "{{ person_email }}", '
        'books.contact: "{{ EmailAddress }}"}\n      auto_accept: 0.9\n      review: 0.6\n'
    )
    loaded = load_map_text(text, "map.yaml")
    assert loaded.problems == []
    assert loaded.map is not None
    match = loaded.map.entities["client"].match
    assert (match.auto_accept, match.review) == (0.9, 0.6)
    assert match.key_templates(RecordRef.parse("books.contact")) == {"email": "{{ EmailAddress }}"}


def test_a_key_reading_an_unknown_field_is_reported_on_its_line() -> None:
    text = _with_match('      keys:\n        email: {books.contact: "{{ EmailAdress }}"}\n')
    problems = load_map_text(text, "map.yaml").problems
    found = [(p.rule, p.line) for p in problems]
    assert ("unknown-field", line_of(text, "EmailAdress")) in found
    assert "did you mean 'EmailAddress'" in problems[0].message


def test_review_above_auto_accept_is_refused() -> None:
    text = _with_match("      auto_accept: 0.7\n      review: 0.9\n")
    with pytest.raises(MapError) as caught:
        load_map_text(text, "map.yaml")
    assert [p.rule for p in caught.value.problems] == ["invalid-value"]
    assert "must not be above auto_accept" in caught.value.problems[0].message


def test_a_threshold_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(MapError) as caught:
        load_map_text(_with_match("      auto_accept: 1.5\n"), "map.yaml")
    assert [p.rule for p in caught.value.problems] == ["invalid-value"]
    assert "less than or equal to 1" in caught.value.problems[0].message
