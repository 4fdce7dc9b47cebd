"""The records read for matching are kept and read back a page at a time on the real store:
a page is written in a bounded number of statements whatever its size, a read resumed or run
again replaces what was kept, and the records a review needs are read in one select."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event

from bench.engine import BENCH_MAP
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.matching.hand_typed import best_suspect
from sync_core.matching.keys import match_record
from sync_core.matching.resumable import read_resumable
from sync_core.matching.service import read_records, records_urls, run_match
from sync_core.naming import search_key, with_name
from sync_core.store.models import EntityRow, LinkRow, MatchProposalRow, MatchRecordRow
from sync_core.store.uow import SqlUnitOfWorkFactory

DEAL = RecordRef(system="crm", record_type="deal")
CONTACT = RecordRef(system="books", record_type="contact")


@contextmanager
def counted(db: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db, "before_cursor_execute", count)


def _vendors(clock: FrozenClock, deals: int, contacts: int, twins: int = 0) -> dict[str, Any]:
    crm = SandboxConnector("crm", "pipedrive", clock)
    books = SandboxConnector("books", "xero", clock)
    for index in range(deals):
        crm.add(
            "deal",
            {
                "id": 100 + index,
                "status": "won",
                "org_name": f"Customer {index} Ltd",
                "person_email": f"buyer@customer{index}.example",
            },
            external_id=str(100 + index),
        )
    for index in range(contacts):  # nothing in common with the deals: no proposal
        books.add("contact", {"Name": f"Zq{index}x"})
    for index in range(twins):  # the deals' customers typed again
        email = f"ap@customer{index}.example" if index % 2 else None  # half auto-accepted
        books.add("contact", {"Name": f"Customer {index} Limited", "EmailAddress": email})
    return {"crm": crm, "books": books}


def _matched_on_name_and_email() -> IntegrationMap:
    """The bench map, its clients matched on the name and the email."""
    data = copy.deepcopy(BENCH_MAP)
    data["entities"]["client"]["match"] = {
        "keys": {
            "name": {"crm.deal": "{{ org_name }}", "books.contact": "{{ Name }}"},
            "email": {"crm.deal": "{{ person_email }}", "books.contact": "{{ EmailAddress }}"},
        }
    }
    return IntegrationMap.model_validate(data)


def _on_records(statements: list[str]) -> list[str]:
    return [s for s in statements if "match_records" in s]


def test_a_page_of_records_is_kept_in_one_statement_whatever_its_size(
    db: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    integration_map = IntegrationMap.model_validate(BENCH_MAP)
    clock = FrozenClock()
    # one contact free to match: the deals are read (with none, they would not be)
    vendors = _vendors(clock, deals=300, contacts=1)
    with counted(db) as statements:
        read = read_resumable(
            uow_factory, integration_map, vendors, "client", clock=clock.now, page_size=100
        )
    assert read[DEAL].kept == 300 and read[DEAL].pages == 3
    writes = [s for s in _on_records(statements) if s.lstrip().upper().startswith("INSERT")]
    reads = [s for s in _on_records(statements) if s.lstrip().upper().startswith("SELECT")]
    assert len(writes) == 4  # one upsert a page (one a record before): 3 of deals, 1 contact
    # no record is read back into memory: each record type's last read and its count, and
    # whether a contact is free to match
    assert len(reads) == 5 and all("count(" in s or "max(" in s for s in reads), reads
    # a page's whole transaction (its records, its checkpoint, the commit) stays small
    assert len(statements) <= 4 * 10 + 10, statements

    with uow_factory() as uow:
        kept = {
            r.external_id: r.display_name
            for r in uow.matches.records_read("client", "crm", "deal", clock.now())
        }
    assert len(kept) == 300 and kept["100"] == "Customer 0 Ltd"


def test_reconciling_before_go_live_keeps_and_looks_up_records_in_chunks(
    db: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    integration_map = IntegrationMap.model_validate(BENCH_MAP)
    clock = FrozenClock()
    vendors = _vendors(clock, deals=600, contacts=600)
    with counted(db) as reading:
        read = read_records(uow_factory, integration_map, vendors, "client", now=clock.now())
    # 1,200 records kept a page at a time, each page in one statement, in its own transaction
    kept = [s for s in _on_records(reading) if s.lstrip().upper().startswith("INSERT")]
    assert len(kept) == 12
    with counted(db) as statements, uow_factory() as uow:
        report = run_match(
            uow, integration_map, vendors, "client", now=clock.now(), read_before=read
        )
        uow.commit()
    assert report.read == {"crm.deal": 600, "books.contact": 600} and report.proposals == []
    # nothing kept again (the pairing's own working table aside), and nothing looked up a
    # record at a time
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert all("match_useful_keys" in s for s in inserts), inserts
    assert len(statements) <= 20, statements


def test_proposals_are_stored_in_a_number_of_statements_that_does_not_grow_with_them(
    db: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    integration_map = _matched_on_name_and_email()
    clock = FrozenClock()
    vendors = _vendors(clock, deals=300, contacts=0, twins=300)
    read = read_records(uow_factory, integration_map, vendors, "client", now=clock.now())
    with counted(db) as statements, uow_factory() as uow:
        report = run_match(
            uow, integration_map, vendors, "client", now=clock.now(), read_before=read
        )
        uow.commit()
    assert Counter(r.status for r in report.proposals) == {"accepted": 150, "open": 150}
    # the customers' copies in accounting looked up together, not one select a proposal
    assert len([s for s in statements if "FROM links" in s]) <= 4
    # the proposals, their decisions and the audit lines inserted in a few batches, after
    # one flush (not one flush an auto-accepted proposal)
    assert len(statements) <= 40, len(statements)

    # run again: the same proposals, decisions kept, in as few statements
    read = read_records(uow_factory, integration_map, vendors, "client", now=clock.now())
    with counted(db) as again, uow_factory() as uow:
        rerun = run_match(
            uow, integration_map, vendors, "client", now=clock.now(), read_before=read
        )
        uow.commit()
    assert {r.id: r.status for r in rerun.proposals} == {r.id: r.status for r in report.proposals}
    assert len(again) <= 40, len(again)


def test_keeping_records_again_replaces_them_and_the_last_of_a_key_wins(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    clock = FrozenClock()
    first = clock.now()

    def row(external_id: str, name: str, at: Any) -> MatchRecordRow:
        return MatchRecordRow(
            entity="client",
            system="books",
            record_type="contact",
            external_id=external_id,
            display_name=name,
            url=f"https://books.example/{external_id}/{name}",
            keys={"name": name},
            read_at=at,
        )

    with uow_factory() as uow:
        uow.matches.put_records([row("1", "Acme", first), row("2", "Globex", first)])
        uow.commit()
    later = first + timedelta(minutes=5)
    with uow_factory() as uow:
        assert uow.matches.record("client", "books", "contact", "1") is not None  # held
        uow.matches.put_records(
            [
                row("1", "Acme Ltd", later),
                row("3", "Initech", later),
                row("3", "Initech Inc", later),
            ]
        )
        held = uow.matches.record("client", "books", "contact", "1")
        assert held is not None and held.display_name == "Acme Ltd"  # not the stale copy
        uow.commit()
    with uow_factory() as uow:
        since_later = {
            r.external_id: r for r in uow.matches.records_read("client", "books", "contact", later)
        }
        assert {k: r.display_name for k, r in since_later.items()} == {
            "1": "Acme Ltd",
            "3": "Initech Inc",
        }
        assert since_later["1"].keys == {"name": "Acme Ltd"}
        found = uow.matches.records(
            "client",
            [("books", "contact", "2"), ("books", "contact", "3"), ("books", "contact", "9")],
        )
        assert {k[2]: r.display_name for k, r in found.items()} == {
            "2": "Globex",
            "3": "Initech Inc",
        }
        proposal = MatchProposalRow(
            entity="client",
            canonical_id="PD-1",
            source_system="books",
            source_record_type="contact",
            source_external_id="2",
            system="books",
            record_type="contact",
            external_id="9",
            score=0.9,
            band="review",
            status="open",
        )
        assert records_urls(uow, [proposal]) == [("https://books.example/2/Globex", None)]


def test_a_record_typed_by_hand_is_compared_with_its_candidates_in_a_few_selects(
    db: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    integration_map = IntegrationMap.model_validate(BENCH_MAP)
    now = FrozenClock().now()
    with uow_factory() as uow:
        for index in range(30):
            canonical_id, name = f"PD-{100 + index}", f"Northwind Trading {index} Ltd"
            uow.entities.add_new(
                EntityRow(
                    canonical_id=canonical_id,
                    entity="client",
                    display_name=name,
                    search_name=with_name(search_key(canonical_id), name),
                    minted_by="crm.deal",
                    created_at=now,
                    updated_at=now,
                )
            )
            uow.flush()
            uow.links.add_new(
                LinkRow(
                    canonical_id=canonical_id,
                    system="crm",
                    record_type="deal",
                    external_id=str(100 + index),
                    display_name=name,
                    created_at=now,
                    updated_at=now,
                )
            )
            keys = {"name": name, "email": f"ap@branch{index}.example"}
            uow.matches.put_records(
                [
                    MatchRecordRow(
                        entity="client",
                        system="crm",
                        record_type="deal",
                        external_id=str(100 + index),
                        display_name=name,
                        keys=keys,
                        read_at=now,
                    )
                ]
            )
        uow.commit()
    typed = match_record(
        "books",
        "contact",
        "X1",
        "Northwind Trading 7",
        {"name": "Northwind Trading 7", "email": "x@branch7.example"},
    )
    with counted(db) as statements, uow_factory() as uow:
        suspect = best_suspect(uow, integration_map, "client", typed)
    assert suspect is not None and suspect.canonical_id == "PD-107"
    assert "same email domain" in " ".join(suspect.score.reasons)  # the kept keys were used
    # the name search, the candidates' minting links, their kept records (one select each,
    # not two a candidate)
    assert len(statements) <= 6, statements


def test_proposals_are_stored_a_chunk_at_a_time_and_a_rerun_finds_each_again(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    # 1,200 proposals: three chunks of 500 looked up and stored; the report keeps the first
    # ten rows and counts every one; a rerun finds each again (none goes stale across
    # chunks), and one whose record went away goes stale
    integration_map = _matched_on_name_and_email()
    clock = FrozenClock()
    vendors = _vendors(clock, deals=1200, contacts=0, twins=1200)

    def run() -> Any:
        with uow_factory() as uow:
            report = run_match(
                uow, integration_map, vendors, "client", now=clock.now(), keep_rows=10
            )
            uow.commit()
        return report

    first = run()
    assert first.counts == {"accepted": 600, "open": 600} and len(first.proposals) == 10
    clock.sleep(60)
    gone = next(
        r for r in vendors["books"].records("contact") if r.fields["Name"] == "Customer 7 Limited"
    )
    vendors["books"].store.remove("contact", gone.external_id)
    again = run()
    assert again.found == 1199
    with uow_factory() as uow:
        statuses = Counter(r.status for r in uow.matches.for_entity("client"))
        assert statuses == {"accepted": 599, "open": 600, "stale": 1}  # 7 was auto-accepted
        [stale] = uow.matches.for_entity("client", ["stale"])
        assert stale.name == "Customer 7 Limited"
