"""Discovery's pure parts: value types, masking personal data, creation dates, twins."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.base import Record
from connectors.record_types import RecordType
from sync_core.discovery import describe_fields, first_created, likely_twins, mask, value_type

SPEC = RecordType(
    name="person",
    fields=frozenset({"id", "name", "email", "phone", "add_time"}),
    id_field="id",
    display_field="name",
    writable=frozenset({"name", "email", "phone"}),
    supports_custom_fields=True,
)


def record(ident: str, **fields: object) -> Record:
    return Record("person", ident, fields, display_name=str(fields.get("name")))


def test_value_types_take_the_most_common_kind() -> None:
    assert value_type([1, 2.5, "x"]) == "number"
    assert value_type(["2026-01-05T09:00:00Z", "2026-01-06"]) == "date"
    assert value_type([True]) == "boolean" and value_type([[1]]) == "list"
    assert value_type([{"a": 1}]) == "object" and value_type([]) == "empty"


def test_personal_data_is_masked_and_ids_are_not() -> None:
    assert mask("email", "jane.doe@acme.example") == "j***@acme.example"
    assert mask("phone", "+44 20 7946 0958") == "***58"
    assert mask("Notes", "+1 (555) 010-9999") == "***99"  # any value that dials is a phone
    assert mask("gid", "1204000000000101") == "1204000000000101"  # an id, not a phone
    assert mask("person_name", "Jane Doe") == "J. D."
    assert mask("Contact", {"ContactID": "x", "Name": "Acme"}) == "{Acme}"
    assert mask("title", "x" * 80).endswith("…") and len(mask("title", "x" * 80)) == 60


def test_fields_declared_and_custom_with_masked_samples() -> None:
    records = [
        record("1", name="Jane Doe", email="jane@acme.example", **{"Client code": "AC-1"}),
        record("2", name="Bob Roe", email=None),
    ]
    found = {f.name: f for f in describe_fields(SPEC, records, "person")}
    assert found["name"].samples == ("J. D.", "B. R.")  # a person's display name
    assert found["email"].filled == 1 and found["email"].samples == ("j***@acme.example",)
    assert found["phone"].type == "empty" and found["phone"].writable
    assert found["Client code"].custom and found["Client code"].samples == ("AC-1",)
    assert not found["id"].writable and not found["id"].custom


def test_first_created_prefers_a_creation_field_over_the_last_change() -> None:
    changed = datetime(2026, 3, 1, tzinfo=UTC)
    records = [
        Record("deal", "1", {"add_time": "2025-01-02T03:04:05Z"}, updated_at=changed),
        Record("deal", "2", {}, updated_at=datetime(2025, 6, 1, tzinfo=UTC)),
    ]
    assert first_created(records) == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first_created([]) is None


def test_twins_pair_records_of_two_systems_only() -> None:
    crm = [Record("organization", "1", {"name": "Acme Ltd"}, display_name="Acme Ltd")]
    crm_people = [Record("person", "9", {"name": "Acme Ltd"}, display_name="Acme Ltd")]
    books = [
        Record("contact", "c1", {"Name": "Acme Limited"}, display_name="Acme Limited"),
        Record("contact", "c2", {"Name": "Globex"}, display_name="Globex"),
    ]
    twins = likely_twins(
        {"crm.organization": crm, "crm.person": crm_people, "books.contact": books}, {}
    )
    pairs = {(t.left, t.left_id, t.right, t.right_id) for t in twins}
    assert ("books.contact", "c1", "crm.organization", "1") in pairs
    assert not any(t.left.startswith("crm") and t.right.startswith("crm") for t in twins)
    assert not any("c2" in (t.left_id, t.right_id) for t in twins)
    # a person's name is masked in the twins shown
    people = [t for t in twins if "crm.person" in (t.left, t.right)]
    assert people and all("A. L." in (t.left_name, t.right_name) for t in people)


def test_a_twin_named_by_its_email_is_shown_masked() -> None:
    from sync_core.discovery import _shown_name

    assert _shown_name("mailchimp.member", "jane@acme.example") == "j***@acme.example"
    assert _shown_name("xero.contact", "Acme Limited") == "Acme Limited"
