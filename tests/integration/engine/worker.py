"""A delivery worker process for the multi-process tests:
``python -m tests.integration.engine.worker --db URL --target FILE --worker NAME``.

It delivers from the shared events table into the shared recording target until nothing is
due. ``--ready`` and ``--go`` line workers up so they really run at the same time;
``--clock-offset`` lets a worker live later than the wall clock (past an expired lease);
``--until-done SECONDS`` keeps it claiming until no event is open (or the time is up), as a
long-running worker does while another one's leases run out.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from connectors.clock import SystemClock
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.store.db import make_engine
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.integration.engine.recording import RecordingConnector

SYSTEM = "target"


def worker_map() -> IntegrationMap:
    return IntegrationMap.model_validate(
        {"name": "workers", "systems": {SYSTEM: {"connector": "recording"}}}
    )


class OffsetClock(SystemClock):
    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return super().now() + self.offset


def wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} never appeared")
        threading.Event().wait(0.01)


def open_events(engine: Engine) -> int:
    with engine.uow_factory() as uow:
        counts = uow.events.count_by_status()
    return counts.get("pending", 0) + counts.get("retrying", 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--lease", type=float, default=600.0)
    parser.add_argument("--clock-offset", type=float, default=0.0)
    parser.add_argument("--hang-after", type=int)
    parser.add_argument("--hanging", type=Path)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--until-done", type=float)
    args = parser.parse_args()

    db = make_engine(args.db)
    connector = RecordingConnector(
        SYSTEM, args.target, hang_after=args.hang_after, hanging=args.hanging
    )
    engine = Engine(
        worker_map(),
        SqlUnitOfWorkFactory(db),
        {SYSTEM: connector},
        OffsetClock(timedelta(seconds=args.clock_offset)),
        CollectingSink(),
        worker_id=args.worker,
        lease=timedelta(seconds=args.lease),
    )
    if args.ready is not None:
        args.ready.write_text(args.worker)
    if args.go is not None:
        wait_for(args.go)
    report = engine.drain(max_rounds=100_000, limit=args.batch)
    if args.until_done is not None:
        deadline = time.monotonic() + args.until_done
        while open_events(engine) and time.monotonic() < deadline:
            threading.Event().wait(0.1)
            report.add(engine.drain(max_rounds=100_000, limit=args.batch))
    print(f"{args.worker} claimed={report.claimed} delivered={report.delivered}")
    db.dispose()


if __name__ == "__main__":
    main()
