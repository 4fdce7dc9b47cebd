"""Engine benchmark: N events through planning and delivery with a zero-latency connector.

    .venv/bin/python -m bench.engine [N] [--only sqlite|postgresql] [--pg URL] [--calls-of K]

N won deals sit in the in-process sandbox CRM; one flow copies each into the in-process
sandbox accounting system, which takes up to K records a call (default 50, as the Xero client
sends them; 1 for one call per record). The plan phase (poll → one event per deal) and the
deliver phase (claim → upsert by canonical ID → book) are timed apart, as events per second
of wall time and CPU milliseconds per event of this process, and on a PostgreSQL server
running on this machine, of its backends serving the bench (read from /proc): on a shared
machine the CPU figures are steadier than the rates.
SQLite runs on a temporary file; PostgreSQL on the test database, reset and migrated.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as DbEngine
from sqlalchemy import text

from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from connectors.xero.upsert import BATCH_SIZE
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.store.db import make_engine, upgrade
from sync_core.store.uow import SqlUnitOfWorkFactory

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

BENCH_MAP: dict[str, Any] = {
    "name": "Engine benchmark",
    "systems": {
        "crm": {"connector": "sandbox", "options": {"emulates": "pipedrive"}},
        "books": {"connector": "sandbox", "options": {"emulates": "xero"}},
    },
    "entities": {
        "client": {
            "display_name": "{{ org_name }}",
            "canonical_id": {"minted_by": "crm.deal", "format": "PD-{id}"},
            "source_of_truth": ["crm.deal"],
            "copies": {"books.contact": {"id_field": "ContactNumber"}},
        }
    },
    "phases": [{"id": 1, "name": "Won deals to accounting", "state": "live"}],
    "flows": [
        {
            "name": "won-deal-to-contact",
            "phase": 1,
            "from": "crm.deal",
            "when": "status == 'won'",
            "to": "books.contact",
            "fields": {"Name": "{{ org_name }}", "EmailAddress": "{{ person_email }}"},
        }
    ],
}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def server_cpu(db: DbEngine) -> dict[int, float] | None:
    """CPU seconds used so far by each PostgreSQL backend serving this database, read from
    /proc when the server runs on this machine (``None`` on SQLite or a remote server)."""
    if db.dialect.name != "postgresql":
        return None
    with db.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        used: dict[int, float] = {}
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                return None
            fields = stat.rsplit(")", 1)[1].split()
            # utime and stime, the 14th and 15th fields (the 12th and 13th after the name)
            used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


@dataclass
class Phase:
    name: str
    events: int
    wall: float
    cpu: float
    server: float | None = None  # CPU seconds of the PostgreSQL backends

    def line(self) -> str:
        rate = self.events / self.wall if self.wall else float("inf")
        cpu_ms = self.cpu * 1000 / max(1, self.events)
        server = (
            f"  {self.server * 1000 / max(1, self.events):6.3f} server CPU ms/event"
            if self.server is not None
            else ""
        )
        return (
            f"  {self.name:<8} {self.events:>7} events  {self.wall:7.2f} s  "
            f"{rate:9.0f} events/s  {cpu_ms:6.3f} CPU ms/event{server}"
        )


def timed(name: str, run: Callable[[], int], db: DbEngine) -> Phase:
    before = server_cpu(db)
    wall, cpu = time.perf_counter(), time.process_time()
    events = run()
    phase = Phase(name, events, time.perf_counter() - wall, time.process_time() - cpu)
    after = server_cpu(db)
    if before is not None and after is not None:
        phase.server = sum(used - before.get(pid, 0.0) for pid, used in after.items())
    return phase


@contextmanager
def analyzing(db: DbEngine, every: float) -> Iterator[None]:
    """Gather the tables' statistics every ``every`` seconds while the run goes on, as
    PostgreSQL's autovacuum does on a server where it is on (off on some test servers, where
    the planner then sees every table as empty however much it holds)."""
    if every <= 0 or db.dialect.name != "postgresql":
        yield
        return
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            with db.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def bench(
    url: str,
    count: int,
    page_size: int,
    batch: int,
    calls_of: int,
    plan_only: bool = False,
    analyze_every: float = 0.0,
) -> list[Phase]:
    clock = FrozenClock()
    crm = SandboxConnector("crm", "pipedrive", clock)
    taking = type("BatchingSandbox", (SandboxConnector,), {"batch_size": calls_of})
    books = taking("books", "xero", clock)
    for index in range(count):
        deal_id = 100 + index
        crm.add(
            "deal",
            {
                "id": deal_id,
                "title": f"Project {index}",
                "status": "won",
                "org_name": f"Customer {index} Ltd",
                "person_email": f"buyer{index}@example.com",
            },
            external_id=str(deal_id),
        )
    print(f"  peak RSS with the sandboxes filled: {peak_rss_mb():.0f} MB")
    db = make_engine(url)
    try:
        engine = Engine(
            IntegrationMap.model_validate(BENCH_MAP),
            SqlUnitOfWorkFactory(db),
            {"crm": crm, "books": books},
            clock,
            CollectingSink(),
            worker_id="bench",
            page_size=page_size,
        )
        engine.prepare()  # a phase declared live is reconciled first: every deal is read
        print(f"  peak RSS after the first start's reconciliation: {peak_rss_mb():.0f} MB")

        def plan() -> int:
            return sum(p.outcomes["queued"] for p in engine.poll_all())

        def deliver() -> int:
            report = engine.drain(max_rounds=1_000_000, limit=batch)
            assert report.delivered == count and report.dead == 0, report
            return report.delivered

        with analyzing(db, analyze_every):
            phases = [timed("plan", plan, db)]
            if not plan_only:
                phases.append(timed("deliver", deliver, db))
                assert len(books.records("contact")) == count
        return phases
    finally:
        db.dispose()


def sqlite_url(directory: Path) -> str:
    url = f"sqlite:///{directory / 'bench.db'}"
    upgrade(url)
    return url


def postgres_url(url: str) -> str:
    from sqlalchemy import text

    db = make_engine(url)
    with db.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.dispose()
    upgrade(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=int, nargs="?", default=5000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (its schema is reset)")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100, help="events claimed per round")
    parser.add_argument(
        "--calls-of", type=int, default=BATCH_SIZE, help="records per call to the accounting side"
    )
    parser.add_argument("--plan-only", action="store_true", help="time planning alone")
    parser.add_argument(
        "--analyze-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="on PostgreSQL, gather statistics this often during the run (as autovacuum would)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = {
            "sqlite": lambda: sqlite_url(Path(tmp)),
            "postgresql": lambda: postgres_url(args.pg),
        }
        for name, make_url in targets.items():
            if args.only and args.only != name:
                continue
            print(
                f"{name}: {args.events} events, page {args.page_size}, claim {args.batch}, "
                f"{args.calls_of} per call"
            )
            for phase in bench(
                make_url(),
                args.events,
                args.page_size,
                args.batch,
                args.calls_of,
                args.plan_only,
                args.analyze_every,
            ):
                print(phase.line())
            print(f"  peak RSS after the run: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
