"""Delivery: claim due events, upsert them in their target by canonical ID, book the outcome.

The vendor call happens outside any transaction; its outcomes are booked together right after
it, in one transaction (see :mod:`sync_core.booking`). A crash between the two leaves the
event leased; the lease is short and renewed only while its worker lives
(:mod:`sync_core.leases`), so the event is claimed again within about a minute, and because
the upsert searches the target by canonical ID first, the retry updates the record the lost
attempt created instead of creating a second one. A worker asked to stop finishes
the batch in flight and releases the claims it has not started.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from connectors.base import (
    ConfigError,
    Connector,
    ConnectorError,
    IdField,
    Transient,
    UpsertItem,
    UpsertResult,
)
from connectors.capabilities import batch_size
from connectors.clock import Clock
from connectors.exchange_audit import recording_exchanges
from sync_core.booking import (
    AttemptAudit,
    Booker,
    Claimed,
    DeliveryReport,
    Outcome,
)
from sync_core.expressions import LINK_KEY, resolve_links
from sync_core.leases import DEFAULT_LEASE, LeaseKeeper
from sync_core.map.model import IntegrationMap
from sync_core.ports import UnitOfWorkFactory
from sync_core.retry import RetryPolicy

__all__ = ["Deliverer", "DeliveryReport"]

log = structlog.get_logger("handoff.deliverer")


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
        self.booker = Booker(
            integration_map, uow_factory, clock, worker_id=worker_id, retry_policy=retry_policy
        )

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
            size = batch_size(connector)
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
                # Booked before the next call: a hang or a crash there loses none of these.
                report.add(self.booker.book(self._deliver_batch(connector, batch), keeper))
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
        self, connector: Connector | None, events: Sequence[Claimed]
    ) -> list[Outcome]:
        """One call to the connector for ``events``: what came of each, not yet booked."""
        started = time.perf_counter()
        results: list[UpsertResult | ConnectorError]
        with recording_exchanges() as exchanges:
            if connector is None:
                error = ConfigError(f"no connector for system {events[0].target_system!r}")
                results = [error for _ in events]
            else:
                fields, waiting = self._linked_fields(events)
                ready = [event for event in events if event.id not in waiting]
                items = [self._item(event, fields.get(event.id)) for event in ready]
                sent: list[UpsertResult | ConnectorError]
                try:
                    sent = list(connector.upsert_many(items)) if items else []
                except ConnectorError as exc:
                    sent = [exc for _ in ready]
                except Exception as exc:
                    sent = [
                        Transient(f"connector failed: {type(exc).__name__}: {exc}") for _ in ready
                    ]
                by_id = dict(zip((event.id for event in ready), sent, strict=True))
                results = [waiting.get(event.id) or by_id[event.id] for event in events]
        elapsed_ms = (time.perf_counter() - started) * 1000 / max(1, len(events))
        audit = AttemptAudit(
            duration_ms=elapsed_ms,
            waited_ms=sum(exchanges.waits) * 1000,
            exchange_ids=",".join(exchanges.exchange_ids) or None,
        )
        return [(event, result, audit) for event, result in zip(events, results, strict=True)]

    def _linked_fields(
        self, events: Sequence[Claimed]
    ) -> tuple[dict[int, dict[str, Any]], dict[int, ConnectorError]]:
        """Payloads with their ``link()`` values filled in from the identity index, and the
        events that must wait because a record they link to is not there yet (created by
        another flow's event, which has not been delivered)."""
        fields: dict[int, dict[str, Any]] = {}
        waiting: dict[int, ConnectorError] = {}
        pending = [e for e in events if LINK_KEY in json.dumps(e.payload)]
        if not pending:
            return fields, waiting
        with self.uow_factory() as uow:
            for event in pending:

                def find(ref: str, cid: str = event.target_canonical_id) -> str | None:
                    system, _, record_type = ref.partition(".")
                    link = uow.links.find(cid, system, record_type)
                    return link.external_id if link is not None else None

                resolved, missing = resolve_links(event.payload, find)
                if missing:
                    waiting[event.id] = Transient(
                        f"waiting for the {', '.join(missing)} record of "
                        f"{event.target_canonical_id} this event links to"
                    )
                else:
                    fields[event.id] = resolved
        return fields, waiting

    def _item(self, event: Claimed, fields: dict[str, Any] | None = None) -> UpsertItem:
        return UpsertItem(
            record_type=event.target_record_type,
            # the stored text of the map's id_field, parsed back into the value it was
            id_field=IdField.parse(event.id_field) if event.id_field else None,
            canonical_id=event.target_canonical_id,
            fields=event.payload if fields is None else fields,
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
