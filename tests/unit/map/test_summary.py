"""The summary: what `handoff check` draws, as plain data."""

from __future__ import annotations

import json

from sync_core.map.loader import load_map_text
from sync_core.map.summary import summarize
from tests.unit.map.maps import GOOD_MAP, broken


def _summary(text: str = GOOD_MAP) -> dict:
    loaded = load_map_text(text, "map.yaml")
    return summarize(loaded.map, loaded.problems)


def test_systems_show_connector_record_types_and_env_names_only() -> None:
    systems = _summary()["systems"]
    assert systems["crm"]["connector"] == "pipedrive"
    assert systems["crm"]["credentials"] == {"api_token": "CRM_TOKEN"}
    assert systems["books"]["credentials"] == {
        "client_id": "BOOKS_ID",
        "client_secret": "BOOKS_SECRET",
    }
    assert systems["books"]["record_types"] == ["contact", "invoice"]
    assert systems["crm"]["record_types"] == ["deal"]
    assert systems["work"] == {
        "connector": "sandbox",
        "emulates": "asana",
        "record_types": ["project"],
        "credentials": {},
        "custom_fields": {},
    }


def test_an_inline_secret_never_reaches_the_summary() -> None:
    summary = _summary(broken('"env:CRM_TOKEN"', '"pd-123-secret"'))
    assert summary["systems"]["crm"]["credentials"] == {"api_token": None}
    assert "pd-123-secret" not in json.dumps(summary)
    assert [p["rule"] for p in summary["problems"]] == ["inline-credential"]


def test_entities_show_owners_canonical_id_copies_and_parent() -> None:
    entities = _summary()["entities"]
    client = entities["client"]
    assert client["canonical_id"] == {"minted_by": "crm.deal", "format": "PD-{id}"}
    assert client["source_of_truth"][0] == {
        "system": "crm.deal",
        "fields": None,
        "until": "status == 'won'",
        "when": None,
    }
    assert client["source_of_truth"][1]["fields"] == ["due_on"]
    assert client["copies"] == {
        "books.contact": "ContactNumber",
        "work.project": "custom_field:Deal",
    }
    assert client["parent"] is None
    assert entities["invoice"]["parent"] == {
        "entity": "client",
        "via": "{{ Contact.ContactID }}",
        "record": "books.contact",
    }


def test_flows_are_drawn_with_their_direction() -> None:
    flows = {flow["name"]: flow for flow in _summary()["flows"]}
    contact = flows["deal-to-contact"]
    assert contact["drawn"] == "crm.deal ──▶ books.contact"
    assert contact["phase"] == 1
    assert contact["when"] == "status == 'won'"
    assert contact["schedule"] == "every 5m"
    assert contact["fields"] == {"Name": "{{ org_name }}"}
    assert flows["deal-to-project"]["schedule"] == "every 2m"
    assert flows["deal-to-project"]["link_back"] == {
        "field": "Project link",
        "value": "{{ target.url }}",
    }
    both = flows["title-both-ways"]
    assert both["drawn"] == "crm.deal ◀──▶ books.contact"
    assert both["direction"] == "two-way"
    assert both["between"] == ["crm.deal", "books.contact"]


def test_phases_and_alert_defaults() -> None:
    summary = _summary()
    assert summary["phases"][1] == {
        "id": 2,
        "name": "Projects",
        "state": "parallel",
        "parallel_days": 3,
        "manual_step": "Someone types it in.",
    }
    assert summary["phases"][0]["state"] == "live"
    assert summary["alerts"]["retry"] == ["1m", "5m", "30m"]
    assert summary["problems"] == []


def test_the_summary_is_json_serialisable() -> None:
    assert json.loads(json.dumps(_summary()))["name"] == "Test map"
