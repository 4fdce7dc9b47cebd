"""Two processes making the first start of one phase declared live at the same moment (two
`handoff serve` started together): the phase's history says once that it was held in parallel,
and the first-start alert is raised once, whatever the store engine."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from connectors.base import Connector, Page, Transient
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.store.models import AlertRow, PhaseChangeRow, PhaseRow
from sync_core.store.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.integration.engine.golive_support import KEY, PHASE, held_for_review, rows


class Meeting:
    """Where the first start's last look at the phase waits for the other process's: the
    first to find the phase missing waits (at most ``patience`` seconds) until the second
    finds it missing too, so both read before either writes, unless the store keeps the
    second out until the first is done."""

    def __init__(self, patience: float = 5.0) -> None:
        self.patience = patience
        self.arrived = 0
        self.first = threading.Event()
        self.changed = threading.Condition()
        self.looks = threading.local()

    def meet(self) -> None:
        # a start looks at the phase twice: creating the phases' rows (the phase declared
        # live is left waiting), then to start it once its targets are reconciled
        self.looks.count = getattr(self.looks, "count", 0) + 1
        if self.looks.count != 2:
            return
        with self.changed:
            self.arrived += 1
            self.first.set()
            self.changed.notify_all()
            self.changed.wait_for(lambda: self.arrived >= 2, timeout=self.patience)


class MeetingPhases:
    """The store's phases, where a unit of work that finds the racing phase missing meets
    the other process."""

    def __init__(self, inner: Any, meeting: Meeting) -> None:
        self.inner = inner
        self.meeting = meeting

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get(self, phase_id: int) -> PhaseRow | None:
        row: PhaseRow | None = self.inner.get(phase_id)
        if row is None and phase_id == PHASE:
            self.meeting.meet()
        return row


class MeetingUnitOfWork(SqlUnitOfWork):
    meeting: Meeting

    def __enter__(self) -> MeetingUnitOfWork:
        super().__enter__()
        self.phases = MeetingPhases(self.phases, self.meeting)  # type: ignore[assignment]
        return self


class MeetingFactory(SqlUnitOfWorkFactory):
    def __init__(self, engine: Any, meeting: Meeting) -> None:
        super().__init__(engine)
        self.meeting = meeting

    def __call__(self) -> SqlUnitOfWork:
        uow = MeetingUnitOfWork(self._sessions)
        uow.meeting = self.meeting
        return uow


class Unreadable:
    """Accounting down for maintenance: its listing fails."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.system = inner.system

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        raise Transient("xero: 503 Service Unavailable")


def _race(
    uow_factory: SqlUnitOfWorkFactory, *, wrap_xero: Callable[[Connector], Any] | None = None
) -> list[CollectingSink]:
    """Two engines (two processes' worth) on one store and one set of vendors, each making
    its first start at the same moment."""
    vendors = held_for_review(wrap_xero)
    meeting = Meeting()
    sinks = [CollectingSink(), CollectingSink()]
    factory = MeetingFactory(uow_factory.engine, meeting)
    engines = [vendors.engine(factory, sink, f"worker-{n}") for n, sink in enumerate(sinks)]
    failures: list[BaseException] = []

    def start(engine: Engine) -> None:
        try:
            engine.prepare()
        except BaseException as exc:  # a thread's failure fails the test below
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    # the second starts once the first has reconciled and is about to start the phase: both
    # reconciliations succeed (the second finds the first's proposals) and both go on
    threads[0].start()
    assert meeting.first.wait(60)
    threads[1].start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    return sinks


def _golive_notices(sinks: list[CollectingSink]) -> list[str]:
    return [n.change for sink in sinks for n in sink.notices if n.group_key == KEY]


@pytest.mark.timeout(120)
def test_two_first_starts_at_once_write_the_held_line_and_raise_the_alert_once(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    sinks = _race(uow_factory)

    (phase,) = [row for row in rows(uow_factory, PhaseRow) if row.id == PHASE]
    assert phase.state == "parallel"
    held = [row for row in rows(uow_factory, PhaseChangeRow) if row.phase_id == PHASE]
    assert len(held) == 1, [row.reason for row in held]
    assert held[0].reason.startswith("declared live in the map; held in parallel")
    alerts = [row for row in rows(uow_factory, AlertRow) if row.group_key == KEY]
    assert len(alerts) == 1
    assert _golive_notices(sinks) == ["raised"]


@pytest.mark.timeout(120)
def test_two_first_starts_at_once_with_a_target_unreadable_raise_one_alert(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    sinks = _race(uow_factory, wrap_xero=Unreadable)

    assert PHASE not in {row.id for row in rows(uow_factory, PhaseRow)}  # waits unstarted
    alerts = [row for row in rows(uow_factory, AlertRow) if row.group_key == KEY]
    assert len(alerts) == 1
    assert "waits to start" in alerts[0].summary
    assert _golive_notices(sinks) == ["raised"]
