"""The Mailchimp connector against its sandbox over HTTP: reading changes, upserting members by
the canonical ID in a merge field, tags, batch operations, the connection limit and errors.

Fixtures here are shared with ``test_mailchimp_contract.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.base import (
    ConfigError,
    ConnectorSettings,
    IdField,
    Permanent,
    Transient,
    UpsertItem,
)
from connectors.clock import FrozenClock
from connectors.mailchimp import MailchimpConnector, build
from connectors.mailchimp.records import subscriber_hash
from connectors.mailchimp.sandbox import MailchimpSandbox
from connectors.paging import Cursor
from connectors.registry import ConnectorContext
from connectors.serving import ServedApp
from tests.support.contract import RecordingTransport

API_KEY = "0123456789abcdef0123456789abcdef-us6"
ID_FIELD = IdField.parse("merge_field:HANDOFF")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sandbox(clock: FrozenClock) -> Iterator[tuple[MailchimpSandbox, ServedApp, str]]:
    box = MailchimpSandbox(clock=clock, api_key=API_KEY)
    list_id = box.add_list("Newsletter")["id"]
    served = box.serve()
    yield box, served, list_id
    served.shutdown()


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


def connect(
    sandbox: tuple[MailchimpSandbox, ServedApp, str],
    clock: FrozenClock,
    transport: RecordingTransport | None = None,
    **options: Any,
) -> MailchimpConnector:
    _, served, list_id = sandbox
    settings = ConnectorSettings(
        system="mailchimp",
        connector="mailchimp",
        credentials={"api_key": API_KEY},
        options={"list_id": list_id, **options},
        base_url=served.url,
    )
    return build(settings, ConnectorContext(clock=clock), transport=transport)


def item(cid: str, email: str, **fields: Any) -> UpsertItem:
    return UpsertItem(
        record_type="member",
        id_field=ID_FIELD,
        canonical_id=cid,
        fields={"email_address": email, **fields},
        idempotency_key=f"key-{cid}",
    )


def test_the_data_centre_comes_from_the_key(clock: FrozenClock) -> None:
    settings = ConnectorSettings("mc", "mailchimp", {"api_key": "abc-us21"}, {"list_id": "x"})
    connector = build(settings, ConnectorContext(clock=clock))
    assert connector.session.base_url == "https://us21.api.mailchimp.com/3.0"
    with pytest.raises(ConfigError, match="data centre"):
        build(ConnectorSettings("mc", "mailchimp", {"api_key": "nodc"}), ConnectorContext(clock))


def test_upsert_creates_then_updates_the_member_holding_the_canonical_id(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, _, list_id = sandbox
    connector = connect(sandbox, clock)
    first = connector.upsert(item("PD-1", "Jane@Acme.example", FNAME="Jane", tags="client"))
    assert first.created and first.record is not None
    assert first.record.external_id == subscriber_hash("jane@acme.example")
    assert first.record.fields["HANDOFF"] == "PD-1"
    assert first.record.fields["tags"] == ["client"]
    # The merge field was created on first use.
    assert "HANDOFF" in box.state.tags_of(list_id)

    clock.advance(60)
    # A new email moves the member's address (its hash) but not its identity.
    again = connector.upsert(item("PD-1", "jane.doe@acme.example", FNAME="Janet", tags="-client"))
    assert not again.created and again.record is not None
    assert again.record.external_id == subscriber_hash("jane.doe@acme.example")
    members = box.members(list_id)
    assert len(members) == 1
    assert members[0]["merge_fields"]["FNAME"] == "Janet"
    assert members[0]["tags"] == []


def test_an_address_held_by_another_canonical_id_is_not_taken_over(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, _, list_id = sandbox
    box.add_merge_field(list_id, "HANDOFF")
    box.add_member(list_id, "shared@acme.example", {"HANDOFF": "PD-9"})
    connector = connect(sandbox, clock)
    [result] = connector.upsert_many([item("PD-1", "shared@acme.example")])
    assert isinstance(result.error, Permanent) and "PD-9" in str(result.error)
    assert box.members(list_id)[0]["merge_fields"]["HANDOFF"] == "PD-9"


def sweep(connector: MailchimpConnector, cursor: str | None, limit: int) -> tuple[list[str], str]:
    """One sweep of member changes (pages until the window closes): emails read, cursor."""
    read: list[str] = []
    for _ in range(1000):
        page = connector.list_changed("member", cursor, limit=limit)
        read += [r.fields["email_address"] for r in page.records]
        cursor = page.cursor
        if not page.has_more:
            assert cursor is not None
            return read, cursor
    raise AssertionError("the sweep does not end")


def touch(box: MailchimpSandbox, list_id: str, email: str, clock: FrozenClock) -> None:
    clock.advance(5)
    box.state.put_member(
        list_id, subscriber_hash(email), {"merge_fields": {"LNAME": "changed"}}, put=False
    )


def test_stamping_a_member_typed_in_before_handoff_creates_the_merge_field_first(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    """`handoff match apply` stamps the canonical ID into an existing member by an update,
    which may be the audience's first use of the ID's merge field."""
    box, _, list_id = sandbox
    box.add_member(list_id, "jane@acme.example", {"FNAME": "Jane"})
    assert "HANDOFF" not in box.state.tags_of(list_id)
    connector = connect(sandbox, clock)
    member = subscriber_hash("jane@acme.example")
    stamped = connector.update("member", member, {"HANDOFF": "PD-1"})
    assert stamped.fields["HANDOFF"] == "PD-1"
    merge_fields = box.members(list_id)[0]["merge_fields"]
    assert (merge_fields["FNAME"], merge_fields["HANDOFF"]) == ("Jane", "PD-1")
    assert connector.find_by_canonical_id("member", ID_FIELD, "PD-1") is not None


def test_list_changed_reads_by_last_changed_and_resumes_after_the_newest_change(
    sandbox: tuple[MailchimpSandbox, ServedApp, str],
    clock: FrozenClock,
    transport: RecordingTransport,
) -> None:
    box, _, list_id = sandbox
    for n in range(5):
        box.add_member(list_id, f"m{n}@example.org", {"FNAME": f"M{n}"})
        clock.advance(10)
    connector = connect(sandbox, clock, transport)
    read, cursor = sweep(connector, None, limit=2)
    assert read == [f"m{n}@example.org" for n in range(5)]
    query = transport.exchanges[-1].request.url.params
    assert (query["sort_field"], query["sort_dir"]) == ("last_changed", "ASC")
    clock.advance(30)
    box.add_member(list_id, "late@example.org")
    touch(box, list_id, "m1@example.org", clock)
    clock.advance(1)  # a window ends before "now": a change this second waits for the next
    again, _ = sweep(connector, cursor, limit=2)
    # Nothing read before comes back unless it changed; in the order of the changes.
    assert again == ["late@example.org", "m1@example.org"]


def test_a_full_read_finds_a_member_written_this_second(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    """Matching and discovery read everything once (no cursor): a spreadsheet import written
    a moment ago is part of it, found by waiting for its second to end, not left for a next
    sweep that a one-off read never makes. An incremental sweep leaves this second to the next."""
    box, _, list_id = sandbox
    box.add_member(list_id, "early@example.org")
    read, cursor = sweep(connect(sandbox, clock), None, limit=2)
    assert read == ["early@example.org"]  # found within the second it was written
    assert clock.slept and 0 < clock.slept[-1] <= 1
    clock.advance(0.2)
    box.add_member(list_id, "import@example.org")
    slept = len(clock.slept)
    again, _ = sweep(connect(sandbox, clock), cursor, limit=2)
    assert again == [] and len(clock.slept) == slept  # the next sweep's, and no wait
    clock.advance(1)
    later, _ = sweep(connect(sandbox, clock), cursor, limit=2)
    assert later == ["import@example.org"]


def test_a_member_changing_mid_sweep_shifts_no_other_out_of_it(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, _, list_id = sandbox
    emails = [f"m{n}@example.org" for n in range(10)]
    for email in emails:
        box.add_member(list_id, email)
        clock.advance(10)
    connector = connect(sandbox, clock)
    first = connector.list_changed("member", None, limit=3)
    read = [r.fields["email_address"] for r in first.records]
    assert read == emails[:3] and first.has_more
    # m0, read on page 1, changes: it leaves this sweep's window (its change is the next
    # sweep's) and must not push m3 out of page 2.
    touch(box, list_id, emails[0], clock)
    rest, cursor = sweep(connector, first.cursor, limit=3)
    read += rest
    clock.advance(1)
    later, _ = sweep(connector, cursor, limit=3)
    assert set(read) == set(emails)
    assert later == [emails[0]]


def test_members_sharing_one_second_are_all_read_when_one_changes_mid_sweep(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, _, list_id = sandbox
    box.add_member(list_id, "early@example.org")
    clock.advance(10)
    # A spreadsheet import: twelve members in one second, more than a page.
    imported = [f"import{n}@example.org" for n in range(12)]
    for email in imported:
        box.add_member(list_id, email)
    clock.advance(10)
    box.add_member(list_id, "after@example.org")
    clock.advance(10)
    connector = connect(sandbox, clock)
    read: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        page = connector.list_changed("member", cursor, limit=4)
        read += [r.fields["email_address"] for r in page.records]
        cursor = page.cursor
    # Two imported members already read change: the places of the rest shift by two.
    touch(box, list_id, imported[0], clock)
    touch(box, list_id, imported[2], clock)
    rest, cursor = sweep(connector, cursor, limit=4)
    read += rest
    assert set(read) >= {"early@example.org", "after@example.org", *imported}
    assert len(read) == len(set(read)), "a member read twice in one sweep"
    clock.advance(1)
    later, _ = sweep(connector, cursor, limit=4)
    assert sorted(later) == [imported[0], imported[2]]


def test_a_sweep_resumes_from_its_last_page_after_a_crash(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, _, list_id = sandbox
    emails = [f"m{n}@example.org" for n in range(7)]
    for n, email in enumerate(emails):
        box.add_member(list_id, email)
        clock.advance(10 if n % 2 else 0)  # pairs share a second
    clock.advance(1)
    first = connect(sandbox, clock).list_changed("member", None, limit=3)
    touch(box, list_id, emails[1], clock)
    # A new process with only the checkpointed cursor.
    rest, _ = sweep(connect(sandbox, clock), first.cursor, limit=3)
    read = [r.fields["email_address"] for r in first.records] + rest
    assert sorted(read) == emails


def test_the_sandbox_sorts_members_as_asked(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, served, list_id = sandbox
    for n in range(3):
        box.add_member(list_id, f"m{n}@example.org")
        clock.advance(10)
    touch(box, list_id, "m0@example.org", clock)
    auth = ("anystring", API_KEY)
    url = f"{served.url}/3.0/lists/{list_id}/members"

    def emails(**query: str) -> list[str]:
        answer = httpx.get(url, params=query, auth=auth)
        assert answer.status_code == 200, answer.text
        return [m["email_address"] for m in answer.json()["members"]]

    assert emails() == ["m0@example.org", "m1@example.org", "m2@example.org"]
    asc = emails(sort_field="last_changed", sort_dir="ASC")
    assert asc == ["m1@example.org", "m2@example.org", "m0@example.org"]
    assert emails(sort_field="last_changed", sort_dir="DESC") == asc[::-1]
    for bad in ({"sort_field": "email_address"}, {"sort_field": "last_changed", "sort_dir": "up"}):
        assert httpx.get(url, params=bad, auth=auth).status_code == 400


def test_a_backfill_goes_through_batch_operations_with_one_result_each(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, _, list_id = sandbox
    box.add_merge_field(list_id, "HANDOFF")
    box.add_member(list_id, "taken@example.org", {"HANDOFF": "OTHER"})
    connector = connect(sandbox, clock, batch_threshold=3)
    created: list[str] = []
    items = [item(f"C-{n}", f"c{n}@example.org", tags="client") for n in range(4)]
    items.append(item("C-bad", "taken@example.org"))
    items.append(item("C-nomail", ""))
    items = [
        UpsertItem(**{**i.__dict__, "on_created": created.append}) if n == 0 else i
        for n, i in enumerate(items)
    ]
    results = connector.upsert_many(items)
    assert [r.error is None for r in results] == [True] * 4 + [False, False]
    assert isinstance(results[4].error, Permanent)
    assert isinstance(results[5].error, ConfigError)
    assert created == [subscriber_hash("c0@example.org")]
    batches = [p for m, p, _ in box.log if p.startswith("/3.0/batches") and m == "POST"]
    assert len(batches) == 2  # member writes, then tag changes
    assert all(
        m["tags"] == [{"id": m["tags"][0]["id"], "name": "client"}]
        for m in box.members(list_id)
        if m["email_address"].startswith("c")
    )
    # The second run updates the same members: nothing new is created.
    again = connector.upsert_many(items[:4])
    assert [r.created for r in again] == [False] * 4
    assert len(box.members(list_id)) == 5


def test_errors_are_sorted_from_problem_documents(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, _, _ = sandbox
    connector = connect(sandbox, clock)
    with pytest.raises(Permanent) as missing:
        connector.get("member", "0" * 32)
    assert missing.value.http_status == 404 and "Resource Not Found" in str(missing.value)
    box.faults.add("server_error", times=5)
    with pytest.raises(Transient):
        connector.get("member", "0" * 32)
    box.faults.clear()
    box.faults.add("expired_token")
    with pytest.raises(ConfigError, match="401"):
        connector.get("member", "0" * 32)  # an API key is not renewed


def test_at_most_ten_calls_are_in_flight(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    import threading

    box, _, list_id = sandbox
    box.add_member(list_id, "a@example.org")
    box.faults.add("timeout", times=12, delay=0.3)
    connector = connect(sandbox, clock)
    hash_ = subscriber_hash("a@example.org")
    threads = [threading.Thread(target=connector.get, args=("member", hash_)) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert box.count(429) == 0
    assert 1 <= box.peak_in_flight <= 10


def test_audiences_are_read_only_and_discoverable(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    _, _, list_id = sandbox
    connector = connect(sandbox, clock)
    [audience] = connector.audiences()
    assert audience.external_id == list_id and audience.fields["name"] == "Newsletter"
    with pytest.raises(ConfigError, match="read-only"):
        connector.create("audience", {}, id_field=ID_FIELD, canonical_id="X")
    # One audience, one page: the cursor starts the next listing at the beginning.
    assert Cursor.parse(connector.list_changed("audience", None).cursor, "mailchimp") == Cursor()


def test_the_canonical_index_reads_by_last_changed_and_then_only_changes(
    sandbox: tuple[MailchimpSandbox, ServedApp, str],
    clock: FrozenClock,
    transport: RecordingTransport,
) -> None:
    box, _, list_id = sandbox
    box.add_merge_field(list_id, "HANDOFF")
    box.add_member(list_id, "old@acme.example", {"HANDOFF": "PD-1"})
    clock.advance(10)
    box.add_member(list_id, "now@acme.example", {"HANDOFF": "PD-2"})  # this very second
    connector = connect(sandbox, clock, transport)
    found = connector.find_by_canonical_id("member", ID_FIELD, "PD-2")
    assert found is not None and found.fields["email_address"] == "now@acme.example"
    clock.advance(10)
    box.state.put_member(
        list_id,
        subscriber_hash("old@acme.example"),
        {"merge_fields": {"HANDOFF": "PD-3"}},
        put=False,
    )
    found = connector.find_by_canonical_id("member", ID_FIELD, "PD-3")
    assert found is not None and found.fields["email_address"] == "old@acme.example"
    reads = [
        e.request.url.params
        for e in transport.exchanges
        if e.request.method == "GET" and e.request.url.path.endswith("/members")
    ]
    assert [q.get("sort_field") for q in reads] == ["last_changed"] * len(reads)
    # The second refresh asked only for what changed since the first read.
    assert reads[-1]["since_last_changed"] > reads[0].get("since_last_changed", "")
