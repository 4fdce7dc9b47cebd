"""The sandboxes' keyed indexes answer like a scan of every record, after any sequence of
creates, updates and archives, and again after the state is saved and loaded (indexes are
rebuilt from the records, never saved)."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from connectors.clock import FrozenClock
from connectors.pipedrive.sandbox_state import SORTABLE, SandboxState
from connectors.sandbox.store import SandboxStore
from connectors.xero.resources import CONTACT
from connectors.xero.sandbox_store import OrgStore

VALUES = ["A-1", "A-2", "A-3", "", None]
NAMES = ["Acme", "acme", "Globex", "Initech", "Umbrella"]


def test_in_process_store_finds_and_lists_changes_like_a_scan() -> None:
    rng = random.Random(7)
    clock = FrozenClock()
    store = SandboxStore()
    store.find("org", "cid", "A-1")  # the index exists before the writes it must follow
    for step in range(300):
        ids = [r.external_id for r in store.all("org")]
        if ids and rng.random() < 0.6:
            store.change("org", rng.choice(ids), {"cid": rng.choice(VALUES)}, clock.now())
        else:
            store.put("org", store.next_id(), {"cid": rng.choice(VALUES)}, clock.now())
        if step % 25 == 0:
            _check_store(store)
    _check_store(store)


def _check_store(store: SandboxStore) -> None:
    records = store.all("org")
    for value in ("A-1", "A-2", "A-3", ""):
        scanned = {r.external_id for r in records if str(r.fields.get("cid") or "") == value}
        assert {r.external_id for r in store.find("org", "cid", value)} == scanned
    by_seq = sorted(records, key=lambda r: r.seq)
    for since in (0, by_seq[len(by_seq) // 2].seq, by_seq[-1].seq):
        expected = [r.external_id for r in by_seq if r.seq > since][:10]
        assert [r.external_id for r in store.changed_since("org", since, 10)] == expected


def test_pipedrive_state_indexes_follow_writes_and_a_reload() -> None:
    rng = random.Random(11)
    clock = FrozenClock()
    state = SandboxState(clock)
    key = state.add_field("deal", "Canonical ID")["key"]
    state.matching("deal", key, "A-1")  # built before the writes
    for _ in range(200):
        clock.advance(timedelta(seconds=rng.choice([0, 1, 30])))
        ids = list(state.items["deal"])
        custom = {key: rng.choice(VALUES)}
        if ids and rng.random() < 0.6:
            state.patch("deal", rng.choice(ids), {"custom_fields": custom, "value": 1})
        else:
            state.insert("deal", {"title": f"Deal {len(ids)}", "custom_fields": custom})
    _check_pipedrive(state, key)

    saved = state.to_state()
    assert set(saved) == {"items", "fields", "next_id", "next_field_id"}  # no index saved
    reloaded = SandboxState(clock)
    reloaded.from_state(json.loads(json.dumps(saved)))
    _check_pipedrive(reloaded, key)
    reloaded.patch("deal", 1, {"custom_fields": {key: "A-9"}})
    assert [i["id"] for i in reloaded.matching("deal", key, "A-9")] == [1]
    _check_pipedrive(reloaded, key)


def _check_pipedrive(state: SandboxState, key: str) -> None:
    items = state.all("deal")
    for value in ("A-1", "A-2", "A-3", ""):
        scanned = [i["id"] for i in items if str(i["custom_fields"].get(key) or "") == value]
        assert [i["id"] for i in state.matching("deal", key, value)] == sorted(scanned)
    for sort_by in SORTABLE:
        ordered = sorted(items, key=lambda i: (i[sort_by], i["id"]))
        keys = [(i[sort_by], i["id"]) for i in ordered]
        assert [(i[sort_by], i["id"]) for i in state.ordered("deal", sort_by)] == keys
        middle = keys[len(keys) // 2]
        after = [(i[sort_by], i["id"]) for i in state.ordered("deal", sort_by, after=middle)]
        assert after == [k for k in keys if k > middle]
        down = state.ordered("deal", sort_by, after=middle, descending=True)
        assert [(i[sort_by], i["id"]) for i in down] == [k for k in reversed(keys) if k < middle]
    since = items[len(items) // 2]["update_time"]
    walked = [i["id"] for i in state.ordered("deal", "update_time", since=since)]
    assert walked == [
        i["id"]
        for i in sorted(items, key=lambda i: (i["update_time"], i["id"]))
        if i["update_time"] >= since
    ]


def test_xero_store_checks_names_and_filters_by_value_like_a_scan() -> None:
    rng = random.Random(5)
    clock = FrozenClock()
    org = OrgStore()
    org.query(CONTACT, where='ContactNumber=="A-1"')  # the field index exists from here on
    for _ in range(200):
        clock.advance(timedelta(seconds=rng.choice([0, 1, 60])))
        ids = [c["ContactID"] for c in org.all(CONTACT)]
        sent = {
            "Name": rng.choice(NAMES) + str(rng.randrange(8)),
            "ContactNumber": rng.choice(VALUES),
        }
        if ids and rng.random() < 0.6:
            sent["ContactID"] = rng.choice(ids)
            if rng.random() < 0.2:
                sent["ContactStatus"] = rng.choice(["ARCHIVED", "ACTIVE"])
            create = False
        else:
            create = True
        if not org.validate(CONTACT, sent, create=create):
            org.save(CONTACT, sent, clock.now(), create=create)
    _check_xero(org)

    reloaded = OrgStore()
    reloaded.from_state(json.loads(json.dumps(org.to_state())))
    assert set(org.to_state()) == {"records", "invoice_seq"}  # no index saved
    _check_xero(reloaded)


def _check_xero(org: OrgStore) -> None:
    contacts = org.all(CONTACT)
    active = [c for c in contacts if c["ContactStatus"] == "ACTIVE"]
    assert len({c["Name"].lower() for c in active}) == len(active)  # the name rule held
    for c in contacts:
        taken = any(
            a["Name"].lower() == c["Name"].lower() and a["ContactID"] != "new" for a in active
        )
        errors = org.validate(CONTACT, {"Name": c["Name"].upper()}, create=True)
        assert bool(errors) == taken
    for value in ("A-1", "A-2", ""):
        where = f'ContactNumber=="{value}"'
        scanned = {c["ContactID"] for c in contacts if str(c.get("ContactNumber")) == value}
        found = org.query(CONTACT, where=where, include_archived=True)
        assert {c["ContactID"] for c in found} == scanned
    ordered = sorted(
        org.records["contact"].values(), key=lambda s: (s.updated, s.element["ContactID"])
    )
    since = ordered[len(ordered) // 2].updated
    listed = [c["ContactID"] for c in org.query(CONTACT, since=since, include_archived=True)]
    assert listed == [s.element["ContactID"] for s in ordered if s.updated > since]
