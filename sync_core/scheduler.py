"""APScheduler 3 wiring: one poll job per source on its flows' shortest schedule, and the
delivery loop. With PostgreSQL, only the process holding an advisory lock runs the jobs, so
several processes can share one database."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine as DbEngine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sync_core.conflict_digest import digest_flows, send_conflict_digest
from sync_core.drift import drift_targets
from sync_core.engine import Engine
from sync_core.map.model import RecordRef
from sync_core.parallel import compare_parallel_phases
from sync_core.store.db import session_factory
from sync_core.store.retention import prune

log = structlog.get_logger("handoff.scheduler")

LEADER_LOCK_KEY = 0x48616E64  # "Hand"
DIGEST_HOUR = 8  # UTC: the daily digest of edits lost in two-way conflicts


class LeaderLock:
    """Held by one process at a time on PostgreSQL (a session advisory lock); always ours on
    SQLite. :meth:`acquire` is asked before every job, so a leader whose connection died loses
    the role and another process takes it."""

    def __init__(self, db: DbEngine) -> None:
        self.db = db
        self._connection: Any = None
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.db.dialect.name != "postgresql":
                return True
            try:
                if self._connection is None:
                    self._connection = self.db.connect()
                held = self._connection.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                        " AND pid = pg_backend_pid() AND objid = :key AND granted)"
                    ),
                    {"key": LEADER_LOCK_KEY},
                ).scalar()
                if not held:
                    held = self._connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
                    ).scalar()
                self._connection.commit()
                return bool(held)
            except DBAPIError:
                self._drop()
                return False

    def release(self) -> None:
        with self._lock:
            if self._connection is None:
                return
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY}
                )
                self._connection.commit()
            except DBAPIError:
                pass
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            # The pool must not hand this session (and a lock it may hold) to anyone else.
            self._connection.invalidate()
            self._connection.close()
            self._connection = None


class PrunableLog(Protocol):
    """A log kept outside the store (the HTTP exchange log) that can drop its old lines."""

    def prune(self, before: datetime) -> int: ...


def poll_interval(engine: Engine, source: RecordRef) -> timedelta:
    schedules = [f.schedule for f in engine.planner.flows_from(source)]
    return min(schedules) if schedules else timedelta(minutes=5)


class SyncScheduler:
    def __init__(
        self,
        engine: Engine,
        leader: LeaderLock,
        *,
        delivery_every: timedelta = timedelta(seconds=5),
        compare_every: timedelta = timedelta(minutes=15),
        drift_every: timedelta = timedelta(minutes=15),
        on_report: Callable[[str, Any], None] | None = None,
        exchange_log: PrunableLog | None = None,
    ) -> None:
        self.engine = engine
        self.leader = leader
        self.delivery_every = delivery_every
        self.compare_every = compare_every
        self.drift_every = drift_every
        self.on_report = on_report or (lambda kind, report: None)
        self.exchange_log = exchange_log
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self._is_leader = False
        self._poll_failures: dict[str, str] = {}  # source -> the failure it keeps logging

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self) -> None:
        for source in self.engine.map.sources():
            self._every(
                poll_interval(self.engine, source), f"poll:{source}", self._poll, source, soon=True
            )
        self._every(self.delivery_every, "deliver", self._deliver, soon=True)
        for target in drift_targets(self.engine.map):
            self._every(self.drift_every, f"drift:{target}", self._drift, target)
        if digest_flows(self.engine.map):
            self.scheduler.add_job(
                self._digest,
                "cron",
                hour=DIGEST_HOUR,
                id="conflict-digest",
                max_instances=1,
                coalesce=True,
            )
        self._every(self.compare_every, "compare", self._compare)
        retention = self.engine.map.retention
        if retention.events is not None or retention.http_log is not None:
            self._every(retention.every, "retention", self._retain, soon=True)
        self.scheduler.start()

    def shutdown(self) -> None:
        """Stop gracefully: take no new work, let the jobs running finish (a delivery pass
        ends after its batch in flight and releases the claims it has not started), then
        clear any lease this worker still holds so another worker takes those events now."""
        self.engine.request_stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        try:
            released = self.engine.release_claims()
        except Exception:
            log.exception("releasing claims failed")  # they run out within one lease
        else:
            if released:
                log.info("claims released", events=released)
        self.leader.release()

    def add_leader_job(self, job: Callable[[], Any], every: timedelta, job_id: str) -> None:
        """A job only the leader runs (the alert sender, the escalation watch): with several
        processes on one store, one of them does it."""

        def leading_only() -> None:
            if not self._leading():
                return
            try:
                job()
            except Exception:
                log.exception("job failed", job=job_id)

        self.scheduler.add_job(
            leading_only,
            "interval",
            seconds=every.total_seconds(),
            id=job_id,
            max_instances=1,
            coalesce=True,
        )

    def jobs(self) -> list[dict[str, Any]]:
        return [
            {"id": job.id, "next_run": job.next_run_time.isoformat() if job.next_run_time else None}
            for job in self.scheduler.get_jobs()
        ]

    def _every(
        self,
        interval: timedelta,
        job_id: str,
        job: Callable[..., Any],
        *args: Any,
        soon: bool = False,
    ) -> None:
        """Run ``job(*args)`` every ``interval``, never two at once, a missed run run once;
        ``soon``: the first run right after start, not one interval later."""
        self.scheduler.add_job(
            job,
            "interval",
            args=list(args),
            seconds=interval.total_seconds(),
            id=job_id,
            max_instances=1,
            coalesce=True,
            **({"next_run_time": self._soon()} if soon else {}),
        )

    def _soon(self) -> Any:
        from datetime import UTC, datetime

        return datetime.now(UTC)

    def _leading(self) -> bool:
        self._is_leader = self.leader.acquire()
        return self._is_leader

    def _poll(self, source: RecordRef) -> None:
        if not self._leading():
            return
        try:
            report = self.engine.poll(source)
        except Exception as exc:  # the engine sorts every failure it can; this is the store
            failure = f"{type(exc).__name__}: {exc}"
            if self._poll_failures.get(str(source)) != failure:  # once per streak, no flood
                log.error("poll job failed", source=str(source), error=failure)
            self._poll_failures[str(source)] = failure
            return
        self._poll_failures.pop(str(source), None)
        self.on_report("poll", report)

    def _drift(self, target: RecordRef) -> None:
        if not self._leading():
            return
        try:
            report = self.engine.check_drift(target)
        except Exception:
            log.exception("drift job failed", target=str(target))
            return
        self.on_report("drift", report)

    def _compare(self) -> None:
        """Compare the phases in their parallel period with the hand-made records."""
        if not self._leading():
            return
        try:
            reports = compare_parallel_phases(
                self.engine.uow_factory,
                self.engine.map,
                self.engine.connectors,
                now=self.engine.clock.now(),
            )
        except Exception:
            log.exception("comparison job failed")
            return
        for report in reports:
            self.on_report("comparison", report)

    def _digest(self) -> None:
        """The daily digest of edits lost in two-way conflicts."""
        if not self._leading():
            return
        try:
            send_conflict_digest(
                self.engine.uow_factory, self.engine.map, self.engine.clock, self.engine.alert_sink
            )
        except Exception:
            log.exception("conflict digest job failed")

    def _retain(self) -> None:
        """The map's retention policy: finished events and old HTTP exchanges are pruned by
        age, the same way ``handoff db prune`` does it; what is unsettled is always kept."""
        if not self._leading():
            return
        retention = self.engine.map.retention
        now = self.engine.clock.now()
        try:
            if retention.events is not None:
                with session_factory(self.leader.db)() as session:
                    report = prune(session, now - retention.events)
                    session.commit()
                if report.events or report.alerts:
                    log.info("retention pruned the audit log", **vars(report))
                self.on_report("retention", report)
            if retention.http_log is not None and self.exchange_log is not None:
                lines = self.exchange_log.prune(now - retention.http_log)
                if lines:
                    log.info("retention pruned the HTTP exchange log", exchanges=lines)
        except Exception:
            log.exception("retention job failed")

    def _deliver(self) -> None:
        # Every process delivers: claiming with a lease is safe across processes.
        try:
            report = self.engine.drain(max_rounds=20)
        except Exception:
            log.exception("delivery job failed")
            return
        self.on_report("delivery", report)
