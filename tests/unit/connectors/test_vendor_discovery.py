"""A vendor package is found by the registry's scan: adding one edits no shared file."""

from __future__ import annotations

import pytest

from connectors.base import (
    AuthExpired,
    ConfigError,
    Connector,
    ConnectorSettings,
    IdField,
    RateLimited,
)
from connectors.clock import FrozenClock
from connectors.registry import (
    PACKAGES_ENV,
    Catalogs,
    ConnectorContext,
    build_connector,
    known_connectors,
)
from connectors.sandbox.connector import SandboxConnector
from connectors.sandboxes import sandbox_names
from sync_core.map.loader import load_map_text

NOTES_MAP = """\
version: 1
name: Notes
admins: [U1]
systems:
  crm: {connector: sandbox, options: {emulates: pipedrive}}
  notes: {connector: notebook}
entities:
  client:
    canonical_id: {minted_by: crm.deal, format: "PD-{id}"}
    source_of_truth: crm.deal
    copies:
      notes.note: {id_field: ref}
phases:
  - {id: 1, name: Notes, state: live}
flows:
  - name: deal-to-note
    phase: 1
    from: crm.deal
    to: notes.note
    fields:
      title: "{{ title }}"
"""


def test_the_built_in_vendors_and_the_in_process_sandbox_are_found() -> None:
    assert {"pipedrive", "xero", "asana", "mailchimp", "sandbox"} <= set(known_connectors())
    assert sandbox_names() == ["asana", "mailchimp", "pipedrive", "xero"]
    assert set(Catalogs().catalog_for("xero", {})) == {"contact", "invoice"}
    assert set(Catalogs().catalog_for("sandbox", {"emulates": "asana"})) == {"project", "task"}


def test_a_test_only_vendor_package_is_found_through_the_search_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "notebook" not in known_connectors()
    with pytest.raises(ConfigError, match="unknown connector 'notebook'"):
        build_connector(
            ConnectorSettings(system="notes", connector="notebook"),
            ConnectorContext(clock=FrozenClock()),
        )
    assert any(p.rule == "unknown-connector" for p in load_map_text(NOTES_MAP).problems)

    monkeypatch.setenv(PACKAGES_ENV, "tests.support.vendors")

    assert "notebook" in known_connectors()
    connector = build_connector(
        ConnectorSettings(system="notes", connector="notebook"),
        ConnectorContext(clock=FrozenClock()),
    )
    assert isinstance(connector, Connector)
    record = connector.create(
        "note", {"title": "Hi"}, id_field=IdField.plain("ref"), canonical_id="PD-1"
    )
    assert record.url == "https://notebook.example/notes/1"
    assert load_map_text(NOTES_MAP).errors == []
    # the in-process sandbox emulates it from its declarations alone
    sandbox = SandboxConnector("notes", "notebook", FrozenClock())
    made = sandbox.create(
        "note", {"title": "Hi"}, id_field=IdField.plain("ref"), canonical_id="PD-2"
    )
    assert made.url == f"https://notebook.example/notes/{made.external_id}"


def test_the_in_process_sandbox_links_and_fails_as_the_vendor_declares() -> None:
    books = SandboxConnector("books", "xero", FrozenClock())
    # the vendor's own templates, not a sandbox's copy of them
    assert books.deep_link("invoice", "X-1") == (
        "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=X-1"
    )
    crm = SandboxConnector("crm", "pipedrive", FrozenClock())
    assert crm.deep_link("person", "7") == "https://agency.pipedrive.com/person/7"
    crm.fault("rate_limit", retry_after=3.0)
    with pytest.raises(RateLimited) as refused:
        crm.get("deal", "1")
    assert (refused.value.http_status, refused.value.retry_after) == (429, 3.0)
    crm.fault("expired_token")
    with pytest.raises(AuthExpired):
        crm.get("deal", "1")
