"""Planning: a changed source record becomes at most one event per matching flow.

The record's canonical ID comes from the identity rules of its entity (minted from the record
itself, or read from the copy's canonical-ID field, or from an earlier link). The flow's
``when`` and field mapping run in the expression sandbox; an unchanged mapped payload makes no
event. The flow's phase decides the event's mode: planned (nothing), parallel (a shadow
write, nothing is delivered), live (queued for delivery).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from connectors.base import Record
from sync_core.alerts import AlertNotice, record_dead_event, record_lost_edits
from sync_core.expressions import ExpressionError, compile_condition, render_value
from sync_core.identity import Identity, record_context
from sync_core.lookups import Lookups, PageLookups, StoreLookups
from sync_core.map.model import Entity, Flow, IntegrationMap, PhaseState, RecordRef
from sync_core.operations import record_action
from sync_core.phases import flow_mode, phase_states
from sync_core.ports import UnitOfWork
from sync_core.store.models import (
    EventRow,
    EventStatus,
    ShadowWriteRow,
)
from sync_core.twoway import LOST_EDIT_ACTION, LegInfo, LostEdit, directed_flows, is_echo, lost_edit
from sync_core.unplanned import INTERNAL, PlanFailure, restore, unplanned_event

CONFLICT = "conflict"


@dataclass(frozen=True)
class PlanOutcome:
    flow: str
    external_id: str
    # queued | shadow | unchanged | filtered | planned_phase | unlinked | dead |
    # echo | conflict_lost | conflict | create_only
    outcome: str
    event_id: int | None = None
    detail: str | None = None
    notices: tuple[AlertNotice, ...] = ()
    # the event planned, whose id a page planned as a whole learns at its flush
    event: EventRow | None = field(default=None, compare=False, repr=False)


def payload_hash(target: str, payload: Mapping[str, Any]) -> str:
    body = json.dumps({"target": target, "fields": payload}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def render_fields(flow: Flow, context: Mapping[str, Any]) -> dict[str, Any]:
    """The flow's field mapping rendered for one record; a failure names the field."""
    payload = {}
    for name, value in flow.fields.items():
        try:
            payload[name] = render_value(value, context)
        except ExpressionError as exc:
            raise ExpressionError(f"field {name}: {exc}", expression=exc.expression) from exc
    return payload


