"""A small valid map the rule tests break one line at a time."""

from __future__ import annotations

GOOD_MAP = """\
version: 1
name: Test map
admins: [U1]
systems:
  crm:
    connector: pipedrive
    auth: {api_token: "env:CRM_TOKEN"}
    custom_fields:
      deal: ["Invoice status", "Project link", "Tax number"]
  books:
    connector: xero
    auth:
      client_id: "env:BOOKS_ID"
      client_secret: "env:BOOKS_SECRET"
  work:
    connector: sandbox
    options: {emulates: asana}
entities:
  client:
    canonical_id: {minted_by: crm.deal, format: "PD-{id}"}
    source_of_truth:
      - {system: crm.deal, until: "status == 'won'"}
      - {system: work.project, fields: [due_on]}
      - {system: books.contact, fields: [TaxNumber]}
    copies:
      books.contact: {id_field: ContactNumber}
      work.project: {id_field: "custom_field:Deal"}
  invoice:
    canonical_id: {minted_by: books.invoice, format: "XI-{id}"}
    parent: {entity: client, via: "{{ Contact.ContactID }}", record: books.contact}
    source_of_truth: books.invoice
phases:
  - id: 1
    name: Contacts
    state: live
  - id: 2
    name: Projects
    parallel_days: 3
    state: parallel
    manual_step: Someone types it in.
flows:
  - name: deal-to-contact
    phase: 1
    from: crm.deal
    when: "status == 'won'"
    to: books.contact
    fields:
      Name: "{{ org_name }}"
  - name: deal-to-project
    phase: 2
    from: crm.deal
    to: work.project
    schedule: every 2m
    fields:
      name: "{{ org_name }} – {{ title }}"
      notes: "Value {{ value }}"
    link_back: {field: "Project link", value: "{{ target.url }}"}
  - name: invoice-status-to-deal
    phase: 2
    from: books.invoice
    to: crm.deal
    fields:
      "Invoice status": "{{ Status }}"
  - name: tax-number-to-deal
    phase: 2
    from: books.contact
    to: crm.deal
    fields:
      "Tax number": "{{ TaxNumber }}"
  - name: title-both-ways
    phase: 2
    between: [crm.deal, books.contact]
    fields:
      title <-> FirstName: {conflict: last_write_wins}
"""


def broken(old: str, new: str) -> str:
    """The good map with one piece replaced (the piece must occur exactly once)."""
    assert GOOD_MAP.count(old) == 1, f"{old!r} occurs {GOOD_MAP.count(old)} times"
    return GOOD_MAP.replace(old, new)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``needle``."""
    found = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) >= nth, f"{needle!r} occurs on {len(found)} lines"
    return found[nth - 1]
