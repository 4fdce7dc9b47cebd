"""The fake store pairs as the real one does: proposing from it returns what pairing in
memory returns, so tests of a reconciliation that proposes from the store can run on it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from connectors.clock import FrozenClock
from sync_core.matching.clusters import Candidate, Thresholds, propose
from sync_core.matching.from_store import keep_records, propose_from_store
from tests.fakes import FakeUnitOfWorkFactory
from tests.support.match_sides import CONTACT, DEAL, Sides, link

THRESHOLDS = Thresholds(auto_accept=0.9, review=0.6)


def test_the_fake_store_proposes_what_pairing_in_memory_does() -> None:
    sides = Sides(seed=7, deals=300, contacts=300)
    since = FrozenClock().now()
    older, deals = sides.deals[:30], sides.deals[30:]
    linked = sides.contacts[::10]
    factory = FakeUnitOfWorkFactory()
    with factory() as uow:
        keep_records(uow, "client", older, since - timedelta(hours=1))
        keep_records(uow, "client", deals + sides.contacts, since)
        keep_records(uow, "client", deals[:5], since)  # kept again: its keys replaced
        for record in linked:
            link(uow, record, since)
        uow.commit()

    free = [c for c in sides.contacts if c not in linked]
    expected = propose(
        sorted(deals, key=lambda r: r.external_id),
        sorted(free, key=lambda r: r.external_id),
        THRESHOLDS,
    )
    with factory() as uow:
        found = _all(
            propose_from_store(uow, "client", (DEAL, since), (CONTACT, since), THRESHOLDS, None)
        )
    assert found == expected
    assert len(expected) > 50


def _all(chunks: Iterable[list[Candidate]]) -> list[Candidate]:
    return [candidate for chunk in chunks for candidate in chunk]
