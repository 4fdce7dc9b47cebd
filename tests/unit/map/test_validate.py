"""Each validation rule: the good map passes clean; one broken map per rule, checked for the
rule id and the line it points at."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sync_core.map.loader import load_map_text
from sync_core.map.problems import Severity
from sync_core.map.validate import RULES
from tests.unit.map.maps import GOOD_MAP, broken, line_of


@dataclass(frozen=True)
class Case:
    rule: str
    old: str
    new: str
    marker: str  # text on the line the problem must point at
    nth: int = 1  # which line holding the marker
    severity: Severity = Severity.ERROR


TWO_WAY_TAX = """\
  - name: tax-number-to-deal
    phase: 2
    between: [books.contact, crm.deal]
    fields:
      "TaxNumber <-> Tax number": {conflict: source_wins}"""

ONE_WAY_TAX = """\
  - name: tax-number-to-deal
    phase: 2
    from: books.contact
    to: crm.deal
    fields:
      "Tax number": "{{ TaxNumber }}\""""

CASES = [
    Case("unknown-system", "to: books.contact", "to: ledger.contact", "to: ledger.contact"),
    Case("unknown-record-type", "to: work.project", "to: work.board", "to: work.board"),
    Case("unknown-connector", "connector: xero", "connector: ledgerly", "connector: ledgerly"),
    Case("unknown-field", "when: \"status == 'won'\"", "when: \"stauts == 'won'\"", "stauts"),
    Case("unknown-field", 'Name: "{{ org_name }}"', 'Name: "{{ org_nam }}"', "org_nam }}"),
    Case("unknown-field", 'value: "{{ target.url }}"', 'value: "{{ targte.url }}"', "targte"),
    Case("unknown-field", "fields: [due_on]", "fields: [due_date]", "due_date"),
    Case("unknown-field", "{{ Contact.ContactID }}", "{{ Contakt.ContactID }}", "Contakt"),
    Case("unknown-target-field", 'Name: "{{ org_name }}"', 'Nmae: "{{ org_name }}"', "Nmae:"),
    Case("unknown-target-field", 'field: "Project link"', 'field: "Project url"', "Project url"),
    Case("read-only-target-field", 'Name: "{{ org_name }}"', 'ContactID: "{{ id }}"', "ContactID:"),
    Case(
        "custom-fields-unsupported",
        '      client_secret: "env:BOOKS_SECRET"\n',
        '      client_secret: "env:BOOKS_SECRET"\n    custom_fields: {contact: [Extra]}\n',
        "custom_fields: {contact",
    ),
    Case("no-source-of-truth", "    source_of_truth: books.invoice\n", "", "  invoice:"),
    Case(
        "bad-match-key",
        '      work.project: {id_field: "custom_field:Deal"}\n',
        '      work.project: {id_field: "custom_field:Deal"}\n'
        '    match:\n      keys:\n        name: {books.invoice: "{{ Reference }}"}\n',
        'books.invoice: "{{ Reference',
    ),
    Case(
        "two-owners",
        "      - {system: books.contact, fields: [TaxNumber]}\n",
        "      - {system: books.contact, fields: [TaxNumber]}\n"
        "      - {system: work.project, fields: [start_on, due_on]}\n",
        "[start_on, due_on]",
    ),
    Case(
        "two-owners",
        "{system: books.contact, fields: [TaxNumber]}",
        "{system: books.contact}",
        "{system: books.contact}",
        # with the crm line made unconditional too
    ),
    Case(
        "no-canonical-id-field",
        '      work.project: {id_field: "custom_field:Deal"}\n',
        "",
        "to: work.project",
    ),
    Case(
        "no-canonical-id-field",
        "    to: books.contact\n",
        "    to: crm.person\n",
        "to: crm.person",
    ),
    Case("bad-id-field", "{id_field: ContactNumber}", "{id_field: ContactID}", "ContactID}"),
    Case("canonical-id-format", 'format: "PD-{id}"', 'format: "PD"', 'format: "PD"'),
    Case(
        "canonical-id-format",
        'format: "PD-{id}"',
        'format: "PD-{code:2}"',
        'format: "PD-{code:2}"',
    ),
    Case(
        "canonical-id-format",
        'format: "PD-{id}"',
        'format: "PD-{id}-{code}"',
        'format: "PD-{id}-{code}"',
    ),
    Case(
        "writes-into-source-of-truth",
        "fields: [TaxNumber]",
        "fields: [TaxNumber, Name]",
        'Name: "{{ org_name }}"',
    ),
    Case(
        "writes-into-source-of-truth",
        "{system: books.contact, fields: [TaxNumber]}",
        "{system: books.contact}",
        'Name: "{{ org_name }}"',
    ),
    Case(
        "two-flows-one-field", '"Tax number": "{{', '"Invoice status": "{{', '"Invoice status"', 3
    ),
    Case(
        "two-flows-one-field",
        "title <-> FirstName",
        "title <-> Name",
        "title <-> Name",
    ),
    Case("two-way-no-conflict-rule", "{conflict: last_write_wins}", "{}", "title <-> FirstName"),
    Case(
        "two-way-no-conflict-rule",
        "{conflict: last_write_wins}",
        "{conflict: newest}",
        "title <-> FirstName",
    ),
    Case(
        "bad-conflict-report",
        "{conflict: last_write_wins}",
        "{conflict: last_write_wins, report: weekly}",
        "title <-> FirstName",
    ),
    Case(
        "bad-two-way-field",
        "title <-> FirstName: {conflict: last_write_wins}",
        "title: x",
        "title: x",
    ),
    Case("bad-two-way-field", '"Tax number": "{{', '"title <-> Tax number": "{{', "title <-> Tax"),
    Case("undeclared-phase", "phase: 1\n    from", "phase: 9\n    from", "phase: 9"),
    Case("inline-credential", '"env:CRM_TOKEN"', '"pd-123-secret"', "api_token"),
    Case("inline-credential", '"env:BOOKS_ID"', '"env:"', "client_id"),
    Case(
        "duplicate-flow-name",
        "name: deal-to-project",
        "name: deal-to-contact",
        "deal-to-contact",
        2,
    ),
    Case("duplicate-phase-id", "  - id: 2", "  - id: 1", "- id: 1", 2),
    Case("unknown-parent-entity", "{entity: client,", "{entity: customer,", "entity: customer"),
    Case(
        "bad-parent-record", "record: books.contact}", "record: books.invoice}", "record: books.inv"
    ),
    # A deal's flow writing invoices (children of its client) with no parent.id_field.
    Case("child-without-id-field", "to: books.contact", "to: books.invoice", "to: books.invoice"),
    Case("bad-expression", 'Name: "{{ org_name }}"', 'Name: "{{ org_name | }}"', "Name:"),
    Case("bad-expression", "when: \"status == 'won'\"", 'when: "status =="', 'when: "status =="'),
    Case("bad-expression", "until: \"status == 'won'\"", 'until: "status ==="', "until:"),
    Case("bad-expression", 'Name: "{{ org_name }}"', 'Name: "{{ org_name.__class__ }}"', "Name:"),
    Case("bad-expression", "when: \"status == 'won'\"", 'when: "status._x == 1"', "when:"),
    Case("expression-limit", 'Name: "{{ org_name }}"', "Name: \"{{ 'A' * 4000000000 }}\"", "Name:"),
    Case("expression-limit", "when: \"status == 'won'\"", 'when: "range(10 ** 9)"', "when:"),
    Case(
        "unknown-field",
        'Name: "{{ org_name }}"',
        "Name: \"{{ record['Invoice statu'] }}\"",
        "Invoice statu",
        2,
    ),
    Case(
        "created-in-later-phase",
        "  - name: deal-to-contact\n    phase: 1",
        "  - name: deal-to-contact\n    phase: 3",
        "phase: 2",
        2,
        Severity.WARNING,
    ),
    Case("source-without-entity", "from: books.contact", "from: crm.person", "from: crm.person"),
    Case(
        "source-without-entity",
        "between: [crm.deal, books.contact]",
        "between: [crm.person, crm.organization]",
        "between: [crm.person",
    ),
    Case(
        "too-many-two-way", ONE_WAY_TAX, TWO_WAY_TAX, "- name: title-both-ways", 1, Severity.WARNING
    ),
    Case(
        "empty-phase",
        "    manual_step: Someone types it in.\n",
        "    manual_step: Someone types it in.\n  - id: 3\n    name: Later\n",
        "- id: 3",
        1,
        Severity.WARNING,
    ),
]


