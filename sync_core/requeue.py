"""Requeueing failed events by hand (CLI, Slack Retry buttons)."""

from __future__ import annotations

from datetime import datetime

from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.store.models import ActionRow, EventRow, EventStatus

REQUEUEABLE = (EventStatus.DEAD.value, EventStatus.RETRYING.value, EventStatus.IGNORED.value)


def pending_copy(
    event: EventRow, now: datetime, *, mode: str | None = None, note: str | None = None
) -> EventRow:
    """A new event that writes ``event``'s payload again (cutover, reverting drift)."""
    return EventRow(
        flow=event.flow,
        phase=event.phase,
        mode=mode or event.mode,
        canonical_id=event.canonical_id,
        target_canonical_id=event.target_canonical_id,
        source_system=event.source_system,
        source_record_type=event.source_record_type,
        source_external_id=event.source_external_id,
        target_system=event.target_system,
        target_record_type=event.target_record_type,
        target_external_id=event.target_external_id,
        id_field=event.id_field,
        payload=dict(event.payload),
        payload_hash=event.payload_hash,
        status=EventStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        resolution_note=note[:2000] if note else None,
        created_at=now,
        updated_at=now,
    )


def requeue(uow: UnitOfWork, event_id: int, *, now: datetime, actor: str) -> bool:
    """Make one failed event due now, inside the caller's unit of work. Returns False when
    the event is not in a failed state (delivered, shadow, already pending)."""
    event = uow.events.get(event_id)
    if event is None:
        raise LookupError(f"no event {event_id}")
    if event.status not in REQUEUEABLE:
        return False
    event.status = EventStatus.PENDING.value
    event.next_attempt_at = now
    event.lease_until = None
    event.lease_owner = None
    event.updated_at = now
    uow.actions.add(
        ActionRow(at=now, actor=actor, action="retry", subject=f"event:{event_id}", allowed=True)
    )
    return True


def requeue_event(
    uow_factory: UnitOfWorkFactory, event_id: int, *, now: datetime, actor: str
) -> bool:
    with uow_factory() as uow:
        changed = requeue(uow, event_id, now=now, actor=actor)
        uow.commit()
    return changed


def requeue_dead(uow_factory: UnitOfWorkFactory, *, now: datetime, actor: str) -> int:
    with uow_factory() as uow:
        count = sum(
            1
            for event in uow.events.dead(limit=100_000)
            if requeue(uow, event.id, now=now, actor=actor)
        )
        uow.commit()
    return count
