"""Pairing two large sides for matching: in the store (``from_store.propose_from_store``)
against in memory (every record read back, then ``clusters.propose``).

    .venv/bin/python -m bench.match_pairing fill [--records 50000] [--url URL]
    /usr/bin/time -v .venv/bin/python -m bench.match_pairing store [--url URL]
    /usr/bin/time -v .venv/bin/python -m bench.match_pairing memory [--url URL]

``fill`` empties the store and keeps N deals and about 85 % of their customers typed by
hand (as ``bench.match_store`` generates them), a page of 100 at a time with their block
keys; the other two each propose once from what was kept, in a process of their own so
``/usr/bin/time -v`` gives each one's peak memory. The URL's database must be migrated
(``fill`` upgrades it); the default is a SQLite file in the system's temporary folder.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sync_core.map.model import RecordRef
from sync_core.matching.clusters import Thresholds, propose
from sync_core.matching.from_store import keep_records, propose_from_store
from sync_core.matching.keys import MatchRecord, match_record
from sync_core.matching.reading import from_row
from sync_core.store.db import make_engine, upgrade
from sync_core.store.models import Base
from sync_core.store.uow import SqlUnitOfWorkFactory

DEAL = RecordRef(system="crm", record_type="deal")
CONTACT = RecordRef(system="books", record_type="contact")
THRESHOLDS = Thresholds(auto_accept=0.9, review=0.6)
SINCE = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 100


def deal(index: int) -> MatchRecord:
    values = {"name": f"Customer {index} Ltd", "email": f"buyer@customer{index}.example"}
    return match_record("crm", "deal", str(100 + index), values["name"], values)


def contact(index: int) -> MatchRecord | None:
    if index % 20 >= 17:
        return None
    values = {"name": f"Customer {index} Limited", "email": f"ap@customer{index}.example"}
    return match_record("books", "contact", f"c{index}", values["name"], values)


def fill(url: str, count: int) -> None:
    upgrade(url)
    db = make_engine(url)
    with db.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    factory = SqlUnitOfWorkFactory(db)
    began = time.perf_counter()
    for start in range(0, count, PAGE):
        indexes = range(start, min(start + PAGE, count))
        contacts = [c for c in map(contact, indexes) if c is not None]
        with factory() as uow:
            keep_records(uow, "client", [deal(i) for i in indexes], SINCE)
            keep_records(uow, "client", contacts, SINCE)
            uow.commit()
    print(f"fill: {count} deals and their contacts kept in {time.perf_counter() - began:.1f} s")


def run(url: str, way: str) -> None:
    factory = SqlUnitOfWorkFactory(make_engine(url))
    began = time.perf_counter()
    with factory() as uow:
        if way == "store":
            # a chunk at a time, as matching stores them: none held after its chunk
            found = sum(
                len(chunk)
                for chunk in propose_from_store(
                    uow, "client", (DEAL, SINCE), (CONTACT, SINCE), THRESHOLDS, None
                )
            )
        else:
            sides = [
                sorted(
                    (from_row(r) for r in uow.matches.records_read("client", *ref, SINCE)),
                    key=lambda record: record.external_id,
                )
                for ref in ((DEAL.system, DEAL.record_type), (CONTACT.system, CONTACT.record_type))
            ]
            found = len(propose(sides[0], sides[1], THRESHOLDS, None))
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{way}: {found} proposals in {seconds:.1f} s, peak RSS {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("way", choices=("fill", "store", "memory"))
    parser.add_argument("--records", type=int, default=50_000)
    default = f"sqlite:///{Path(tempfile.gettempdir()) / 'handoff-match-pairing.db'}"
    parser.add_argument("--url", default=default)
    args = parser.parse_args()
    if args.way == "fill":
        fill(args.url, args.records)
    else:
        run(args.url, args.way)


if __name__ == "__main__":
    main()
