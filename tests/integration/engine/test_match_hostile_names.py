"""Hostile names through matching: `<!channel>` and a name of 100,000
characters are kept (the long one clipped to its column, on both stores) and matched, never
a failed write (PostgreSQL refused the whole page before)."""

from __future__ import annotations

from bench.engine import BENCH_MAP
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.map.model import IntegrationMap
from sync_core.matching.service import read_records, run_match
from sync_core.store.uow import SqlUnitOfWorkFactory


def test_hostile_names_are_read_kept_and_proposed_on_both_stores(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    clock = FrozenClock()
    crm = SandboxConnector("crm", "pipedrive", clock)
    books = SandboxConnector("books", "xero", clock)
    long = " ".join(f"w{i}" for i in range(20_000))[:100_000]
    crm.add("deal", {"id": 1, "status": "won", "org_name": "<!channel> Acme Ltd"}, external_id="1")
    crm.add("deal", {"id": 2, "status": "won", "org_name": long}, external_id="2")
    books.add("contact", {"Name": "<!channel> Acme Limited"})
    books.add("contact", {"Name": long})
    integration_map = IntegrationMap.model_validate(BENCH_MAP)
    vendors = {"crm": crm, "books": books}

    read = read_records(uow_factory, integration_map, vendors, "client", now=clock.now())
    with uow_factory() as uow:
        report = run_match(
            uow, integration_map, vendors, "client", now=clock.now(), read_before=read
        )
        uow.commit()

    names = sorted(p.name or "" for p in report.proposals)
    assert names[0] == "<!channel> Acme Limited"  # kept as typed: escaped where shown
    assert len(names[1]) == 500 and names[1].startswith("w0 w1 w2") and names[1].endswith("…")
    with uow_factory() as uow:  # the deals' records kept for review, the long one clipped
        kept = uow.matches.records_of("client", "crm", "deal", ["1", "2"])
        assert sorted(len(r.display_name or "") for r in kept) == [19, 500]
