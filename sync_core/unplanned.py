"""Records whose planning failed: a dead event that keeps the source record, never a gap.

A mapping that fails on a record (``{{ value / 0 }}``, a field the sandbox refuses) or an
error nobody anticipated while planning one record becomes a dead event of kind ``mapping``
or ``internal`` instead of a log line. Its payload holds the source record as it was read and
the expression that failed, so a Retry can plan it again with the map loaded then; see
:meth:`sync_core.planner.Planner.replan`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import Record
from sync_core.expressions import ExpressionError
from sync_core.map.model import Flow
from sync_core.store.models import EventRow, EventStatus

MAPPING = "mapping"
INTERNAL = "internal"


@dataclass(frozen=True)
class PlanFailure:
    """Why one record could not be planned for one flow."""

    kind: str  # mapping | internal
    message: str
    expression: str | None = None

    @classmethod
    def of(cls, exc: Exception, *, where: str | None = None) -> PlanFailure:
        """Classify ``exc``: the expression boundary has already turned whatever rendering
        raised into :class:`ExpressionError`; anything else is ``internal`` (its type and
        message, never its locals)."""
        prefix = f"{where}: " if where else ""
        if isinstance(exc, ExpressionError):
            return cls(MAPPING, f"{prefix}{exc}"[:2000], exc.expression)
        return cls(INTERNAL, f"{prefix}{type(exc).__name__}: {exc}"[:2000])


def snapshot(record: Record) -> dict[str, Any]:
    """The source record as JSON, enough to plan it again."""
    return {
        "record_type": record.record_type,
        "external_id": record.external_id,
        "fields": json.loads(json.dumps(dict(record.fields), default=str)),
        "updated_at": record.updated_at.isoformat() if record.updated_at else None,
        "url": record.url,
        "display_name": record.display_name,
    }


def restore(payload: dict[str, Any]) -> Record:
    """The source record kept by :func:`unplanned_event`."""
    kept = payload["source_record"]
    updated_at = kept.get("updated_at")
    return Record(
        record_type=kept["record_type"],
        external_id=kept["external_id"],
        fields=dict(kept.get("fields") or {}),
        updated_at=datetime.fromisoformat(updated_at) if updated_at else None,
        url=kept.get("url"),
        display_name=kept.get("display_name"),
    )


def unplanned_event(
    flow: Flow,
    canonical_id: str | None,
    record: Record,
    failure: PlanFailure,
    *,
    mode: str,
    now: datetime,
) -> EventRow:
    """A dead event for ``record`` that ``flow`` could not plan; ``canonical_id`` is ``None``
    when the failure came before the record's canonical ID was known (stored as "")."""
    assert flow.source is not None and flow.target is not None
    payload: dict[str, Any] = {
        "source_record": snapshot(record),
        "expression": failure.expression,
    }
    body = json.dumps({"flow": flow.name, **payload, "kind": failure.kind}, sort_keys=True)
    return EventRow(
        flow=flow.name,
        phase=flow.phase,
        mode=mode,
        canonical_id=canonical_id or "",
        target_canonical_id=canonical_id or "",
        source_system=flow.source.system,
        source_record_type=flow.source.record_type,
        source_external_id=record.external_id,
        target_system=flow.target.system,
        target_record_type=flow.target.record_type,
        target_external_id=None,
        id_field=None,
        payload=payload,
        payload_hash=hashlib.sha256(body.encode()).hexdigest(),
        status=EventStatus.DEAD.value,
        attempts=0,
        next_attempt_at=None,
        last_error_kind=failure.kind,
        last_error_message=failure.message,
        created_at=now,
        updated_at=now,
    )
