"""Requeueing failed events by hand (CLI, Slack Retry buttons).

An event that planning could not finish (kind ``mapping`` or ``internal``) has no write to
repeat: it is planned again from the source record it keeps, with the map loaded now.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sync_core.map.model import IntegrationMap
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.store.models import UNPLANNED_KINDS, ActionRow, EventRow, EventStatus

if TYPE_CHECKING:
    from sync_core.planner import Planner

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


def _planner(integration_map: IntegrationMap) -> Planner:
    # The planner's phases import pending_copy from here: import it when first needed.
    from sync_core.planner import Planner

    return Planner(integration_map)


def is_unplanned(event: EventRow) -> bool:
    """A dead event that holds a source record to plan, not a payload to write."""
    return event.last_error_kind in UNPLANNED_KINDS and "source_record" in (event.payload or {})


def requeue(
    uow: UnitOfWork,
    event_id: int,
    *,
    now: datetime,
    actor: str,
    integration_map: IntegrationMap,
    planner: Planner | None = None,
) -> bool:
    """Make one failed event due now, inside the caller's unit of work. Returns False when
    the event is not in a failed state (delivered, shadow, already pending), and when an
    event planned again with ``integration_map`` is not due (it failed again: dead with the
    new reason; or there is nothing to send)."""
    event = uow.events.get(event_id)
    if event is None:
        raise LookupError(f"no event {event_id}")
    if event.status not in REQUEUEABLE:
        return False
    uow.actions.add(
        ActionRow(at=now, actor=actor, action="retry", subject=f"event:{event_id}", allowed=True)
    )
    if is_unplanned(event):
        outcome = (planner or _planner(integration_map)).replan(uow, event, now=now)
        return outcome.event_id == event_id and event.status == EventStatus.PENDING.value
    event.status = EventStatus.PENDING.value
    event.next_attempt_at = now
    event.lease_until = None
    event.lease_owner = None
    event.updated_at = now
    return True


def requeue_event(
    uow_factory: UnitOfWorkFactory,
    event_id: int,
    *,
    now: datetime,
    actor: str,
    integration_map: IntegrationMap,
) -> bool:
    with uow_factory() as uow:
        changed = requeue(uow, event_id, now=now, actor=actor, integration_map=integration_map)
        uow.commit()
    return changed


def requeue_dead(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    actor: str,
    integration_map: IntegrationMap,
) -> int:
    planner = _planner(integration_map)
    with uow_factory() as uow:
        count = sum(
            1
            for event in uow.events.dead(limit=100_000)
            if requeue(
                uow,
                event.id,
                now=now,
                actor=actor,
                integration_map=integration_map,
                planner=planner,
            )
        )
        uow.commit()
    return count
