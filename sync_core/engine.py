"""The engine: change detection by cursor, planning, delivery, and requeueing by hand.

It takes its collaborators as arguments (map, unit-of-work factory, connectors, clock, alert
sink) so tests hand it fakes and a frozen clock; it knows no vendor and no Slack.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError

from connectors.base import Connector, ConnectorError, Page, classified
from connectors.capabilities import Merge
from connectors.clock import Clock
from sync_core.alerts import (
    AlertNotice,
    AlertSink,
    record_golive_held,
    record_poll_failure,
    resolve_poll_failures,
)
from sync_core.deliverer import Deliverer, DeliveryReport
from sync_core.drift import DRIFT_CURSOR_SUFFIX, DriftReport, check_record
from sync_core.golive import (
    GOLIVE_ACTOR,
    GOLIVE_KEY,
    Reconciliation,
    held_summary,
    reconcile_phase,
)
from sync_core.golive_alert import resolve_golive_alert
from sync_core.leases import DEFAULT_LEASE
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.phases import ensure_phases, phase_states
from sync_core.planner import Planner, PlanOutcome
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.requeue import requeue_dead, requeue_event
from sync_core.retry import RetryPolicy
from sync_core.store.models import FlowStateRow

log = structlog.get_logger("handoff.engine")


@dataclass
class PollReport:
    source: str
    records: int = 0
    pages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # summed over every flow
    # flow -> its outcomes; each flow planned sums to the records read
    by_flow: dict[str, Counter[str]] = field(default_factory=dict)
    error: str | None = None
    dead: int = 0  # records a flow could not plan: dead events of their own
    notices: list[AlertNotice] = field(default_factory=list)
    held_elsewhere: bool = False  # another run moved the cursor meanwhile and reads on


@dataclass(frozen=True)
class HeldElsewhere:
    """Due work this run could not take: events under a live lease of another worker."""

    events: int = 0
    until: datetime | None = None


@dataclass
class SyncReport:
    polls: list[PollReport] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    held: HeldElsewhere = field(default_factory=HeldElsewhere)

    @property
    def failed(self) -> bool:
        return self.delivery.dead > 0 or any(p.error or p.dead for p in self.polls)

    @property
    def incomplete(self) -> bool:
        """Another worker holds events this run left undelivered."""
        return self.held.events > 0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Engine:
    def __init__(
        self,
        integration_map: IntegrationMap,
        uow_factory: UnitOfWorkFactory,
        connectors: Mapping[str, Connector],
        clock: Clock,
        alert_sink: AlertSink,
        *,
        worker_id: str | None = None,
        page_size: int = 100,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.map = integration_map
        self.uow_factory = uow_factory
        self.connectors = connectors
        self.clock = clock
        self.alert_sink = alert_sink
        # a phase declared live whose targets could not be read waits unstarted, reconciled
        # again before the next poll
        self._unstarted = False
        self._preparing = threading.Lock()
        self.worker_id = worker_id or default_worker_id()
        self.page_size = page_size
        self.planner = Planner(integration_map)
        # source -> (error kind, polls) of its current failure streak
        self._failing: dict[str, tuple[str, int]] = {}
        self.retry_policy = RetryPolicy(tuple(integration_map.alerts.retry))
        self.deliverer = Deliverer(
            integration_map,
            uow_factory,
            connectors,
            clock,
            worker_id=self.worker_id,
            retry_policy=self.retry_policy,
            lease=lease,
        )

    @property
    def stopping(self) -> bool:
        return self.deliverer.stopping.is_set()

    def request_stop(self) -> None:
        """Stop taking work: no new claims or pages; the batch in flight is finished and the
        claims not started are released (see :meth:`release_claims` for the rest)."""
        self.deliverer.stopping.set()

    def release_claims(self) -> int:
        """Clear every lease this worker still holds, once nothing of it runs any more."""
        with self.uow_factory() as uow:
            released = uow.events.release_leases(self.worker_id)
            uow.commit()
        return released

    def held_elsewhere(self) -> HeldElsewhere:
        with self.uow_factory() as uow:
            count, until = uow.events.held_elsewhere(self.clock.now(), self.worker_id)
        return HeldElsewhere(count, until)

    def prepare(self) -> list[Reconciliation]:
        """Create the store's rows for the map's phases (idempotent). A phase declared live
        and new to the store is reconciled first (see ``sync_core.golive``): it starts live
        only if its targets hold no probable match left for a person."""
        with self._preparing:
            self._unstarted = False
            return self._prepare()

    def _prepare(self) -> list[Reconciliation]:
        with self.uow_factory() as uow:
            waiting = ensure_phases(uow, self.map, self.clock.now())
            uow.commit()
        done: list[Reconciliation] = []
        for phase_id in waiting:
            try:
                outcome = reconcile_phase(
                    self.uow_factory, self.map, self.connectors, phase_id, clock=self.clock.now
                )
            except IntegrityError:
                # another process reconciles the same phase at the same moment: its rows won;
                # this one tries again before its next poll (the phase stays unstarted here)
                log.info("phase reconciled by another process meanwhile", phase=phase_id)
                self._unstarted = True
                continue
            notice: AlertNotice | None = None
            with self.uow_factory() as uow:
                # one process at a time starts the phase: the one that comes second finds it
                # started (or its alert raised) and says nothing more
                uow.phases.hold_start(phase_id)
                if uow.phases.get(phase_id) is not None:
                    continue  # another process started it meanwhile
                now = self.clock.now()
                if outcome.blind:
                    # Never live blind, nor parked for good by an outage: the phase stays
                    # unstarted and the next poll reconciles it again.
                    self._unstarted = True
                else:
                    ensure_phases(uow, self.map, now, reconciled={phase_id: outcome.gate})
                if outcome.held:
                    notice = record_golive_held(
                        uow,
                        key=f"{GOLIVE_KEY}{phase_id}",
                        summary=held_summary(self.map, outcome),
                        now=now,
                        channel=self.map.alerts.channel,
                    )
                else:
                    # it waited for a target that could not be read: that alert is over
                    notice = resolve_golive_alert(
                        uow,
                        phase_id,
                        actor=GOLIVE_ACTOR,
                        outcome=f"Its targets were read and reconciled: phase {phase_id} "
                        "started live.",
                        now=now,
                    )
                uow.commit()
            if outcome.held:
                log.warning("phase held in parallel", phase=phase_id, detail=outcome.gate.detail)
            else:
                log.info("phase starts live", phase=phase_id, linked=len(outcome.linked))
            if notice is not None:
                self.alert_sink.notify(notice)
            done.append(outcome)
        return done

    # ---- change detection and planning -------------------------------------------------

    def poll(
        self,
        source: RecordRef,
        *,
        progress: Callable[[int], None] | None = None,
        max_pages: int | None = None,
    ) -> PollReport:
        """Read every record of ``source`` changed since its cursor, page by page, planning
        events and checkpointing the cursor with each page in one transaction."""
        if self._unstarted:
            self.prepare()
        report = PollReport(source=str(source))
        connector = self.connectors.get(source.system)
        if connector is None:
            report.error = f"no connector for system {source.system!r}"
            return report
        with self.uow_factory() as uow:
            uow.cursors.lock(source.system, source.record_type)
            cursor, paused = self._start_cursor(uow, source)
            uow.commit()
        notified = 0
        read_from = cursor
        try:
            for page in self._read_changes(connector, source.record_type, cursor, max_pages):
                outcomes = self._plan_page(source, page, read_from, paused)
                if outcomes is None:
                    report.held_elsewhere = True
                    break
                read_from = page.cursor
                for outcome in outcomes:
                    report.outcomes[outcome.outcome] += 1
                    report.by_flow.setdefault(outcome.flow, Counter())[outcome.outcome] += 1
                    report.notices.extend(outcome.notices)
                    if outcome.outcome == "dead":
                        report.dead += 1
                        log.warning(
                            "record not planned",
                            flow=outcome.flow,
                            record=outcome.external_id,
                            event_id=outcome.event_id,
                            detail=outcome.detail,
                        )
                for notice in report.notices[notified:]:
                    self.alert_sink.notify(notice)
                notified = len(report.notices)
                report.records += len(page.records)
                report.pages += 1
                if progress is not None:
                    progress(len(page.records))
        except ConnectorError as exc:
            report.error = f"{exc.kind}: {exc}"
            self._poll_failed(report, source, exc.kind, str(exc), alert=not exc.retryable)
        except Exception as exc:  # not the connector's, not one record's: the store, a bug
            report.error = f"internal: {type(exc).__name__}: {exc}"
            self._poll_failed(report, source, "internal", report.error, alert=True)
        if report.error is None:
            if self._failing.pop(str(source), None) is not None:
                log.info("poll recovered", source=str(source))
            with self.uow_factory() as uow:
                recovered = resolve_poll_failures(uow, source=str(source), now=self.clock.now())
                uow.commit()
            for notice in recovered:
                self.alert_sink.notify(notice)
            report.notices.extend(recovered)
        self._touch_flows(source, report)
        return report

    def _plan_page(
        self, source: RecordRef, page: Page, read_from: str | None, paused: set[str]
    ) -> list[PlanOutcome] | None:
        """Plan one page and move the cursor past it in one transaction; ``None`` when
        another run moved the cursor meanwhile. The page is planned as a whole first; if that
        fails in any way it is rolled back and planned again record by record, where every
        record ends with an outcome or a dead event of its own, so the cursor moves past
        nothing left unaccounted for."""
        now = self.clock.now()
        try:
            return self._plan_page_in_one(source, page, read_from, paused, now, whole=True)
        except Exception as exc:
            log.info(
                "page planned record by record",
                source=str(source),
                reason=f"{type(exc).__name__}: {str(exc)[:200]}",
            )
        return self._plan_page_in_one(source, page, read_from, paused, now, whole=False)

    def _plan_page_in_one(
        self,
        source: RecordRef,
        page: Page,
        read_from: str | None,
        paused: set[str],
        now: datetime,
        *,
        whole: bool,
    ) -> list[PlanOutcome] | None:
        with self.uow_factory() as uow:
            if not self._claim_page(uow, source.system, source.record_type, read_from):
                return None
            states = phase_states(uow)
            if whole:
                outcomes = self.planner.plan_page(
                    uow, source, page.records, states=states, paused=paused, now=now
                )
            else:
                outcomes = [
                    outcome
                    for record in page.records
                    for outcome in self.planner.plan_record(
                        uow, source, record, states=states, paused=paused, now=now
                    )
                ]
            uow.cursors.put(source.system, source.record_type, page.cursor, now)
            uow.commit()
        return outcomes

    @staticmethod
    def _claim_page(uow: UnitOfWork, system: str, key: str, read_from: str | None) -> bool:
        """Take the cursor for this transaction; ``False`` when another run moved it since
        this page was read (that run planned these records and reads on from there)."""
        uow.cursors.lock(system, key)
        if uow.cursors.get(system, key) != read_from:
            log.info("another run is reading this source", source=f"{system}.{key}")
            return False
        return True

    def _read_changes(
        self,
        connector: Connector,
        record_type: str,
        cursor: str | None,
        max_pages: int | None = None,
    ) -> Iterator[Page]:
        """Pages of changes from ``cursor`` on; the caller checkpoints each page's cursor."""
        pages = 0
        while max_pages is None or pages < max_pages:
            # Reads are in the exchange log only: attempts record the writes of deliveries.
            with classified(f"reading {record_type} changes"):
                page = connector.list_changed(record_type, cursor, limit=self.page_size)
            yield page
            pages += 1
            cursor = page.cursor
            if not page.has_more or self.stopping:
                return  # the cursor is checkpointed: a stopped read resumes from here

    def _start_cursor(self, uow: UnitOfWork, source: RecordRef) -> tuple[str | None, set[str]]:
        """Where to read ``source`` from, and which of its flows are paused.

        A paused flow plans nothing, but the source's cursor moves on for its other flows; so
        the cursor at the first skipped read is kept on the paused flow, and when it resumes
        the source is read again from there (unchanged payloads make no new events for the
        flows that kept running)."""
        now = self.clock.now()
        cursor = uow.cursors.get(source.system, source.record_type)
        states = {row.flow: row for row in uow.flow_states.all()}
        flows = [states[f.name] for f in self.planner.flows_from(source) if f.name in states]
        resumed = [row for row in flows if not row.paused and row.resume_cursor is not None]
        if resumed:
            marks = [json.loads(row.resume_cursor or "{}") for row in resumed]
            cursor = min(marks, key=lambda mark: str(mark.get("at")))["cursor"]
            uow.cursors.put(source.system, source.record_type, cursor, now)
            for row in resumed:
                row.resume_cursor = None
                uow.flow_states.put(row)
        paused = {row.flow for row in flows if row.paused}
        for row in flows:
            if row.paused and row.resume_cursor is None:
                row.resume_cursor = json.dumps({"cursor": cursor, "at": now.isoformat()})
                uow.flow_states.put(row)
        return cursor, paused

    def poll_all(self, *, progress: Callable[[int], None] | None = None) -> list[PollReport]:
        return [self.poll(source, progress=progress) for source in self.map.sources()]

    def poll_flow(self, flow_name: str) -> PollReport:
        """Read the flow's source now (both sides of a two-way flow, in one report)."""
        flow = self.map.flow(flow_name)
        sources = [s for s in (list(flow.between) if flow.between else [flow.source]) if s]
        reports = [self.poll(source) for source in sources]
        merged = PollReport(source=" + ".join(r.source for r in reports))
        for report in reports:
            merged.records += report.records
            merged.pages += report.pages
            merged.outcomes.update(report.outcomes)
            for name, counts in report.by_flow.items():
                merged.by_flow.setdefault(name, Counter()).update(counts)
            merged.notices.extend(report.notices)
            merged.error = merged.error or report.error
            merged.dead += report.dead
        return merged

    def check_drift(self, target: RecordRef) -> DriftReport:
        """Read back the copies of ``target`` changed since the last check and put back (or
        report) what someone edited by hand; see :mod:`sync_core.drift`."""
        report = DriftReport(str(target))
        connector = self.connectors.get(target.system)
        if connector is None:
            return report
        key = target.record_type + DRIFT_CURSOR_SUFFIX
        merging = isinstance(connector, Merge)
        with self.uow_factory() as uow:
            cursor = uow.cursors.get(target.system, key)
        try:
            for page in self._read_changes(connector, target.record_type, cursor):
                now = self.clock.now()
                with self.uow_factory() as uow:
                    if not self._claim_page(uow, target.system, key, cursor):
                        break
                    cursor = page.cursor
                    for record in page.records:
                        check_record(
                            uow, self.map, target, record, report, now=now, merging=merging
                        )
                    uow.cursors.put(target.system, key, page.cursor, now)
                    uow.commit()
                report.records += len(page.records)
        except ConnectorError as exc:
            log.warning("drift check failed", target=str(target), error=str(exc))
        for notice in report.notices:
            self.alert_sink.notify(notice)
        return report

    # ---- delivery ----------------------------------------------------------------------

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        report = self.deliverer.deliver_due(limit)
        for notice in report.notices:
            self.alert_sink.notify(notice)
        return report

    def drain(self, max_rounds: int = 1000, limit: int = 100) -> DeliveryReport:
        """Deliver until nothing is due now."""
        total = DeliveryReport()
        for _ in range(max_rounds):
            report = self.deliver_due(limit)
            total.add(report)
            if report.claimed == 0 or self.stopping:
                break
        return total

    def sync_once(self, *, progress: Callable[[int], None] | None = None) -> SyncReport:
        """Poll every source once, deliver everything due, and count what another worker
        holds (due events this run could not claim)."""
        report = SyncReport()
        report.polls = self.poll_all(progress=progress)
        report.delivery = self.drain()
        report.held = self.held_elsewhere()
        return report

    # ---- by hand -----------------------------------------------------------------------

    def retry_event(self, event_id: int, *, actor: str = "cli") -> bool:
        """Requeue one failed event for delivery now."""
        return requeue_event(
            self.uow_factory,
            event_id,
            now=self.clock.now(),
            actor=actor,
            integration_map=self.map,
        )

    def retry_dead(self, *, actor: str = "cli") -> int:
        return requeue_dead(
            self.uow_factory, now=self.clock.now(), actor=actor, integration_map=self.map
        )

    # ------------------------------------------------------------------------------------

    def _poll_failed(
        self, report: PollReport, source: RecordRef, kind: str, message: str, *, alert: bool
    ) -> None:
        """A source that cannot be read: one log line and one alert per failure streak, not
        one per poll (a poll every few seconds would flood both). A failure that may pass by
        itself alerts once it has lasted as many polls as an event has retries."""
        key = str(source)
        streak_kind, streak = self._failing.get(key, (None, 0))
        streak = streak + 1 if streak_kind == kind else 1
        self._failing[key] = (kind, streak)
        if streak == 1:
            log.warning("poll failed", source=key, error=report.error)
        if not alert and streak <= len(self.retry_policy.schedule):
            return
        with self.uow_factory() as uow:
            notice = record_poll_failure(
                uow,
                source=key,
                kind=kind,
                message=message,
                now=self.clock.now(),
                channel=self.map.alerts.channel,
            )
            uow.commit()
        report.notices.append(notice)
        if notice.change == "raised":
            self.alert_sink.notify(notice)

    def _touch_flows(self, source: RecordRef, report: PollReport) -> None:
        now = self.clock.now()
        outcome = report.error or f"{report.records} record(s) read"
        with self.uow_factory() as uow:
            for flow in self.planner.flows_from(source):
                row = uow.flow_states.get(flow.name)
                if row is None:
                    row = FlowStateRow(flow=flow.name, paused=False, updated_at=now)
                row.last_run_at = now
                row.last_run_outcome = outcome
                row.updated_at = now
                uow.flow_states.put(row)
            uow.commit()
