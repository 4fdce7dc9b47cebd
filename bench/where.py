"""``/where`` benchmark: the handler's time on a large store.

    .venv/bin/python -m bench.where [--entities 100000] [--events 1000000] [--queries 200]
                                    [--only sqlite|postgresql] [--pg URL]
                                    [--sqlite-file PATH] [--reuse] [--explain]

Builds a store of N canonical customers (three linked records each) and M events spread over
them, in bulk (executemany on SQLite, COPY on PostgreSQL), then times the ``/where`` handler
(search, records, latest event per flow; suggestions when nothing matches) over a mix of
queries: canonical IDs, a customer's full name, a common word giving a pick list, and typos.
Prints p50, p95 and max per engine. SQLite runs on a temporary file; PostgreSQL on its own
database (``handoff_bench``, created when missing, reset and migrated). ``--sqlite-file``
keeps the SQLite store; ``--reuse`` queries stores built by an earlier run (same
``--entities``) without building them again; ``--explain`` prints the plans of every
statement of one query of each kind instead of timing them.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as DbEngine
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from bot.handlers.context import HandlerContext
from bot.handlers.where import where_command
from connectors.clock import FrozenClock
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.store.db import make_engine, upgrade
from sync_core.store.models import EntityRow, EventRow, LinkRow
from sync_core.store.uow import SqlUnitOfWorkFactory

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/handoff_bench"
AGENCY = Path(__file__).resolve().parents[1] / "examples" / "agency.yaml"
FLOWS = (
    ("won-deal-to-xero-contact", "xero", "contact"),
    ("won-deal-to-asana-project", "asana", "project"),
    ("won-deal-to-asana-project:link-back", "pipedrive", "deal"),
)
FIRST = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell",
         "Cyberdyne", "Soylent", "Vandelay", "Pied", "Aperture", "Oscorp", "Nakatomi", "Gringotts",
         "Monarch", "Massive", "Dunder"]  # fmt: skip
SECOND = ["Ltd", "Limited", "Group", "Holdings", "Labs", "Partners", "Studio", "Foods",
          "Logistics", "Digital", "Consulting", "Media", "Health", "Energy", "Works"]  # fmt: skip
BATCH = 20_000
START = datetime(2026, 1, 1, tzinfo=UTC)


def name_of(i: int) -> str:
    return f"{FIRST[i % len(FIRST)]} {SECOND[(i // len(FIRST)) % len(SECOND)]} {i:06d}"


def entity_rows(n: int) -> Iterator[dict[str, Any]]:
    for i in range(1, n + 1):
        name = name_of(i)
        yield {
            "canonical_id": f"PD-{i}",
            "entity": "client",
            "display_name": name,
            "search_name": name.lower(),
            "minted_by": "pipedrive.deal",
            "created_at": START,
            "updated_at": START,
        }


def link_rows(n: int) -> Iterator[dict[str, Any]]:
    urls = {
        "pipedrive": "https://agency.pipedrive.com/deal/{}",
        "xero": "https://go.xero.com/Contacts/View/{}",
        "asana": "https://app.asana.com/0/{}/list",
    }
    for i in range(1, n + 1):
        for offset, (system, record_type) in enumerate(
            (("pipedrive", "deal"), ("xero", "contact"), ("asana", "project"))
        ):
            external = str(i * 10 + offset)
            yield {
                "canonical_id": f"PD-{i}",
                "system": system,
                "record_type": record_type,
                "external_id": external,
                "url": urls[system].format(external),
                "display_name": name_of(i),
                "last_payload_hash": None,
                "created_at": START,
                "updated_at": START,
            }


def event_rows(n_entities: int, n_events: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for k in range(n_events):
        i = rng.randint(1, n_entities)
        flow, system, record_type = FLOWS[k % len(FLOWS)]
        at = START + timedelta(seconds=k)
        dead = rng.random() < 0.01
        yield {
            "flow": flow,
            "phase": 1,
            "mode": "live",
            "canonical_id": f"PD-{i}",
            "source_system": "pipedrive",
            "source_record_type": "deal",
            "source_external_id": str(i * 10),
            "target_system": system,
            "target_record_type": record_type,
            "target_external_id": None if dead else str(i * 10 + 1),
            "target_canonical_id": f"PD-{i}",
            "id_field": "ContactNumber",
            "payload": {"Name": name_of(i)},
            "payload_hash": f"{k:064x}",
            "status": "dead" if dead else "delivered",
            "attempts": 4 if dead else 1,
            "next_attempt_at": None,
            "lease_until": None,
            "lease_owner": None,
            "last_error_kind": "permanent" if dead else None,
            "last_error_message": "400 ContactNumber is already assigned" if dead else None,
            "last_http_status": 400 if dead else 200,
            "resolved_by": None,
            "resolution_note": None,
            "created_at": at,
            "updated_at": at,
            "delivered_at": None if dead else at,
        }


def batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def load_sqlite(db: DbEngine, table: Any, rows: Iterator[dict[str, Any]]) -> None:
    with db.begin() as connection:
        for batch in batches(rows):
            connection.execute(insert(table), batch)


def load_postgres(db: DbEngine, table: Any, rows: Iterator[dict[str, Any]]) -> None:
    """COPY in text format: the fastest way in, by an order of magnitude."""
    import json

    columns = [c.name for c in table.columns if c.name != "id"]
    raw = db.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for batch in batches(rows):
                buffer = io.StringIO()
                for row in batch:
                    buffer.write("\t".join(_copy_value(row[c], json) for c in columns) + "\n")
                copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


def _copy_value(value: Any, json: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def reset_postgres(url: str) -> None:
    admin = make_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db = make_engine(url)
    with db.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.dispose()


def build(url: str, entities: int, events: int) -> float:
    started = time.perf_counter()
    postgres = url.startswith("postgresql")
    if postgres:
        reset_postgres(url)
    upgrade(url)
    db = make_engine(url)
    load = load_postgres if postgres else load_sqlite
    load(db, EntityRow.__table__, entity_rows(entities))
    load(db, LinkRow.__table__, link_rows(entities))
    load(db, EventRow.__table__, event_rows(entities, events, random.Random(7)))
    with db.begin() as connection:
        connection.execute(text("ANALYZE"))
    db.dispose()
    return time.perf_counter() - started


def queries(entities: int, count: int, rng: random.Random) -> list[tuple[str, str]]:
    mix: list[tuple[str, str]] = []
    for k in range(count):
        i = rng.randint(1, entities)
        kind = ("id", "name", "pick", "typo", "id", "name", "id", "name", "pick", "id")[k % 10]
        if kind == "id":
            mix.append((kind, f"pd-{i}"))
        elif kind == "name":
            mix.append((kind, name_of(i)))
        elif kind == "pick":
            mix.append((kind, FIRST[i % len(FIRST)].lower()))
        else:
            mix.append((kind, FIRST[i % len(FIRST)][:-1].lower() + "x labz"))
    return mix


def measure(url: str, entities: int, count: int) -> dict[str, list[float]]:
    integration_map = _map()
    db = make_engine(url)
    uow_factory = SqlUnitOfWorkFactory(db)
    clock = FrozenClock()
    engine = Engine(integration_map, uow_factory, {}, clock, CollectingSink())
    ctx = HandlerContext(integration_map, uow_factory, engine, clock)
    timings: dict[str, list[float]] = {}
    mix = queries(entities, count, random.Random(11))
    for _, query in mix[:10]:  # warm the caches and the connection pool
        where_command(ctx, query)
    for kind, query in mix:
        started = time.perf_counter()
        view = where_command(ctx, query)
        elapsed = (time.perf_counter() - started) * 1000
        if kind in ("id", "name"):
            assert len(view.matches) == 1, (query, len(view.matches))
        timings.setdefault(kind, []).append(elapsed)
        timings.setdefault("all", []).append(elapsed)
    db.dispose()
    return timings


def explain(url: str, entities: int) -> None:
    """``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL) or ``EXPLAIN QUERY PLAN`` (SQLite) of every
    statement ``/where`` runs for one query of each kind."""
    from sqlalchemy import event

    integration_map = _map()
    db = make_engine(url)
    uow_factory = SqlUnitOfWorkFactory(db)
    clock = FrozenClock()
    engine = Engine(integration_map, uow_factory, {}, clock, CollectingSink())
    ctx = HandlerContext(integration_map, uow_factory, engine, clock)
    postgres = url.startswith("postgresql")
    seen: dict[str, str] = {}
    for kind, query in queries(entities, 10, random.Random(11)):
        seen.setdefault(kind, query)
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _k: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    for kind, query in seen.items():
        statements.clear()
        event.listen(db, "before_cursor_execute", record)
        try:
            where_command(ctx, query)
        finally:
            event.remove(db, "before_cursor_execute", record)
        print(f"== {kind}: {query!r}, {len(statements)} statements")
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
        with db.connect() as connection:
            for statement, params in statements:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                print("-- " + " ".join(statement.split())[:300])
                for row in connection.exec_driver_sql(prefix + statement, params).all():
                    print("   " + str(row[-1]))
    db.dispose()


def sizes(url: str) -> tuple[int, int]:
    db = make_engine(url)
    with db.connect() as connection:
        entities = connection.execute(text("SELECT count(*) FROM entities")).scalar_one()
        events = connection.execute(text("SELECT count(*) FROM events")).scalar_one()
    db.dispose()
    return int(entities), int(events)


def _map() -> IntegrationMap:
    from sync_core.map.loader import load_map

    return load_map(AGENCY).require_valid()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg", default=DEFAULT_PG)
    parser.add_argument("--sqlite-file", help="build the SQLite store there (kept afterwards)")
    parser.add_argument(
        "--reuse", action="store_true", help="query the stores a previous run built, as they are"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the plans of one query of each kind"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_file = args.sqlite_file or f"{tmp}/where-bench.db"
        targets = {"sqlite": f"sqlite:///{sqlite_file}", "postgresql": args.pg}
        for name, url in targets.items():
            if args.only and name != args.only:
                continue
            built = 0.0 if args.reuse else build(url, args.entities, args.events)
            entities, events = sizes(url)
            if args.explain:
                explain(url, entities)
                continue
            timings = measure(url, entities, args.queries)
            how = "reused" if args.reuse else f"built in {built:.0f} s"
            print(
                f"{name}: {entities:,} customers, {events:,} events "
                f"({how}); /where over {args.queries} queries"
            )
            for kind, values in timings.items():
                print(
                    f"  {kind:5} n={len(values):3}  p50 {statistics.median(values):6.1f} ms  "
                    f"p95 {pct(values, 0.95):6.1f} ms  max {max(values):6.1f} ms"
                )


if __name__ == "__main__":
    main()
