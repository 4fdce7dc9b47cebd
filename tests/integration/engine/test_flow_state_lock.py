"""Two processes writing one flow's state row take the flow's lock before the row's: never
the row first and then the lock another process holds while it waits for the row."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sync_core.store.models import FlowStateRow
from sync_core.store.uow import SqlUnitOfWorkFactory


def test_a_flow_state_changed_before_its_put_does_not_deadlock_a_writer_holding_the_lock(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    with uow_factory() as uow:
        uow.flow_states.put(FlowStateRow(flow="f", paused=False, updated_at=now))
        uow.commit()
    errors: list[BaseException] = []
    locked = threading.Event()

    def second() -> None:
        locked.wait(10)
        try:
            with uow_factory() as uow:
                row = uow.flow_states.get("f")
                assert row is not None
                row.last_run_outcome = "second"  # changed, then put: as a poll's touch does
                uow.flow_states.put(row)
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    try:
        with uow_factory() as uow:
            row = uow.flow_states.get("f")
            assert row is not None
            uow.flow_states.put(row)  # holds the flow's lock
            locked.set()
            time.sleep(0.5)  # the other writer reaches its put meanwhile
            row.last_run_outcome = "first"
            uow.commit()
    finally:
        thread.join(20)
    assert not errors, errors
    with uow_factory() as uow:
        row = uow.flow_states.get("f")
        assert row is not None and row.last_run_outcome == "second"
