"""Drift: a copy edited by hand is noticed and put back.

Copies are never edited by hand: the map names one source of truth per field. So every record a
one-way flow writes is read back (by a cursor of its own on the target record type), and a
field that no longer holds what Handoff last delivered is drift. The flow's ``drift`` setting
decides what happens: ``revert`` queues the last delivered payload again (a normal event, with
retries and alerts), ``report`` only records it in the audit log, ``ignore`` does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Record
from sync_core.alerts import AlertNotice
from sync_core.identity import id_field_value
from sync_core.map.model import Flow, IntegrationMap, RecordRef
from sync_core.matching.hand_typed import check_hand_typed
from sync_core.parallel import differences
from sync_core.ports import UnitOfWork
from sync_core.requeue import pending_copy
from sync_core.store.models import ActionRow, EventStatus

DRIFT_CURSOR_SUFFIX = "#drift"


@dataclass
class DriftReport:
    target: str
    records: int = 0
    reverted: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)
    notices: list[AlertNotice] = field(default_factory=list)  # told to the sink after commit


def watched_flows(integration_map: IntegrationMap, target: RecordRef) -> list[Flow]:
    """One-way flows writing into ``target`` whose copies are watched (two-way fields are
    edited on both sides by design, and a minting target is a source of truth itself)."""
    found = integration_map.entity_of(target)
    if found is None or found[1].id_field_for(target) is None:
        return []
    return [
        f for f in integration_map.one_way_flows() if f.target == target and f.drift != "ignore"
    ]


def drift_targets(integration_map: IntegrationMap) -> list[RecordRef]:
    targets: list[RecordRef] = []
    for flow in integration_map.one_way_flows():
        target = flow.target
        if target is not None and target not in targets and watched_flows(integration_map, target):
            targets.append(target)
    return targets


def check_record(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    target: RecordRef,
    record: Record,
    report: DriftReport,
    *,
    now: datetime,
    merging: bool = False,
) -> None:
    """Compare one read-back copy with what each watching flow last delivered to it.
    ``merging``: the target's connector can merge records (see :mod:`hand_typed`)."""
    found = integration_map.entity_of(target)
    if found is None:
        return
    id_field = found[1].id_field_for(target)
    canonical_id = id_field_value(record, id_field) if id_field else None
    if canonical_id is None:
        # Not a record Handoff keeps: after cutover, perhaps one typed by hand.
        notice = check_hand_typed(
            uow,
            integration_map,
            target,
            record,
            now=now,
            channel=integration_map.alerts.channel,
            merging=merging,
        )
        if notice is not None:
            report.notices.append(notice)
        return
    for flow in watched_flows(integration_map, target):
        latest = uow.events.latest_for(flow.name, canonical_id)
        if latest is None or latest.status != EventStatus.DELIVERED.value:
            continue  # nothing delivered yet, or a newer write is on its way
        diff = differences(latest.payload, record)
        if not diff:
            continue
        described = ", ".join(
            f"{name} was {d['actual']!r}, Handoff wrote {d['intended']!r}"
            for name, d in diff.items()
        )
        note = f"reverting drift: {described}"
        if flow.drift == "revert" and latest.resolution_note == note:
            # Our own revert came back changed the same way: the vendor rewrites the value
            # (a format it normalises). Reverting again would loop; say so instead.
            report.reported.append(canonical_id)
            uow.actions.add(
                ActionRow(
                    at=now,
                    actor="handoff",
                    action="drift persists",
                    subject=canonical_id,
                    reason=f"{target} keeps its own value after a revert: {described}",
                    detail={"flow": flow.name, "external_id": record.external_id},
                    allowed=True,
                )
            )
            continue
        if flow.drift == "revert":
            uow.events.add(pending_copy(latest, now, note=note))
            report.reverted.append(canonical_id)
        else:
            report.reported.append(canonical_id)
        uow.actions.add(
            ActionRow(
                at=now,
                actor="handoff",
                action=f"drift {flow.drift}",
                subject=f"{canonical_id}",
                reason=f"{target} edited by hand: {described}",
                detail={"flow": flow.name, "external_id": record.external_id},
                allowed=True,
            )
        )
