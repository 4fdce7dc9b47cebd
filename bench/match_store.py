"""Matching's store work at first start: the records read for matching kept in
``match_records``, page by page, and proposed from there.

    .venv/bin/python -m bench.match_store [--records 50000] [--pg URL] [--way WAY]

N won deals in the CRM (the minting system) and about 85 % of their customers typed into
accounting by hand. Runs both ways matching reads: ``handoff match ENTITY`` (a resumable
read, each page's records kept with its checkpoint) and first start's reconciliation (read
with no transaction open, each page kept in its own short one); both then propose from the
store. Prints, for each, the wall time, the time spent in statements on ``match_records``
and their number, the resident memory once the sandboxes are filled and the process's peak
so far (``--way`` runs one way alone, so the peak is that way's). The store is emptied first
(a SQLite file in a temporary folder by default; on PostgreSQL the URL's database, which
must be migrated).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as DbEngine
from sqlalchemy import event

from bench.engine import BENCH_MAP
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.map.model import IntegrationMap
from sync_core.matching.resumable import match_entity
from sync_core.matching.service import read_records, run_match
from sync_core.store.db import make_engine, upgrade
from sync_core.store.models import Base
from sync_core.store.uow import SqlUnitOfWorkFactory


@dataclass
class Spent:
    statements: int = 0
    seconds: float = 0.0


@contextmanager
def on_match_records(db: DbEngine) -> Iterator[Spent]:
    """The statements on ``match_records`` and the time they took (an executemany once)."""
    spent = Spent()
    started: dict[int, float] = {}

    def before(_c: Any, cursor: Any, statement: str, *_a: Any) -> None:
        if "match_records" in statement:
            started[id(cursor)] = time.perf_counter()

    def after(_c: Any, cursor: Any, statement: str, *_a: Any) -> None:
        begun = started.pop(id(cursor), None)
        if begun is not None:
            spent.statements += 1
            spent.seconds += time.perf_counter() - begun

    event.listen(db, "before_cursor_execute", before)
    event.listen(db, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(db, "before_cursor_execute", before)
        event.remove(db, "after_cursor_execute", after)


def vendors(count: int, clock: FrozenClock) -> dict[str, SandboxConnector]:
    crm = SandboxConnector("crm", "pipedrive", clock)
    books = SandboxConnector("books", "xero", clock)
    for index in range(count):
        domain = f"customer{index}.example"
        crm.add(
            "deal",
            {
                "id": 100 + index,
                "status": "won",
                "org_name": f"Customer {index} Ltd",
                "person_email": f"buyer@{domain}",
            },
            external_id=str(100 + index),
        )
        if index % 20 < 17:
            books.add(
                "contact", {"Name": f"Customer {index} Limited", "EmailAddress": f"ap@{domain}"}
            )
    return {"crm": crm, "books": books}


def empty(db: DbEngine) -> None:
    with db.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


WAYS = ("handoff match", "first start")


def rss_mb() -> float:
    """The process's resident memory now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    """The process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(url: str, count: int, ways: tuple[str, ...] = WAYS) -> None:
    integration_map = IntegrationMap.model_validate(BENCH_MAP)
    upgrade(url)
    db = make_engine(url)
    uow_factory = SqlUnitOfWorkFactory(db)
    clock = FrozenClock()
    try:
        for way in ways:
            empty(db)
            connectors: dict[str, Any] = vendors(count, clock)
            filled = rss_mb()
            began = time.perf_counter()
            with on_match_records(db) as spent:
                if way == "handoff match":
                    report = match_entity(
                        uow_factory, integration_map, connectors, "client", clock=clock.now
                    )
                else:
                    read = read_records(
                        uow_factory, integration_map, connectors, "client", now=clock.now()
                    )
                    with uow_factory() as uow:
                        report = run_match(
                            uow,
                            integration_map,
                            connectors,
                            "client",
                            now=clock.now(),
                            read_before=read,
                        )
                        uow.commit()
            wall = time.perf_counter() - began
            print(
                f"{db.dialect.name:10} {way:13} records {sum(report.read.values()):>7,}  "
                f"proposals {report.found:>7,}  wall {wall:6.1f} s  "
                f"match_records {spent.seconds:6.1f} s in {spent.statements:,} statements  "
                f"rss filled {filled:5.0f} MB, peak {peak_mb():5.0f} MB"
            )
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="won deals in the CRM")
    parser.add_argument("--pg", help="a migrated PostgreSQL database (emptied first)")
    parser.add_argument(
        "--way", choices=WAYS, help="only this way (its peak then is its own, not the other's)"
    )
    args = parser.parse_args()
    ways = (args.way,) if args.way else WAYS
    if args.pg:
        run(args.pg, args.records, ways)
        return
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{Path(folder) / 'match.db'}", args.records, ways)


if __name__ == "__main__":
    main()
