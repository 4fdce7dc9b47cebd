"""The SQLAlchemy unit of work: one session, one transaction, repositories over it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sync_core.store.db import session_factory
from sync_core.store.repositories import (
    SqlActions,
    SqlAlertOutbox,
    SqlAlerts,
    SqlAttempts,
    SqlCursors,
    SqlEntities,
    SqlEvents,
    SqlFlowStates,
    SqlLinks,
    SqlMatches,
    SqlPhases,
    SqlShadowWrites,
)


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self.session: Session | None = None

    def __enter__(self) -> Self:
        session = self._sessions()
        self.session = session
        self.entities = SqlEntities(session)
        self.links = SqlLinks(session)
        self.cursors = SqlCursors(session)
        self.events = SqlEvents(session)
        self.attempts = SqlAttempts(session)
        self.phases = SqlPhases(session)
        self.alerts = SqlAlerts(session)
        self.alert_outbox = SqlAlertOutbox(session)
        self.shadow_writes = SqlShadowWrites(session)
        self.flow_states = SqlFlowStates(session)
        self.actions = SqlActions(session)
        self.matches = SqlMatches(session)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.session is not None
        try:
            self.session.rollback()
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None, "commit outside a unit of work"
        self.session.commit()

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()

    def flush(self) -> None:
        assert self.session is not None
        self.session.flush()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        assert self.session is not None
        with self.session.begin_nested():
            yield


class SqlUnitOfWorkFactory:
    """Makes a fresh :class:`SqlUnitOfWork` per call over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)