def test_good_map_is_clean() -> None:
    assert load_map_text(GOOD_MAP, "map.yaml").problems == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.rule}:{c.marker}")
def test_each_rule_reports_its_line(case: Case) -> None:
    text = broken(case.old, case.new)
    if case.rule == "two-owners" and case.new == "{system: books.contact}":
        text = text.replace("{system: crm.deal, until: \"status == 'won'\"}", "{system: crm.deal}")
    if case.rule == "created-in-later-phase":  # the phase the contacts moved to
        text = text.replace(
            "    manual_step: Someone types it in.\n",
            "    manual_step: Someone types it in.\n  - id: 3\n    name: Later\n",
        )
    problems = load_map_text(text, "map.yaml").problems
    expected = line_of(text, case.marker, case.nth)
    found = [(p.rule, p.line, p.severity) for p in problems]
    assert (case.rule, expected, case.severity) in found, found


def test_every_rule_has_a_case() -> None:
    assert {case.rule for case in CASES} == set(RULES) - {"invalid-value"}


def test_warnings_alone_do_not_make_errors() -> None:
    text = broken(ONE_WAY_TAX, TWO_WAY_TAX)
    loaded = load_map_text(text, "map.yaml")
    assert [p.rule for p in loaded.problems] == ["too-many-two-way"]
    assert loaded.ok and loaded.errors == []


