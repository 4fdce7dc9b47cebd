"""Going live at first start: a phase declared live in the map is reconciled before it runs.

On a new store nobody may have run ``handoff match`` yet, so the go-live gate would see no
proposals and the first live sync would create a second copy of every customer people typed
by hand. Before a phase declared live gets its row, the copies of its flows' targets are
matched (as ``handoff match ENTITY`` does), the links at or above ``auto_accept`` applied (as
``handoff match apply`` does, audited with the actor ``handoff``), and only then is the gate
evaluated: probable matches left for a person, or a target that could not be read, start the
phase in its parallel period instead, with the reason in its history and an alert.

The phase's row is written only once all of this finished: a crash in the middle leaves the
phase without a row (its flows do nothing), and the next start reconciles again; matching
keeps earlier decisions and applying skips what is applied, so doing it twice is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from connectors.base import Connector, ConnectorError
from sync_core.golive_alert import GOLIVE_KEY
from sync_core.map.model import IntegrationMap, PhaseState, RecordRef
from sync_core.matching.apply import apply_accepted
from sync_core.matching.service import MatchError, read_records, run_match
from sync_core.phases import Gate, flows_of, unreviewed_matches_gate
from sync_core.ports import UnitOfWorkFactory

log = structlog.get_logger("handoff.golive")

__all__ = ["GOLIVE_ACTOR", "GOLIVE_KEY", "Reconciliation", "held_summary", "reconcile_phase"]

GOLIVE_ACTOR = "handoff"


@dataclass
class Reconciliation:
    """What reconciling one phase's targets before its first live sync did."""

    phase_id: int
    gate: Gate
    read: dict[str, int] = field(default_factory=dict)  # record type -> records read
    unread: dict[str, str] = field(default_factory=dict)  # record type -> why it was not read
    linked: list[str] = field(default_factory=list)  # "PD-1 → xero.contact 7"
    failed: list[str] = field(default_factory=list)  # links that could not be applied
    # links refused (the record carries another canonical ID): back to review, holding it
    refused: list[str] = field(default_factory=list)
    # targets that could not be read: the phase waits unstarted and is reconciled again
    blind: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.gate.passed


def targets_to_reconcile(
    integration_map: IntegrationMap, phase_id: int
) -> dict[str, list[RecordRef]]:
    """Entity -> the copy record types the phase's flows write into (where a second copy of a
    customer would be made); a flow into a minting record type or into no entity has none."""
    found: dict[str, list[RecordRef]] = {}
    for flow in flows_of(integration_map, phase_id):
        target = flow.target
        if target is None:
            continue
        held = integration_map.entity_of(target)
        if held is None:
            continue
        name, entity = held
        if target not in entity.copy_refs():
            continue
        refs = found.setdefault(name, [])
        if target not in refs:
            refs.append(target)
    return found


def reconcile_phase(
    uow_factory: UnitOfWorkFactory,
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    phase_id: int,
    *,
    clock: Callable[[], datetime],
) -> Reconciliation:
    """Match the phase's targets, apply the accepted links, and evaluate the go-live gate.
    Writes proposals, decisions and links (each committed); never the phase's row."""
    blind: list[str] = []
    outcome = Reconciliation(phase_id, Gate("no_unreviewed_matches", True, ""))
    for entity_name, refs in targets_to_reconcile(integration_map, phase_id).items():
        try:
            # read before the transaction: reading may write to the store (a refreshed token)
            # the copies first: with none free to match (an empty target), the minting side
            # is not read at all
            records = read_records(
                uow_factory, integration_map, connectors, entity_name, now=clock(), only=refs
            )
            with uow_factory() as uow:
                report = run_match(
                    uow,
                    integration_map,
                    connectors,
                    entity_name,
                    now=clock(),
                    only=refs,
                    read_before=records,
                )
                uow.commit()
        except (ConnectorError, MatchError) as exc:
            # never live blind: what could not be read may hold the customers' copies
            targets = ", ".join(str(ref) for ref in refs)
            blind.append(f"{targets} could not be read to reconcile {entity_name}: {exc}")
            continue
        outcome.read.update(report.read)
        outcome.unread.update(report.unread)
        applied = apply_accepted(
            uow_factory,
            integration_map,
            connectors,
            entity_name,
            actor=GOLIVE_ACTOR,
            clock=clock,
            only=refs,
        )
        outcome.linked.extend(applied.applied)
        outcome.failed.extend(applied.failed)
        outcome.refused.extend(applied.refused)
    if outcome.failed:
        # an accepted link whose stamp failed (an outage, a fault) is tried again, not left to
        # hold the phase in parallel for good
        blind.append(
            f"{len(outcome.failed)} accepted link(s) could not be applied: {outcome.failed[0]}"
        )
    with uow_factory() as uow:
        gate = unreviewed_matches_gate(uow, integration_map, phase_id)
    if blind:
        detail = "; ".join(blind)
        if not gate.passed:
            detail += f"; {gate.detail}"
        gate = Gate("targets_reconciled", False, detail)
        outcome.blind = blind
    outcome.gate = gate
    return outcome


def held_summary(integration_map: IntegrationMap, outcome: Reconciliation) -> str:
    """The alert and console line of a phase declared live and held in its parallel period,
    or waiting to start because its targets could not be read."""
    phase = integration_map.phase(outcome.phase_id)
    if outcome.blind:
        return (
            f"phase {phase.id} ({phase.name}) is declared {PhaseState.LIVE.value} in the map but "
            f"waits to start: {outcome.gate.detail}; reconciled again at the next poll"
        )
    linked = f" ({len(outcome.linked)} existing copies linked first)" if outcome.linked else ""
    refused = ""
    if outcome.refused:
        refused = (
            f"; {len(outcome.refused)} accepted link(s) not linked, back to review: "
            f"{outcome.refused[0]}"
        )
    return (
        f"phase {phase.id} ({phase.name}) is declared {PhaseState.LIVE.value} in the map but "
        f"starts in its parallel period{linked}: {outcome.gate.detail}{refused}; then "
        f"`handoff phase promote {phase.id}`"
    )
