"""Delivery: claim due events, upsert them in their target by canonical ID, book the outcome.

The vendor call happens outside any transaction; the outcome is booked in its own. A crash
between the two leaves the event leased; the lease is short and renewed only while its worker
lives (:mod:`sync_core.leases`), so the event is claimed again within about a minute, and
because the upsert searches the target by canonical ID first, the retry updates the record
the lost attempt created instead of creating a second one. A worker asked to stop finishes
the batch in flight and releases the claims it has not started.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.base import (
    ConfigError,
    Connector,
    ConnectorError,
    Permanent,
    Record,
    Transient,
    UpsertItem,
    UpsertResult,
)
from connectors.clock import Clock
from connectors.exchange_audit import recording_exchanges
from connectors.redaction import redact_text
from sync_core.alerts import AlertNotice, record_dead_event
from sync_core.expressions import ExpressionError, render_value
from sync_core.identity import record_context
from sync_core.leases import DEFAULT_LEASE, LeaseKeeper
from sync_core.map.model import IntegrationMap
from sync_core.naming import with_name
from sync_core.planner import payload_hash
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.retry import RetryPolicy
from sync_core.store.models import AttemptRow, EventRow, EventStatus, LinkRow


@dataclass
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    notices: list[AlertNotice] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.dead += other.dead
        self.notices.extend(other.notices)


@dataclass(frozen=True)
class AttemptAudit:
    """What the audit keeps of one call to the connector, shared by the events it carried."""

    duration_ms: float
    waited_ms: float
    exchange_ids: str | None


@dataclass(frozen=True)
class Claimed:
    """What delivery needs of a claimed event, detached from its session."""

    id: int
    flow: str
    attempts: int
    target_system: str
    target_record_type: str
    target_canonical_id: str
    target_external_id: str | None
    id_field: str | None
    payload: Mapping[str, object]


class Deliverer:
    def __init__(
        self,
        integration_map: IntegrationMap,
        uow_factory: UnitOfWorkFactory,
        connectors: Mapping[str, Connector],
        clock: Clock,
        *,
        worker_id: str,
        retry_policy: RetryPolicy,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.map = integration_map
        self.uow_factory = uow_factory
        self.connectors = connectors
        self.clock = clock
        self.worker_id = worker_id
        self.retry_policy = retry_policy
        self.lease = lease
        self.stopping = threading.Event()

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        """Claim up to ``limit`` due events and deliver them, batching per target; the claim's
        lease is renewed while the batches run, and what is left when :attr:`stopping` is set
        is released unstarted."""
        if self.stopping.is_set():
            return DeliveryReport()
        claimed, lease_until = self._claim(limit)
        report = DeliveryReport(claimed=len(claimed))
        if not claimed:
            return report
        batches: list[tuple[Connector | None, list[Claimed]]] = []
        by_target: dict[tuple[str, str], list[Claimed]] = defaultdict(list)
        for event in claimed:
            by_target[(event.target_system, event.target_record_type)].append(event)
        for (system, _record_type), events in by_target.items():
            connector = self.connectors.get(system)
            size = max(1, int(getattr(connector, "batch_size", 1) or 1))
            batches.extend(
                (connector, events[start : start + size]) for start in range(0, len(events), size)
            )
        keeper = LeaseKeeper(
            self.uow_factory,
            self.clock,
            owner=self.worker_id,
            lease=self.lease,
            ids=[event.id for event in claimed],
            until=lease_until,
        )
        with keeper:
            for connector, batch in batches:
                if self.stopping.is_set():
                    break  # the keeper releases the claims not started
                report.add(self._deliver_batch(connector, batch, keeper))
        return report

    # ------------------------------------------------------------------------------------

    def _claim(self, limit: int) -> tuple[list[Claimed], datetime]:
        now = self.clock.now()
        lease_until = now + self.lease
        with self.uow_factory() as uow:
            rows = uow.events.claim_due(now, lease_until, self.worker_id, limit)
            claimed = [
                Claimed(
                    id=row.id,
                    flow=row.flow,
                    attempts=row.attempts,
                    target_system=row.target_system,
                    target_record_type=row.target_record_type,
                    target_canonical_id=row.target_canonical_id,
                    target_external_id=row.target_external_id,
                    id_field=row.id_field,
                    payload=dict(row.payload),
                )
                for row in rows
            ]
            uow.commit()
        return claimed, lease_until

    def _deliver_batch(
        self, connector: Connector | None, events: Sequence[Claimed], keeper: LeaseKeeper
    ) -> DeliveryReport:
        started = time.perf_counter()
        results: list[UpsertResult | ConnectorError]
        with recording_exchanges() as exchanges:
            if connector is None:
                error = ConfigError(f"no connector for system {events[0].target_system!r}")
                results = [error for _ in events]
            else:
                items = [self._item(event) for event in events]
                try:
                    results = list(connector.upsert_many(items))
                except ConnectorError as exc:
                    results = [exc for _ in events]
                except Exception as exc:
                    results = [
                        Transient(f"connector failed: {type(exc).__name__}: {exc}") for _ in events
                    ]
        elapsed_ms = (time.perf_counter() - started) * 1000 / max(1, len(events))
        audit = AttemptAudit(
            duration_ms=elapsed_ms,
            waited_ms=sum(exchanges.waits) * 1000,
            exchange_ids=",".join(exchanges.exchange_ids) or None,
        )
        report = DeliveryReport()
        for event, result in zip(events, results, strict=True):
            report.add(self._book(event, result, audit, keeper))
        return report

    def _item(self, event: Claimed) -> UpsertItem:
        return UpsertItem(
            record_type=event.target_record_type,
            id_field=event.id_field or "",
            canonical_id=event.target_canonical_id,
            fields=event.payload,
            idempotency_key=f"handoff-event-{event.id}",
            external_id=event.target_external_id,
            on_created=lambda external_id: self._created_early(event, external_id),
        )

    def _created_early(self, event: Claimed, external_id: str) -> None:
        """Keep the new record's id on the event at once: if the rest of the create fails,
        the retry updates this record instead of creating another."""
        with self.uow_factory() as uow:
            row = uow.events.get(event.id)
            if row is not None and row.target_external_id is None:
                row.target_external_id = external_id
                uow.commit()

    def _book(
        self,
        claimed: Claimed,
        result: UpsertResult | ConnectorError,
        audit: AttemptAudit,
        keeper: LeaseKeeper,
    ) -> DeliveryReport:
        now = self.clock.now()
        report = DeliveryReport()
        error: ConnectorError | None
        if isinstance(result, ConnectorError):
            error, record, status = result, None, result.http_status
        else:
            error, record, status = result.error, result.record, result.http_status
            if error is None and record is None:
                error = Permanent("connector returned neither a record nor an error")
        with keeper.booking(claimed.id) as lease_until, self.uow_factory() as uow:
            event = uow.events.get(claimed.id)
            if (
                lease_until is None
                or event is None
                or event.lease_owner != self.worker_id
                or event.lease_until != lease_until
            ):
                return report  # our lease was lost and someone else owns the event now
            event.attempts += 1
            event.updated_at = now
            event.lease_until = None
            event.lease_owner = None
            event.last_http_status = status
            attempt = AttemptRow(
                event_id=event.id,
                number=event.attempts,
                at=now,
                http_status=status,
                duration_ms=round(audit.duration_ms, 2),
                waited_ms=round(audit.waited_ms, 2) or None,
                worker=self.worker_id,
                exchange_id=audit.exchange_ids or getattr(error, "exchange_id", None),
                outcome="delivered",
            )
            if error is None and record is not None:
                self._delivered(uow, event, record, now)
                report.delivered += 1
            else:
                assert error is not None
                attempt.error_kind = error.kind
                # The audit log keeps no secret, whatever the error repeated.
                message = redact_text(str(error))[:2000]
                attempt.error_message = message
                event.last_error_kind = error.kind
                event.last_error_message = message
                decision = self.retry_policy.after_failure(event.attempts, error, now)
                if decision.dead:
                    event.status = EventStatus.DEAD.value
                    event.next_attempt_at = None
                    attempt.outcome = "dead"
                    report.dead += 1
                    report.notices.append(
                        record_dead_event(
                            uow,
                            event,
                            now=now,
                            channel=self.map.alerts.channel,
                            group_window=self.map.alerts.group_window,
                            group_threshold=self.map.alerts.group_threshold,
                        )
                    )
                else:
                    event.status = EventStatus.RETRYING.value
                    event.next_attempt_at = decision.next_attempt_at
                    attempt.outcome = "failed"
                    report.retrying += 1
            uow.attempts.add(attempt)
            uow.commit()
        return report

    def _delivered(self, uow: UnitOfWork, event: EventRow, record: Record, now: datetime) -> None:
        event.status = EventStatus.DELIVERED.value
        event.delivered_at = now
        event.next_attempt_at = None
        event.target_external_id = record.external_id
        link = uow.links.by_record(
            event.target_system, event.target_record_type, record.external_id
        )
        created_link = link is None
        if link is None:
            uow.links.add(
                LinkRow(
                    canonical_id=event.target_canonical_id,
                    system=event.target_system,
                    record_type=event.target_record_type,
                    external_id=record.external_id,
                    url=record.url,
                    display_name=record.display_name,
                    last_payload_hash=event.payload_hash,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            link.url = record.url or link.url
            link.display_name = record.display_name or link.display_name
            link.last_payload_hash = event.payload_hash
            link.updated_at = now
        entity = uow.entities.get(event.target_canonical_id)
        if entity is not None:
            entity.search_name = with_name(entity.search_name, record.display_name)
        if created_link:
            self._plan_link_back(uow, event, record, now)

    def _plan_link_back(
        self, uow: UnitOfWork, event: EventRow, record: Record, now: datetime
    ) -> None:
        """A flow with ``link_back`` writes the new target's address back into its source."""
        try:
            flow = self.map.flow(event.flow)
        except KeyError:
            return
        if flow.link_back is None:
            return
        context = {
            "target": {**record_context(record), "url": record.url, "id": record.external_id}
        }
        try:
            value = render_value(flow.link_back.value, context)
        except ExpressionError as exc:
            event.last_error_message = redact_text(f"link_back not written: {exc}")[:2000]
            return
        payload = {flow.link_back.field: value}
        uow.events.add(
            EventRow(
                flow=f"{flow.name}:link-back",
                phase=flow.phase,
                mode=event.mode,
                canonical_id=event.canonical_id,
                target_canonical_id=event.canonical_id,
                source_system=event.target_system,
                source_record_type=event.target_record_type,
                source_external_id=record.external_id,
                target_system=event.source_system,
                target_record_type=event.source_record_type,
                target_external_id=event.source_external_id,
                id_field=None,
                payload=payload,
                payload_hash=payload_hash(event.source, payload),
                status=EventStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
