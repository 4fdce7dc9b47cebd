"""The parallel period: compare what a phase would have written with what people did by hand.

During a phase's parallel period its events are shadow writes: recorded, never sent. Comparing
looks each one up in its target system (by canonical ID, or by the record's known id) and
says whether the hand-made record matches what Handoff would have written, differs (field by
field), or is missing. That comparison is the evidence for promoting the phase.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import Connector, ConnectorError, IdField, Record, classified
from sync_core.map.model import IntegrationMap, PhaseState
from sync_core.phases import flows_of
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.store.models import EventRow, ShadowWriteRow

MATCH, DIFFERS, MISSING, UNREADABLE = "match", "differs", "missing", "unreadable"


@dataclass(frozen=True)
class Comparison:
    shadow_id: int
    flow: str
    canonical_id: str
    target: str
    outcome: str
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    detail: str | None = None
    display_name: str = ""  # the customer's name in the store, shown beside the canonical ID
    manual_name: str | None = None  # the name of the record people made by hand, if found


@dataclass
class ComparisonReport:
    phase_id: int
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(c.outcome for c in self.comparisons)

    @property
    def agreement(self) -> float | None:
        """Share of compared writes the manual process got the same (None: nothing compared)."""
        judged = [c for c in self.comparisons if c.outcome != UNREADABLE]
        if not judged:
            return None
        return sum(1 for c in judged if c.outcome == MATCH) / len(judged)


def same(intended: Any, actual: Any) -> bool:
    """Loose equality: people type numbers as text and add stray spaces."""
    if intended == actual:
        return True
    if intended is None or actual is None:
        return str(intended or "").strip() == str(actual or "").strip()
    return str(intended).strip().casefold() == str(actual).strip().casefold()


def differences(intended: Mapping[str, Any], record: Record) -> dict[str, dict[str, Any]]:
    return {
        name: {"intended": value, "actual": record.fields.get(name)}
        for name, value in intended.items()
        if not same(value, record.fields.get(name))
    }


def latest_shadow_writes(
    uow: UnitOfWork, integration_map: IntegrationMap, phase_id: int, limit: int
) -> list[tuple[ShadowWriteRow, EventRow]]:
    """The newest shadow write per (flow, canonical ID) of the phase's flows."""
    names = [flow.name for flow in flows_of(integration_map, phase_id)]
    seen: set[tuple[str, str]] = set()
    result = []
    for shadow in uow.shadow_writes.for_flows(names, limit=limit * 4):
        key = (shadow.flow, shadow.canonical_id)
        if key in seen:
            continue
        seen.add(key)
        event = uow.events.get(shadow.event_id)
        if event is not None:
            result.append((shadow, event))
        if len(result) >= limit:
            break
    return result


def find_target(connector: Connector, event: EventRow) -> Record | None:
    """The record a shadow write was meant for; a connector failure, anticipated or not,
    leaves as a :class:`ConnectorError`."""
    with classified(f"reading {event.target_record_type} for {event.target_canonical_id}"):
        if event.id_field:
            return connector.find_by_canonical_id(
                event.target_record_type,
                IdField.parse(event.id_field),
                event.target_canonical_id,
            )
        if event.target_external_id:
            return connector.get(event.target_record_type, event.target_external_id)
    return None


def compare_phase(
    uow: UnitOfWork,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    phase_id: int,
    *,
    now: datetime,
    limit: int = 500,
) -> ComparisonReport:
    """Compare the phase's newest shadow writes with their targets and store the outcome on
    each shadow write. Reads vendors; the caller commits."""
    report = ComparisonReport(phase_id)
    for shadow, event in latest_shadow_writes(uow, integration_map, phase_id, limit):
        connector = connectors.get(event.target_system)
        entity = uow.entities.get(shadow.canonical_id)
        comparison = dataclasses.replace(
            _compare_one(connector, shadow, event),
            display_name=entity.display_name if entity is not None else "",
        )
        shadow.compared_at = now
        shadow.outcome = comparison.outcome
        shadow.differences = comparison.differences or None
        report.comparisons.append(comparison)
    return report


def _compare_one(
    connector: Connector | None, shadow: ShadowWriteRow, event: EventRow
) -> Comparison:
    made = functools.partial(Comparison, shadow.id, shadow.flow, shadow.canonical_id, event.target)
    if connector is None:
        return made(UNREADABLE, detail="no connector for the target")
    try:
        record = find_target(connector, event)
    except ConnectorError as exc:
        return made(UNREADABLE, detail=f"{exc.kind}: {exc}")
    if record is None:
        return made(MISSING, detail="no record with this canonical ID")
    diff = differences(shadow.payload, record)
    return made(DIFFERS if diff else MATCH, differences=diff, manual_name=record.display_name)


def compare_parallel_phases(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    *,
    now: datetime,
) -> list[ComparisonReport]:
    """Compare every phase now in its parallel period (the scheduler runs this regularly,
    so `/phase status` shows how the manual process compares)."""
    reports = []
    with uow_factory() as uow:
        parallel = [p.id for p in uow.phases.all() if p.state == PhaseState.PARALLEL.value]
    for phase_id in parallel:
        with uow_factory() as uow:
            reports.append(compare_phase(uow, integration_map, connectors, phase_id, now=now))
            uow.commit()
    return reports