def test_inline_credential_message_never_shows_the_value() -> None:
    text = broken('"env:CRM_TOKEN"', '"pd-123-secret"')
    (problem,) = load_map_text(text, "map.yaml").problems
    assert "pd-123-secret" not in problem.message
    assert problem.path == "systems.crm.auth.api_token"


def test_messages_suggest_the_close_name() -> None:
    text = broken('Name: "{{ org_name }}"', 'Name: "{{ org_nam }}"')
    (problem,) = load_map_text(text, "map.yaml").problems
    assert "did you mean 'org_name'" in problem.message
    assert problem.path == "flows[0].fields.Name"


def test_a_bad_copy_key_is_reported_not_raised() -> None:
    text = broken(
        "      books.contact: {id_field: ContactNumber}\n", "      books: {id_field: X}\n"
    )
    problems = load_map_text(text, "map.yaml").problems
    assert ("invalid-value", line_of(text, "books: {id_field")) in [
        (p.rule, p.line) for p in problems
    ]


def test_a_field_name_with_a_space_is_read_through_record() -> None:
    text = broken('Name: "{{ org_name }}"', "Name: \"{{ record['Invoice status'] }}\"")
    assert load_map_text(text, "map.yaml").problems == []

    spaced = broken('Name: "{{ org_name }}"', 'Name: "{{ Invoice status }}"')
    (problem,) = load_map_text(spaced, "map.yaml").problems
    assert problem.rule == "bad-expression"
    assert """{{ record["Client code"] }}""" in problem.message

    misspelt = broken('Name: "{{ org_name }}"', "Name: \"{{ record['Invoice statu'] }}\"")
    (problem,) = load_map_text(misspelt, "map.yaml").problems
    assert "did you mean 'Invoice status'" in problem.message


def test_a_later_phase_creating_the_records_a_flow_writes_into_is_a_warning() -> None:
    text = broken(
        "  - name: deal-to-contact\n    phase: 1", "  - name: deal-to-contact\n    phase: 3"
    )
    text = text.replace(
        "    manual_step: Someone types it in.\n",
        "    manual_step: Someone types it in.\n  - id: 3\n    name: Later\n",
    )
    loaded = load_map_text(text, "map.yaml")
    assert loaded.ok  # a warning, with empty-phase for the phase the contacts left
    (problem,) = [p for p in loaded.problems if p.rule == "created-in-later-phase"]
    assert "invoice-status-to-deal" in problem.message
    assert "'deal-to-contact' (phase 3)" in problem.message
