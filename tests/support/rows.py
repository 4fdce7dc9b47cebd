"""Rows a test puts in the store directly, for tests that start from a given backlog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync_core.store.models import EventRow, EventStatus


def pending_event(
    canonical_id: str,
    at: datetime,
    *,
    flow: str = "deal-to-contact",
    source_record_type: str = "deal",
    source_external_id: str | None = None,
    target: tuple[str, str] = ("books", "contact"),
    payload: dict[str, Any] | None = None,
    payload_hash: str | None = None,
) -> EventRow:
    """An event planned at ``at`` for a customer with no copy in the target yet, due then."""
    return EventRow(
        flow=flow,
        phase=1,
        mode="live",
        canonical_id=canonical_id,
        target_canonical_id=canonical_id,
        source_system="crm",
        source_record_type=source_record_type,
        source_external_id=source_external_id or canonical_id,
        target_system=target[0],
        target_record_type=target[1],
        target_external_id=None,
        id_field="cid",
        payload=payload or {"name": canonical_id},
        payload_hash=payload_hash or f"{flow}-{canonical_id}",
        status=EventStatus.PENDING.value,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )
