"""The merge capability: which connectors have it, what a merge does in the in-process
sandbox, and how a probable-duplicate alert remembers that it offers Merge."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import IdField, Permanent
from connectors.capabilities import Merge
from connectors.clock import FrozenClock
from connectors.sandbox import sandbox_connector
from sync_core.map.model import RecordRef
from sync_core.matching.hand_typed import duplicate_key, offers_merge, proposal_of, typed_in


def test_only_a_vendor_with_a_merge_operation_can_merge() -> None:
    clock = FrozenClock()
    assert isinstance(sandbox_connector("crm", "pipedrive", clock), Merge)
    assert not isinstance(sandbox_connector("accounts", "xero", clock), Merge)
    assert not isinstance(sandbox_connector("projects", "asana", clock), Merge)


def test_a_merge_keeps_one_record_with_its_values_first_and_removes_the_other() -> None:
    crm = sandbox_connector("crm", "pipedrive", FrozenClock())
    assert isinstance(crm, Merge)
    crm.add("organization", {"name": "Acme Ltd", "Xero contact": "C-7K2Q"}, external_id="1")
    crm.add("organization", {"name": "Acme Limited", "address": "1 High St"}, external_id="2")

    kept = crm.merge("organization", "1", "2")

    assert kept.external_id == "1"
    assert kept.fields["name"] == "Acme Ltd" and kept.fields["address"] == "1 High St"
    assert kept.fields["Xero contact"] == "C-7K2Q"
    assert [r.external_id for r in crm.records("organization")] == ["1"]
    assert crm.find_by_canonical_id(
        "organization", IdField.parse("custom_field:Xero contact"), "C-7K2Q"
    )
    with pytest.raises(Permanent):
        crm.get("organization", "2")
    # Merging again (a resent call, a second click) finds it merged: nothing changes.
    assert crm.merge("organization", "1", "2").external_id == "1"
    with pytest.raises(Permanent):
        crm.merge("organization", "9", "1")  # nothing to keep
    with pytest.raises(Permanent):
        crm.merge("organization", "1", "1")
    assert [r.external_id for r in crm.records("organization")] == ["1"]


def test_a_merged_record_leaves_the_change_feed() -> None:
    crm = sandbox_connector("crm", "pipedrive", FrozenClock())
    crm.add("organization", {"name": "Acme Ltd"}, external_id="1")
    crm.add("organization", {"name": "Acme Limited"}, external_id="2")
    crm.merge("organization", "1", "2")
    page = crm.list_changed("organization", None)
    assert [r.external_id for r in page.records] == ["1"]


def test_the_alert_key_says_whether_merge_is_offered() -> None:
    target = RecordRef(system="pipedrive", record_type="organization")
    plain, merging = duplicate_key(target, 12), duplicate_key(target, 12, merge=True)
    assert plain == "duplicate:pipedrive.organization:12"
    assert merging == "duplicate:pipedrive.organization:12:merge"
    assert proposal_of(plain) == proposal_of(merging) == 12
    assert typed_in(plain) == typed_in(merging) == "pipedrive.organization"
    assert offers_merge(merging) and not offers_merge(plain)
    assert proposal_of("poll:xero.contact:schema_changed") is None
    assert not offers_merge("flow:x:merge")


def _typed_contact_alert() -> tuple[Any, int]:
    """The demo world with a contact typed by hand after cutover for a customer whose
    contact Handoff made already: an alert whose advice is to archive (Xero has no merge)."""
    from bot.handlers.context import HandlerContext
    from tests.unit.engine.support import World, agency_map

    world = World(agency_map())
    world.add_deal(42, "Acme Ltd")
    world.engine.sync_once()
    world.xero.add("contact", {"Name": "Acme Limited"}, external_id="hand-1")
    world.engine.check_drift(RecordRef(system="xero", record_type="contact"))
    [notice] = [n for n in world.sink.notices if n.group_key.startswith("duplicate:")]
    assert not offers_merge(notice.group_key)
    ctx = HandlerContext(world.map, world.uow_factory, world.engine, world.clock)
    return (world, ctx), notice.alert_id


def test_merge_is_refused_where_the_vendor_cannot_merge() -> None:
    from bot.handlers.duplicates import settle_duplicate
    from bot.handlers.results import Notice

    (world, ctx), alert_id = _typed_contact_alert()
    result = settle_duplicate(ctx, alert_id, "merge")
    assert isinstance(result, Notice) and not result.ok
    assert "xero cannot merge records: archive the extra one there" in result.text
    assert [c.external_id for c in world.xero.records("contact") if c.external_id == "hand-1"]
    with world.uow_factory() as uow:
        alert = uow.alerts.get(alert_id)
        assert alert is not None and alert.state == "open"
