"""Audit growth: the bytes the store keeps per delivered event, and a year's projection.

    .venv/bin/python -m bench.audit_size [N] [--only sqlite|postgresql] [--pg URL]
                                         [--per-day 10000]

Runs ``bench.engine``'s flow (N won deals planned and delivered into the in-process sandbox
accounting system), then measures the ``events`` and ``attempts`` tables with their indexes:
SQLite through its ``dbstat`` table (pages in use), PostgreSQL through
``pg_total_relation_size`` (heap, TOAST and indexes, after VACUUM). Prints bytes per delivered
event and what a year, and the default 90-day retention, hold at ``--per-day`` events a day.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sqlalchemy import text

from bench.engine import DEFAULT_PG, bench, postgres_url, sqlite_url
from sync_core.store.db import make_engine

TABLES = ("events", "attempts")


def sqlite_bytes(url: str) -> dict[str, int]:
    db = make_engine(url)
    try:
        with db.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT s.name, m.tbl_name, SUM(s.pgsize - s.unused) FROM dbstat s "
                    "JOIN sqlite_schema m ON m.name = s.name GROUP BY s.name"
                )
            )
            sizes = dict.fromkeys(TABLES, 0)
            for _, table, used in rows:
                if table in sizes:
                    sizes[table] += int(used)
            return sizes
    finally:
        db.dispose()


def postgres_bytes(url: str) -> dict[str, int]:
    db = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with db.connect() as connection:
            sizes = {}
            for table in TABLES:
                connection.execute(text(f"VACUUM ANALYZE {table}"))
                sizes[table] = int(
                    connection.execute(
                        text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table}
                    ).scalar_one()
                )
            return sizes
    finally:
        db.dispose()


def report(name: str, sizes: dict[str, int], events: int, per_day: int) -> None:
    per_event = sum(sizes.values()) / events
    detail = ", ".join(f"{t} {sizes[t] / events:.0f}" for t in TABLES)
    year = per_event * per_day * 365 / 1e9
    kept = per_event * per_day * 90 / 1e9
    print(f"{name}: {per_event:.0f} bytes per delivered event ({detail})")
    print(f"  at {per_day:,} events a day: {year:.2f} GB a year; {kept:.2f} GB kept at 90 days")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=int, nargs="?", default=5000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (its schema is reset)")
    parser.add_argument("--per-day", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sqlite"):
            url = sqlite_url(Path(tmp))
            bench(url, args.events, 100, 100)
            report("sqlite", sqlite_bytes(url), args.events, args.per_day)
        if args.only in (None, "postgresql"):
            url = postgres_url(args.pg)
            bench(url, args.events, 100, 100)
            report("postgresql", postgres_bytes(url), args.events, args.per_day)


if __name__ == "__main__":
    main()