class Planner:
    def __init__(self, integration_map: IntegrationMap) -> None:
        self.map = integration_map
        self.identity = Identity(integration_map)
        self.flows, self.legs = directed_flows(integration_map)

    def flows_from(self, ref: RecordRef) -> list[Flow]:
        """Flows reading ``ref``, two-way flows as their legs."""
        return [f for f in self.flows if f.source == ref]

    def plan_record(
        self,
        uow: UnitOfWork,
        ref: RecordRef,
        record: Record,
        *,
        states: dict[int, PhaseState],
        paused: set[str],
        now: datetime,
    ) -> list[PlanOutcome]:
        """Plan every flow from ``ref`` for one changed record. Runs inside the caller's unit
        of work; the caller commits. Never raises for the record itself: a flow that cannot
        be planned leaves a dead event (see :mod:`sync_core.unplanned`), so the caller may
        move its cursor past every record it was given."""
        flows = [f for f in self.flows_from(ref) if f.name not in paused]
        return self._plan(StoreLookups(uow), ref, record, flows, states, now)

    def plan_page(
        self,
        uow: UnitOfWork,
        ref: RecordRef,
        records: Sequence[Record],
        *,
        states: dict[int, PhaseState],
        paused: set[str],
        now: datetime,
    ) -> list[PlanOutcome]:
        """Plan a page of changed records as a whole: what the page needs of the identity
        index and the event log is read in a few IN-queries, its new rows are written in one
        flush. Unlike :meth:`plan_record` it raises on any failure (one record's mapping, a
        row another process inserted meanwhile); the caller then rolls back and plans the
        page record by record, where a record that fails becomes its own dead event."""
        flows = [f for f in self.flows_from(ref) if f.name not in paused]
        look = PageLookups(uow)
        look.load_records(ref.system, ref.record_type, [r.external_id for r in records])
        keys = self.identity.page_keys(look, ref, records)
        look.load_entities(keys)
        for target in {f.target for f in flows if f.target is not None}:
            look.load_links_in(keys, target.system, target.record_type)
        names = {f.name for f in flows}
        names.update(self.legs[f.name].reverse for f in flows if f.name in self.legs)
        look.load_events(names, keys)
        outcomes = [
            outcome
            for record in records
            for outcome in self._plan(look, ref, record, flows, states, now)
        ]
        look.finish()
        return [
            replace(o, event_id=o.event.id) if o.event_id is None and o.event else o
            for o in outcomes
        ]

    def replan(self, uow: UnitOfWork, event: EventRow, *, now: datetime) -> PlanOutcome:
        """Plan a dead event that planning could not finish again, from the source record it
        keeps and with this planner's map, in place: it becomes the event it should have been
        (pending, shadow, or held), dies again with the new reason, or is superseded when
        there is nothing to send (filtered, unchanged, phase not started)."""
        flow = next((f for f in self.flows if f.name == event.flow), None)
        record = restore(event.payload)
        states = phase_states(uow)
        look = StoreLookups(uow)
        if flow is None or flow.source is None:
            failure = PlanFailure(
                event.last_error_kind or INTERNAL, f"flow {event.flow} is no longer in the map"
            )
            return self._quarantine(look, None, None, record, failure, states, now, event)
        [outcome] = self._plan(look, flow.source, record, [flow], states, now, replan=event)
        if outcome.event_id != event.id:
            event.status = EventStatus.SUPERSEDED.value
            event.next_attempt_at = None
            event.resolution_note = f"planned again with the current map: {outcome.outcome}"
            event.updated_at = now
        return outcome

    @staticmethod
    @contextmanager
    def _guarded(look: Lookups) -> Iterator[None]:
        """One record's planning in a savepoint, so its failure undoes only its own work; a
        page planned as a whole has none (its failure undoes the page)."""
        if look.batched:
            yield
        else:
            with look.uow.savepoint():
                yield

    def _plan(
        self,
        look: Lookups,
        ref: RecordRef,
        record: Record,
        flows: list[Flow],
        states: dict[int, PhaseState],
        now: datetime,
        replan: EventRow | None = None,
    ) -> list[PlanOutcome]:
        try:
            with self._guarded(look):
                identity = self.identity.canonical_id_of(look, ref, record, now)
        except Exception as exc:  # one record's problem, never the whole page's
            if look.batched:
                raise
            failure = PlanFailure.of(exc, where="canonical ID")
            return [
                self._quarantine(look, f, None, record, failure, states, now, replan) for f in flows
            ]
        if identity is None:
            return [PlanOutcome(f.name, record.external_id, "unlinked") for f in flows]
        canonical_id, _entity_name, entity = identity
        context = record_context(record)
        outcomes = []
        for flow in flows:
            try:
                with self._guarded(look):
                    outcome = self._plan_flow(
                        look, flow, entity, canonical_id, record, context, states, now, replan
                    )
            except Exception as exc:
                if look.batched:
                    raise
                failure = PlanFailure.of(exc)
                outcome = self._quarantine(
                    look, flow, canonical_id, record, failure, states, now, replan
                )
            outcomes.append(outcome)
        return outcomes

    def _quarantine(
        self,
        look: Lookups,
        flow: Flow | None,
        canonical_id: str | None,
        record: Record,
        failure: PlanFailure,
        states: dict[int, PhaseState],
        now: datetime,
        replan: EventRow | None,
    ) -> PlanOutcome:
        """A dead event for a record ``flow`` could not plan, alerted with the others of its
        flow and kind; the same failure on the same record read again makes no second one."""
        uow = look.uow
        if replan is not None:
            event = replan
            event.status = EventStatus.DEAD.value
            event.next_attempt_at = None
            event.last_error_kind = failure.kind
            event.last_error_message = failure.message
            event.payload = {**event.payload, "expression": failure.expression}
            event.updated_at = now
        else:
            assert flow is not None
            mode = flow_mode(flow, states).value
            event = unplanned_event(flow, canonical_id, record, failure, mode=mode, now=now)
            earlier = look.unplanned_for(flow.name, canonical_id) if canonical_id else []
            same = next((e for e in earlier if e.payload_hash == event.payload_hash), None)
            if same is not None:
                return PlanOutcome(
                    flow.name, record.external_id, "unchanged", same.id, detail=failure.message
                )
            self._supersede(earlier, now, "the record was read again")
            look.add_event(event)
            uow.flush()
        notice = record_dead_event(
            uow,
            event,
            now=now,
            settings=self.map.alerts,
        )
        return PlanOutcome(
            event.flow,
            record.external_id,
            "dead",
            event.id,
            detail=failure.message,
            notices=(notice,),
        )

    @staticmethod
    def _supersede(events: Iterable[EventRow], now: datetime, note: str | None = None) -> None:
        for older in events:
            older.status = EventStatus.SUPERSEDED.value
            older.next_attempt_at = None
            if note:
                older.resolution_note = note
            older.updated_at = now

    def _plan_flow(
        self,
        look: Lookups,
        flow: Flow,
        entity: Entity,
        canonical_id: str,
        record: Record,
        context: dict[str, Any],
        states: dict[int, PhaseState],
        now: datetime,
        replan: EventRow | None = None,
    ) -> PlanOutcome:
        assert flow.source is not None and flow.target is not None
        mode = flow_mode(flow, states)
        if mode == PhaseState.PLANNED:
            return PlanOutcome(flow.name, record.external_id, "planned_phase")
        if flow.when and not compile_condition(flow.when).evaluate(context):
            return PlanOutcome(flow.name, record.external_id, "filtered")
        target = self.identity.target_of(look, flow, entity, canonical_id, record)
        if target is None:
            return PlanOutcome(
                flow.name, record.external_id, "unlinked", detail="target entity not linked yet"
            )
        target_cid, id_field, target_external_id = target
        payload = render_fields(flow, context)
        digest = payload_hash(str(flow.target), payload)
        leg = self.legs.get(flow.name)
        notice = None
        lost: list[AlertNotice] = []  # edits the conflict rule overwrote, when reported now
        if leg is not None:
            settled = self._two_way(look, leg, canonical_id, context, now, lost)
            if isinstance(settled, PlanOutcome):
                return PlanOutcome(
                    flow.name,
                    record.external_id,
                    settled.outcome,
                    detail=settled.detail,
                    notices=tuple(lost),
                )
            notice = settled
        latest = look.latest_for(flow.name, canonical_id)
        if (
            latest is not None
            and latest is not replan
            and latest.payload_hash == digest
            and (mode == PhaseState.PARALLEL or latest.status != EventStatus.SHADOW.value)
            and latest.status not in (EventStatus.IGNORED.value, EventStatus.SUPERSEDED.value)
        ):
            return PlanOutcome(flow.name, record.external_id, "unchanged", latest.id)
        if flow.create_only and target_external_id is not None:
            return self._skip_update(look, flow, canonical_id, target_external_id, record, now)
        self._supersede(look.open_for(flow.name, canonical_id), now)
        self._supersede(
            (e for e in look.unplanned_for(flow.name, canonical_id) if e is not replan),
            now,
            "a newer read of the record was planned",
        )
        live = mode == PhaseState.LIVE
        values: dict[str, Any] = dict(
            flow=flow.name,
            phase=flow.phase,
            mode=mode.value,
            canonical_id=canonical_id,
            target_canonical_id=target_cid,
            source_system=flow.source.system,
            source_record_type=flow.source.record_type,
            source_external_id=record.external_id,
            target_system=flow.target.system,
            target_record_type=flow.target.record_type,
            target_external_id=target_external_id,
            id_field=str(id_field) if id_field is not None else None,
            payload=payload,
            payload_hash=digest,
            status=(EventStatus.PENDING if live else EventStatus.SHADOW).value,
            next_attempt_at=now if live else None,
            updated_at=now,
        )
        if replan is None:
            event = EventRow(**values, attempts=0, created_at=now)
            look.add_event(event)
        else:
            event = replan
            for name, value in values.items():
                setattr(event, name, value)
            look.uow.flush()
        if not live:
            look.add_shadow(
                event,
                ShadowWriteRow(
                    event_id=event.id,
                    flow=flow.name,
                    phase=flow.phase,
                    canonical_id=target_cid,
                    target_system=flow.target.system,
                    target_record_type=flow.target.record_type,
                    payload=payload,
                    created_at=now,
                ),
            )
        if notice == CONFLICT:
            return self._hold_conflict(look, flow, event, canonical_id, record, now)
        return PlanOutcome(
            flow.name,
            record.external_id,
            "queued" if live else "shadow",
            event.id,
            notices=tuple(lost),
            event=event,
        )

    @staticmethod
    def _skip_update(
        look: Lookups,
        flow: Flow,
        canonical_id: str,
        target_external_id: str,
        record: Record,
        now: datetime,
    ) -> PlanOutcome:
        """A create-only flow whose target exists already: no event, and an audited line
        saying which change was not written, so nothing is left out silently."""
        record_action(
            look.uow,
            actor="handoff",
            action="update skipped",
            subject=canonical_id,
            now=now,
            reason=f"{flow.name} has updates: never; {flow.target} {target_external_id} "
            "exists and is left as people keep it",
            detail={
                "flow": flow.name,
                "source_external_id": record.external_id,
                "target": str(flow.target),
                "target_external_id": target_external_id,
            },
        )
        return PlanOutcome(
            flow.name, record.external_id, "create_only", detail="target exists: not updated"
        )

    def _two_way(
        self,
        look: Lookups,
        leg: LegInfo,
        canonical_id: str,
        context: dict[str, Any],
        now: datetime,
        lost: list[AlertNotice],
    ) -> PlanOutcome | str | None:
        """The loop guard and the conflict rule of a two-way leg: an outcome that stops
        planning, ``CONFLICT`` for a manual conflict, or ``None`` to plan as usual. An edit
        the rule overwrites is reported (its alert notice added to ``lost``)."""
        reverse = look.latest_for(leg.reverse, canonical_id)
        if (
            reverse is not None
            and reverse.status == EventStatus.DELIVERED.value
            and is_echo(leg, context, reverse.payload)
        ):
            return PlanOutcome(leg.flow, "", "echo", detail="the other side's own write")
        opposite = list(look.open_for(leg.reverse, canonical_id))
        if not opposite:
            return None
        if leg.conflict == "manual":
            return CONFLICT
        if leg.conflict in ("source_wins", "target_wins") and not leg.wins:
            newest = opposite[-1].payload
            edit = lost_edit(leg, canonical_id, context, newest, here_wins=False)
            self._report_lost(look.uow, edit, leg.report, now, lost)
            return PlanOutcome(
                leg.flow, "", "conflict_lost", detail=f"the other side wins ({leg.conflict})"
            )
        for older in opposite:  # last_write_wins, or this side wins
            older.status = EventStatus.SUPERSEDED.value
            older.resolution_note = f"conflict settled by {leg.conflict}"
            older.updated_at = now
            edit = lost_edit(leg, canonical_id, context, older.payload, here_wins=True)
            self._report_lost(look.uow, edit, leg.report, now, lost)
        return None

    def _report_lost(
        self,
        uow: UnitOfWork,
        edit: LostEdit | None,
        report: str,
        now: datetime,
        lost: list[AlertNotice],
    ) -> None:
        """Keep a lost edit in the audit log; alert it now unless the map wants a digest."""
        if edit is None:
            return
        record_action(
            uow,
            actor="handoff",
            action=LOST_EDIT_ACTION,
            subject=f"flow:{edit.flow}",
            now=now,
            reason=edit.summary,
            detail=edit.as_dict(),
        )
        if report == "alert":
            lost.append(
                record_lost_edits(
                    uow,
                    key=f"conflict:{edit.flow}",
                    summary=edit.summary,
                    now=now,
                    channel=self.map.alerts.channel,
                )
            )

    def _hold_conflict(
        self,
        look: Lookups,
        flow: Flow,
        event: EventRow,
        canonical_id: str,
        record: Record,
        now: datetime,
    ) -> PlanOutcome:
        """A manual conflict: both sides changed; neither change is sent until a person
        decides (Retry the one to keep, Ignore the other)."""
        uow = look.uow
        uow.flush()  # the alerts below name the held events by id
        leg = self.legs[flow.name]
        held = [event, *look.open_for(leg.reverse, canonical_id)]
        notices = []
        for row in held:
            row.status = EventStatus.DEAD.value
            row.next_attempt_at = None
            row.last_error_kind = "conflict"
            row.last_error_message = (
                f"{leg.flow}: both sides changed {canonical_id}; the map says a person "
                "settles it (conflict: manual)"
            )
            row.updated_at = now
            notices.append(
                record_dead_event(
                    uow,
                    row,
                    now=now,
                    settings=self.map.alerts,
                )
            )
        return PlanOutcome(
            flow.name,
            record.external_id,
            "conflict",
            event.id,
            detail="held for a person",
            notices=tuple(notices),
        )
