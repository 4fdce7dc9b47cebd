"""Proposing from the store proposes exactly what pairing in memory does: the same pairs,
scores, bands and order, with common words skipped, ties broken alike, linked copies and
records of an older read left out; a record kept again loses its old block keys; and the
store's schema upgrades from 0009 (a match read left unfinished starts again)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text

from connectors.clock import FrozenClock
from sync_core.matching.blocking import MAX_BLOCK_PAIRS, MAX_KEY, block_keys
from sync_core.matching.clusters import Band, Candidate, Thresholds, propose
from sync_core.matching.from_store import keep_records, propose_from_store
from sync_core.matching.keys import match_record
from sync_core.matching.reading import from_row
from sync_core.store.db import current_revision, downgrade, upgrade
from sync_core.store.models import MatchBlockRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.support.match_sides import CONTACT, DEAL, Sides, link

THRESHOLDS = Thresholds(auto_accept=0.9, review=0.6)


@pytest.mark.parametrize("keys", [None, ("email", "name")])
def test_proposing_from_the_store_proposes_what_pairing_in_memory_does(
    db: Engine, uow_factory: SqlUnitOfWorkFactory, keys: tuple[str, ...] | None
) -> None:
    generated = Sides(seed=13, deals=2400, contacts=2400)
    deals, contacts = generated.deals, generated.contacts
    since = FrozenClock().now()
    before = since - timedelta(hours=1)
    long_note = "x" * (MAX_KEY + 20)  # a block key too long to keep: dropped on both ways
    older_deals, deals = deals[:200], deals[200:]  # kept by an older read: not compared
    older_contacts, contacts = contacts[:200], contacts[200:]
    for side, ref, name in ((deals, DEAL, "Longa"), (contacts, CONTACT, "Longb")):
        values = {"name": name, "note": long_note}
        side.insert(0, match_record(ref.system, ref.record_type, f"long{name}", name, values))
    assert "note" in deals[0].keys
    assert "note=" + long_note not in block_keys(deals[0])
    linked = contacts[::20]
    with uow_factory() as uow:
        keep_records(uow, "client", older_deals + older_contacts, before)
        for start in range(0, len(deals), 500):  # a page at a time, as a read keeps them
            keep_records(uow, "client", deals[start : start + 500], since)
        keep_records(uow, "client", contacts, since + timedelta(seconds=1))
        for record in linked:
            link(uow, record, since)
        uow.commit()
    with db.begin() as connection:  # rows kept before the store kept them normalised
        connection.execute(
            text("UPDATE match_records SET normalised = NULL WHERE external_id LIKE '%7'")
        )

    free = [c for c in contacts if c not in linked]
    expected = propose(
        sorted(deals, key=lambda r: r.external_id),
        sorted(free, key=lambda r: r.external_id),
        THRESHOLDS,
        keys,
    )
    with uow_factory() as uow:
        found = _all(
            propose_from_store(uow, "client", (DEAL, since), (CONTACT, since), THRESHOLDS, keys)
        )
        again = _all(
            propose_from_store(uow, "client", (DEAL, since), (CONTACT, since), THRESHOLDS, keys)
        )  # the temporary table was dropped: a second pairing in one transaction works

    assert found == expected
    assert again == expected
    # the set says what it should: many proposals of both bands, ambiguous ones, linked
    # copies among the candidates otherwise, a word too common to pair on
    assert len(expected) > 500
    assert {c.band for c in expected} == {Band.AUTO, Band.REVIEW}
    assert any("nearly as high" in " ".join(c.score.reasons) for c in expected)
    group = sum(1 for d in deals if "group" in (d.name.tokens if d.name else ()))
    assert group * group > MAX_BLOCK_PAIRS
    values = [c.score.value for c in expected]
    assert len(values) > len(set(values))  # ties


def test_a_record_kept_again_keeps_only_its_new_block_keys(
    db: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    now = FrozenClock().now()
    first = match_record("crm", "deal", "7", "Acme", {"name": "Acme", "email": "ap@acme.example"})
    other = match_record("crm", "deal", "8", "Acme", {"name": "Acme"})
    renamed = match_record("crm", "deal", "7", "Zenith Works", {"name": "Zenith Works"})
    with uow_factory() as uow:
        keep_records(uow, "client", [first, other], now)
        uow.commit()
    with uow_factory() as uow:
        keep_records(uow, "client", [renamed], now + timedelta(minutes=1))
        uow.commit()

    with db.connect() as connection:
        rows = connection.execute(
            select(MatchBlockRow.external_id, MatchBlockRow.key, MatchBlockRow.read_at)
        ).all()
    assert sorted((r.external_id, r.key) for r in rows) == sorted(
        [("7", key) for key in block_keys(renamed)] + [("8", key) for key in block_keys(other)]
    )
    assert {r.read_at for r in rows if r.external_id == "7"} == {now + timedelta(minutes=1)}
    with uow_factory() as uow:
        (row,) = uow.matches.records_of("client", "crm", "deal", ["7"])
        assert from_row(row) == renamed  # read back as kept, without normalising again
        assert row.normalised is not None


def test_two_reads_at_once_each_keep_every_record_they_read_in_their_own_window(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    # two processes reconcile at once: the later read keeps its pages first, then the
    # earlier one writes the same records; neither loses them from its window (before, the
    # earlier read's write set the time back, and the later read paired without them)
    earlier = FrozenClock().now()
    later = earlier + timedelta(seconds=5)
    deal = match_record("crm", "deal", "1", "Acme Ltd", {"name": "Acme Ltd"})
    contact = match_record("books", "contact", "9", "Acme Limited", {"name": "Acme Limited"})
    with uow_factory() as uow:
        keep_records(uow, "client", [deal, contact], later)
        uow.commit()
    with uow_factory() as uow:
        keep_records(uow, "client", [deal, contact], earlier)
        uow.commit()

    for since in (earlier, later):
        with uow_factory() as uow:
            assert uow.matches.count_read("client", "books", "contact", since) == (1, 1)
            found = _all(
                propose_from_store(uow, "client", (DEAL, since), (CONTACT, since), THRESHOLDS, None)
            )
        assert [(c.source.external_id, c.copy.external_id) for c in found] == [("1", "9")]


def test_the_store_upgrades_from_0009_and_a_match_read_left_unfinished_starts_again(
    db: Engine, database_url: str
) -> None:
    downgrade(database_url, "0009")
    with db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO cursors (system, record_type, cursor, updated_at) VALUES "
                "('crm', 'deal#match:client', '{}', :now), ('crm', 'deal', 'c-1', :now)"
            ),
            {"now": "2026-12-04 10:00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO match_records (entity, system, record_type, external_id, "
                "display_name, url, keys, read_at) VALUES ('client', 'books', 'contact', '5', "
                "'Acme Ltd', NULL, :keys, :now)"
            ),
            {"keys": '{"name": "Acme Ltd", "email": "AP@acme.example"}', "now": "2026-12-04"},
        )

    upgrade(database_url, "head")
    with db.connect() as connection:
        cursors = connection.execute(text("SELECT record_type FROM cursors")).scalars().all()
    assert cursors == ["deal"]
    with SqlUnitOfWorkFactory(db)() as uow:
        (row,) = uow.matches.records_of("client", "books", "contact", ["5"])
    assert row.normalised is None  # kept before: normalised when read
    assert from_row(row) == match_record(
        "books", "contact", "5", "Acme Ltd", {"name": "Acme Ltd", "email": "AP@acme.example"}
    )

    downgrade(database_url, "0009")
    assert current_revision(db) == "0009"
    upgrade(database_url, "head")


def _all(chunks: Iterable[list[Candidate]]) -> list[Candidate]:
    return [candidate for chunk in chunks for candidate in chunk]
