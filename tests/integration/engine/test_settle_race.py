"""Two processes settling one probable-duplicate proposal at once (Link in one `serve`, Not a
duplicate in another): the store's conditional update lets exactly one win."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sync_core.store.models import MatchProposalRow
from sync_core.store.uow import SqlUnitOfWorkFactory

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _proposal(uow_factory: SqlUnitOfWorkFactory) -> int:
    with uow_factory() as uow:
        row = MatchProposalRow(
            entity="client",
            canonical_id="PD-1",
            source_system="pipedrive",
            source_record_type="deal",
            source_external_id="1",
            system="xero",
            record_type="contact",
            external_id="c-9",
            score=0.9,
            reasons="name 1.00 after removing Ltd/Limited",
            band="review",
            status="open",
            created_at=NOW,
            updated_at=NOW,
        )
        uow.matches.add(row)
        uow.commit()
        return row.id


def test_a_proposal_read_open_by_two_units_of_work_is_settled_by_one(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    proposal = _proposal(uow_factory)
    with uow_factory() as first:
        row = first.matches.get(proposal)
        assert row is not None and row.status == "open"
        assert first.matches.settle(proposal, "open", "applied")
        assert row.status == "applied"  # the loaded row follows
        first.commit()
    # The second read it open before the first committed: its update finds it moved on.
    with uow_factory() as second:
        assert not second.matches.settle(proposal, "open", "rejected")
        second.commit()
    with uow_factory() as uow:
        settled = uow.matches.get(proposal)
        assert settled is not None and settled.status == "applied"


def test_two_concurrent_settlements_one_waits_and_loses(uow_factory: SqlUnitOfWorkFactory) -> None:
    proposal = _proposal(uow_factory)
    claimed = threading.Event()
    results: dict[str, bool] = {}

    def link() -> None:
        with uow_factory() as uow:
            results["link"] = uow.matches.settle(proposal, "open", "applied")
            claimed.set()
            threading.Event().wait(0.3)  # the vendor write, while the other one tries
            uow.commit()

    def not_duplicate() -> None:
        claimed.wait(5)
        with uow_factory() as uow:
            results["not_duplicate"] = uow.matches.settle(proposal, "open", "rejected")
            uow.commit()

    threads = [threading.Thread(target=link), threading.Thread(target=not_duplicate)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert results == {"link": True, "not_duplicate": False}
    with uow_factory() as uow:
        settled = uow.matches.get(proposal)
        assert settled is not None and settled.status == "applied"


def test_a_settlement_rolled_back_leaves_the_proposal_to_the_next(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    proposal = _proposal(uow_factory)
    with uow_factory() as failed:
        assert failed.matches.settle(proposal, "open", "applied")
        failed.rollback()  # the vendor refused the stamp
    with uow_factory() as uow:
        assert uow.matches.settle(proposal, "open", "rejected")
        uow.commit()
