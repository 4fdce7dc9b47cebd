"""Leases sized to the work: a worker's claims stay short and are renewed while it works.

A claim leases its events for a short time (a minute by default) and a heartbeat renews the
lease while delivery runs, however long the vendor takes. A worker that dies stops renewing,
so its claims return to the queue within one lease instead of sitting out a long one; a
worker that stops on purpose releases what it has not started at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import structlog

from connectors.clock import Clock
from sync_core.ports import UnitOfWorkFactory

log = structlog.get_logger("handoff.leases")

DEFAULT_LEASE = timedelta(seconds=60)


class LeaseKeeper:
    """Holds one claim (events leased to ``owner`` until one shared ``until``).

    :meth:`start` renews the lease every third of its length on a background thread;
    :meth:`booking_many` hands the current ``until`` to whoever books an outcome, under the lock
    the renewal takes, so a booking never checks a lease the heartbeat is moving;
    :meth:`close` stops the heartbeat and releases the events nobody booked.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        owner: str,
        lease: timedelta,
        ids: Iterable[int],
        until: datetime,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.owner = owner
        self.lease = lease
        self.until = until
        self._held = set(ids)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaseKeeper:
        every = max(0.05, self.lease.total_seconds() / 3)
        self._thread = threading.Thread(
            target=self._beat, args=(every,), name=f"lease:{self.owner}", daemon=True
        )
        self._thread.start()
        return self

    def renew(self) -> int:
        """Move the lease of every event still held one lease past now; how many were held."""
        with self._lock:
            if not self._held:
                return 0
            until = self.clock.now() + self.lease
            if until <= self.until:
                return len(self._held)
            with self.uow_factory() as uow:
                kept = uow.events.renew_leases(sorted(self._held), self.owner, self.until, until)
                uow.commit()
            self.until = until
            return kept

    @contextmanager
    def booking_many(self, event_ids: Iterable[int]) -> Iterator[dict[int, datetime]]:
        """The lease each of ``event_ids`` is held under now, by id (an id missing was
        released), for whoever books their outcomes; none of them is renewed afterwards."""
        wanted = set(event_ids)
        with self._lock:
            try:
                yield {event_id: self.until for event_id in wanted & self._held}
            finally:
                self._held -= wanted

    def release(self, ids: Iterable[int] | None = None) -> int:
        """Give back ``ids`` (default: everything still held) so any worker may claim them."""
        with self._lock:
            wanted = self._held if ids is None else self._held & set(ids)
            if not wanted:
                return 0
            with self.uow_factory() as uow:
                released = uow.events.release_leases(self.owner, sorted(wanted), self.until)
                uow.commit()
            self._held -= wanted
            return released

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.release()
        except Exception:
            # The leases then run out on their own, one lease from the last renewal.
            log.exception("releasing leases failed", owner=self.owner)

    def __enter__(self) -> LeaseKeeper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _beat(self, every: float) -> None:
        while not self._closed.wait(every):
            try:
                self.renew()
            except Exception:
                log.exception("renewing leases failed", owner=self.owner)
