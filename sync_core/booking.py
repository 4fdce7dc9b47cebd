"""Booking what delivery did: an attempt per event, its status, its link, the alert of a dead one.

The outcomes of one call to the vendor (one event, or a batch of them) are booked together
before the next call starts, in one transaction, with the rows they need read in a few
IN-queries up front. If that transaction fails (a link another process wrote meanwhile, a
store error), they are booked again one by one, each in its own transaction, so a vendor's
success is never lost to another event's booking. Outcomes never wait for a later call: a
hang or a crash during it would leave them unbooked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from connectors.base import ConnectorError, Permanent, Record, UpsertResult
from connectors.clock import Clock
from connectors.redaction import redact_text
from sync_core.alerts import AlertNotice, record_dead_event
from sync_core.expressions import ExpressionError, render_value
from sync_core.identity import record_context
from sync_core.leases import LeaseKeeper
from sync_core.map.model import IntegrationMap
from sync_core.naming import with_name
from sync_core.operations import link_back_flow
from sync_core.planner import payload_hash
from sync_core.ports import UnitOfWork, UnitOfWorkFactory
from sync_core.retry import RetryPolicy
from sync_core.store.models import AttemptRow, EntityRow, EventRow, EventStatus, LinkRow

log = structlog.get_logger("handoff.booking")


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


@dataclass
class Known:
    """Rows a batch's booking read up front: links by (system, record type, external id), and
    customers by canonical ID (held here, so the session does not forget them)."""

    links: dict[tuple[str, str, str], LinkRow | None] = field(default_factory=dict)
    entities: dict[str, EntityRow] = field(default_factory=dict)


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


# What came of one claimed event: the connector's answer and the audit of its call.
Outcome = tuple[Claimed, UpsertResult | ConnectorError, AttemptAudit]


class Booker:
    """Books outcomes for one worker (see the module's docstring)."""

    def __init__(
        self,
        integration_map: IntegrationMap,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        worker_id: str,
        retry_policy: RetryPolicy,
    ) -> None:
        self.map = integration_map
        self.uow_factory = uow_factory
        self.clock = clock
        self.worker_id = worker_id
        self.retry_policy = retry_policy

    def book(self, outcomes: list[Outcome], keeper: LeaseKeeper) -> DeliveryReport:
        """Book a batch's outcomes in one transaction. If that transaction fails (a link
        another process wrote meanwhile, a store error), book them again one by one, each in
        its own: what the vendor did is never lost to another event's booking."""
        now = self.clock.now()
        with keeper.booking_many([claimed.id for claimed, _, _ in outcomes]) as held:
            try:
                with self.uow_factory() as uow:
                    rows = {row.id: row for row in uow.events.get_many(list(held))}
                    known = self._known_rows(uow, outcomes)
                    report = DeliveryReport()
                    for claimed, result, audit in outcomes:
                        until = held.get(claimed.id)
                        row = rows.get(claimed.id)
                        report.add(self._book(uow, row, claimed, result, audit, until, now, known))
                    uow.commit()
                return report
            except Exception as exc:
                log.warning(
                    "booking the batch failed; booking its events one by one",
                    error=f"{type(exc).__name__}: {str(exc)[:200]}",
                )
            report = DeliveryReport()
            failure: Exception | None = None
            for claimed, result, audit in outcomes:
                try:
                    with self.uow_factory() as uow:
                        row = uow.events.get(claimed.id)
                        until = held.get(claimed.id)
                        report.add(self._book(uow, row, claimed, result, audit, until, now))
                        uow.commit()
                except Exception as exc:  # the others are still booked
                    failure = failure or exc
            if failure is not None:
                raise failure
            return report

    @staticmethod
    def _known_rows(uow: UnitOfWork, outcomes: list[Outcome]) -> Known:
        """The links of the records a batch wrote and the customers they belong to, read
        together; the batch books new links into them as it goes."""
        written: dict[tuple[str, str], set[str]] = defaultdict(set)
        for claimed, result, _ in outcomes:
            if isinstance(result, UpsertResult) and result.record is not None:
                target = (claimed.target_system, claimed.target_record_type)
                written[target].add(result.record.external_id)
        known = Known()
        for (system, record_type), external_ids in written.items():
            known.links.update({(system, record_type, e): None for e in external_ids})
            for link in uow.links.by_records(system, record_type, external_ids):
                known.links[(system, record_type, link.external_id)] = link
        wanted = {claimed.target_canonical_id for claimed, _, _ in outcomes}
        known.entities = {row.canonical_id: row for row in uow.entities.get_many(wanted)}
        return known

    def _book(
        self,
        uow: UnitOfWork,
        event: EventRow | None,
        claimed: Claimed,
        result: UpsertResult | ConnectorError,
        audit: AttemptAudit,
        lease_until: datetime | None,
        now: datetime,
        known: Known | None = None,
    ) -> DeliveryReport:
        """Book one outcome in ``uow`` (the caller commits); with ``known`` (the batch's rows
        read up front) new links are inserted unchecked."""
        report = DeliveryReport()
        error: ConnectorError | None
        if isinstance(result, ConnectorError):
            error, record, status = result, None, result.http_status
        else:
            error, record, status = result.error, result.record, result.http_status
            if error is None and record is None:
                error = Permanent("connector returned neither a record nor an error")
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
            self._delivered(uow, event, record, now, known)
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
                        settings=self.map.alerts,
                    )
                )
            else:
                event.status = EventStatus.RETRYING.value
                event.next_attempt_at = decision.next_attempt_at
                attempt.outcome = "failed"
                report.retrying += 1
        uow.attempts.add(attempt)
        return report

    def _delivered(
        self,
        uow: UnitOfWork,
        event: EventRow,
        record: Record,
        now: datetime,
        known: Known | None = None,
    ) -> None:
        event.status = EventStatus.DELIVERED.value
        event.delivered_at = now
        event.next_attempt_at = None
        event.target_external_id = record.external_id
        key = (event.target_system, event.target_record_type, record.external_id)
        if known is not None and key in known.links:
            link = known.links[key]
        else:
            link = uow.links.by_record(*key)
        created_link = link is None
        if link is None:
            new = LinkRow(
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
            if known is None:
                uow.links.add(new)  # checked: another process may have linked it first
            else:
                uow.links.add_new(new)  # a conflict fails the batch, booked again one by one
                known.links[key] = new
        else:
            link.url = record.url or link.url
            link.display_name = record.display_name or link.display_name
            link.last_payload_hash = event.payload_hash
            link.updated_at = now
        if known is not None and event.target_canonical_id in known.entities:
            entity: EntityRow | None = known.entities[event.target_canonical_id]
        else:
            entity = uow.entities.get(event.target_canonical_id)
        if entity is not None:
            entity.search_name = with_name(entity.search_name, record.display_name)
        self._plan_link_back(uow, event, record, now, created_link=created_link)

    def _plan_link_back(
        self, uow: UnitOfWork, event: EventRow, record: Record, now: datetime, *, created_link: bool
    ) -> None:
        """A flow with ``link_back`` writes its target's address back into its source: once,
        when it creates the target, or at its first delivery to a target that was linked
        before (a copy typed by hand and adopted by matching or ``handoff link``)."""
        try:
            flow = self.map.flow(event.flow)
        except KeyError:
            return
        if flow.link_back is None:
            return
        if not created_link and uow.events.latest_for(
            link_back_flow(flow.name), event.canonical_id
        ):
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
                flow=link_back_flow(flow.name),
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
