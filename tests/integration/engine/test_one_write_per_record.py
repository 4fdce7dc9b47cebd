"""One write per target record at a time: while an event writing a record is leased, no other
worker takes another event writing the same record, and one claim never holds two of them.

Two writes of one record in flight together (an older event still being delivered when a newer
read superseded it, or two flows writing the same record) could both search the target, find
nothing and both create it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync_core.store.models import EventStatus
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.support.rows import pending_event

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def add_event(
    uow_factory: SqlUnitOfWorkFactory, flow: str, target_canonical_id: str, *, minutes: int = 0
) -> int:
    at = NOW - timedelta(minutes=minutes)
    with uow_factory() as uow:
        row = pending_event(
            target_canonical_id,
            at,
            flow=flow,
            source_record_type="customer",
            payload={"name": flow},
        )
        uow.events.add(row)
        uow.flush()
        event_id = row.id
        uow.commit()
    return event_id


def claim(uow_factory: SqlUnitOfWorkFactory, owner: str, now: datetime = NOW) -> list[int]:
    with uow_factory() as uow:
        rows = uow.events.claim_due(now, now + LEASE, owner, 100)
        ids = [row.id for row in rows]
        uow.commit()
    return ids


def book(uow_factory: SqlUnitOfWorkFactory, event_id: int, status: EventStatus) -> None:
    with uow_factory() as uow:
        row = uow.events.get(event_id)
        assert row is not None
        row.status = status.value
        row.lease_until = None
        row.next_attempt_at = None
        uow.commit()


def test_one_claim_never_holds_two_writes_of_one_record(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first = add_event(uow_factory, "deal-to-contact", "C-1", minutes=2)
    second = add_event(uow_factory, "person-to-contact", "C-1", minutes=1)
    other = add_event(uow_factory, "deal-to-contact", "C-2")

    assert claim(uow_factory, "a") == [first, other]
    # the second write of C-1 waits for the first, whoever asks
    assert claim(uow_factory, "b") == []
    book(uow_factory, first, EventStatus.DELIVERED)
    assert claim(uow_factory, "b") == [second]


def test_a_newer_event_waits_while_the_one_it_superseded_is_still_being_delivered(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    older = add_event(uow_factory, "deal-to-contact", "C-1", minutes=1)
    assert claim(uow_factory, "a") == [older]
    # a newer read of the record supersedes the event worker a is delivering right now
    book_superseded_keeping_lease(uow_factory, older)
    newer = add_event(uow_factory, "deal-to-contact", "C-1")

    assert claim(uow_factory, "b") == []
    assert claim(uow_factory, "b", NOW + LEASE / 2) == []
    # worker a died: once its lease has run out the newer event is free
    assert claim(uow_factory, "b", NOW + LEASE + timedelta(seconds=1)) == [newer]


def book_superseded_keeping_lease(uow_factory: SqlUnitOfWorkFactory, event_id: int) -> None:
    with uow_factory() as uow:
        row = uow.events.get(event_id)
        assert row is not None
        row.status = EventStatus.SUPERSEDED.value
        row.next_attempt_at = None
        uow.commit()
