"""The name search index (migration 0006) answers name queries without scanning the entities
table, finds exactly what a scan finds, stays in step with the names, and its absence (an
extension the role may not create, an SQLite without the trigram tokenizer) is logged and
leaves the queries scanning."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine as DbEngine
from sqlalchemy import insert, text

from sync_core import queries
from sync_core.map.loader import load_map
from sync_core.naming import search_key, with_name
from sync_core.queries import suggest, where
from sync_core.store import search
from sync_core.store.models import EntityRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT
from tests.support.database import is_postgres
from tests.support.statements import recorded

START = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = [
    "Acme Ltd", "Acme Labs", "Globex Corporation", "Globex Labs 000123", "Initech 50% Off",
    "Under_score & Co", 'Quote "Q" Ltd', "Café Zoë", "Wonka Industries", "Pied Piper",
    "Tyrell Logistics", "Cyberdyne Systems", "Back\\slash Ltd",
]  # fmt: skip
QUERIES = [
    "acme", "labs", "globex lab", "50%", "%", "_", "under_", 'quote "q"', "café", "zoë",
    "pd-3", "ltd", "xyz", "e l", "ac", "a", "back\\sl", "pied piper", "PIED  Piper",
]  # fmt: skip


def seed(db: DbEngine, names: list[str]) -> None:
    rows = [
        {
            "canonical_id": f"PD-{n}",
            "entity": "client",
            "display_name": name,
            "search_name": with_name(search_key(f"PD-{n}"), name),
            "minted_by": "pipedrive.deal",
            "created_at": START,
            "updated_at": START,
        }
        for n, name in enumerate(names)
    ]
    with db.begin() as connection:
        connection.execute(insert(EntityRow), rows)


def scanned(names: list[str], query: str) -> list[str]:
    """What a scan of every name finds, by name."""
    key = search_key(query)
    found = [name for n, name in enumerate(names) if key in with_name(search_key(f"PD-{n}"), name)]
    return sorted(found)


def test_the_index_exists_after_the_migrations(db: DbEngine) -> None:
    with db.connect() as connection:
        if is_postgres():
            found = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                {"n": search.PG_INDEX},
            ).scalar_one()
            assert "gin_trgm_ops" in found
        else:
            assert search.sqlite_has_trigram()
            triggers = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars()
            assert set(search.SQLITE_TRIGGERS) <= set(triggers)
            assert search.sqlite_index_present(connection)


def test_postgresql_s_index_keeps_a_short_pending_list_which_every_search_reads(
    db: DbEngine,
) -> None:
    if not is_postgres():
        pytest.skip("GIN's pending list is PostgreSQL's")
    # about 300 bytes of list entries a name: 600 kB, which a 4 MB list would keep whole
    seed(db, [f"Pending List Customer {n:06d}" for n in range(2000)])
    with db.connect() as connection:
        options = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = :n"), {"n": search.PG_INDEX}
        ).scalar_one()
        assert f"gin_pending_list_limit={search.PG_PENDING_LIST_KB}" in options
        pending_pages = connection.execute(
            text("SELECT gin_clean_pending_list(CAST(:n AS regclass))"), {"n": search.PG_INDEX}
        ).scalar_one()
        assert pending_pages <= search.PG_PENDING_LIST_KB // 8 + 1  # 8 kB pages
        # and the names moved into the index are found through it
        with SqlUnitOfWorkFactory(db)() as uow:
            found = uow.entities.named_like("customer 001234", 10)
            assert [row.display_name for row in found] == ["Pending List Customer 001234"]


def test_name_queries_find_what_a_scan_finds(db: DbEngine) -> None:
    seed(db, NAMES)
    uow_factory = SqlUnitOfWorkFactory(db)
    with uow_factory() as uow:
        for query in QUERIES:
            found = [row.display_name for row in uow.entities.named_like(query, 100)]
            assert found == scanned(NAMES, query), query
            assert uow.entities.count_matches(query) == len(found) or query == "pd-3", query


def test_a_name_query_does_not_scan_the_entities_table(db: DbEngine) -> None:
    seed(db, NAMES)
    with SqlUnitOfWorkFactory(db)() as uow:
        connection = uow.session.connection()
        with recorded(db) as sent:
            uow.entities.named_like("globex lab", 10)
        [statement] = sent
        params = statement.params
        if is_postgres():
            # a handful of rows: make the planner show whether the index can serve the query
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql("EXPLAIN " + statement, params).scalars().all()
            assert any(search.PG_INDEX in line for line in plan), plan
        else:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            details = [row[-1] for row in rows]
            assert any(search.FTS_TABLE in d and "VIRTUAL TABLE" in d for d in details), details
            assert not any(d.split()[:2] == ["SCAN", "entities"] for d in details), details


def test_the_index_follows_names_added_renamed_and_removed(db: DbEngine) -> None:
    uow_factory = SqlUnitOfWorkFactory(db)
    with uow_factory() as uow:
        uow.entities.add_new(
            EntityRow(
                canonical_id="PD-1",
                entity="client",
                display_name="Hooli",
                search_name=with_name("pd-1", "Hooli"),
                minted_by="pipedrive.deal",
                created_at=START,
                updated_at=START,
            )
        )
        uow.commit()
    with uow_factory() as uow:
        assert [r.canonical_id for r in uow.entities.named_like("hooli", 5)] == ["PD-1"]
        row = uow.entities.get("PD-1")
        assert row is not None
        row.search_name = with_name(row.search_name, "Hooli XYZ Holdings")
        uow.commit()
    with uow_factory() as uow:
        assert [r.canonical_id for r in uow.entities.named_like("xyz hold", 5)] == ["PD-1"]
        uow.session.execute(text("UPDATE entities SET search_name = 'pd-1 | nucleus'"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.entities.named_like("hooli", 5) == []
        assert [r.canonical_id for r in uow.entities.named_like("nucleus", 5)] == ["PD-1"]
        uow.session.execute(text("DELETE FROM entities"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.entities.named_like("nucleus", 5) == []
        if not is_postgres():
            left = uow.session.execute(text(f"SELECT count(*) FROM {search.FTS_TABLE}"))
            assert left.scalar_one() == 0


def test_a_common_word_lists_the_first_found_by_name_and_counts_up_to_the_cap(
    db: DbEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db, [f"Common {n:02d}" for n in range(30, 0, -1)] + ["Rare Common"])
    integration_map = load_map(REPO_ROOT / "examples" / "agency.yaml").require_valid()
    monkeypatch.setattr(queries, "COUNT_CAP", 20)
    with SqlUnitOfWorkFactory(db)() as uow:
        capped = where(uow, integration_map, "common", limit=8)
        exact = where(uow, integration_map, "common 1", limit=8)  # 10..19
    names = [m.display_name for m in capped.matches]
    assert len(names) == 8 and names == sorted(names)
    assert (capped.total, capped.more) == (20, True)
    shown = [m.display_name for m in exact.matches]
    assert len(shown) == 8 and shown == sorted(shown)
    assert set(shown) <= {f"Common {n}" for n in range(10, 20)}
    assert (exact.total, exact.more) == (10, False)


def test_suggestions_survive_a_typo_in_every_word(db: DbEngine) -> None:
    seed(db, NAMES)
    with SqlUnitOfWorkFactory(db)() as uow:
        assert suggest(uow, "globx labz")[0] == "Globex Labs 000123"
        assert suggest(uow, "globex quarry ltd")[0].startswith("Globex")  # one word unknown
        assert "Tyrell Logistics" in suggest(uow, "tyrel logistcs")


def test_without_the_trigram_tokenizer_the_migration_logs_and_queries_scan(
    db: DbEngine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if is_postgres():
        pytest.skip("SQLite's tokenizer")
    monkeypatch.setattr(search, "sqlite_has_trigram", lambda version=None: False)
    with db.begin() as connection:
        search.drop(connection)
        with caplog.at_level(logging.WARNING, logger=search.log.name):
            assert search.create(connection) is False
    assert "no FTS5 trigram tokenizer" in caplog.text
    db.dispose()  # new connections see the table is gone
    seed(db, NAMES)
    with SqlUnitOfWorkFactory(db)() as uow:
        for query in QUERIES:
            found = [row.display_name for row in uow.entities.named_like(query, 100)]
            assert found == scanned(NAMES, query), query


def test_a_role_refused_pg_trgm_gets_a_log_line_and_no_index(
    db: DbEngine, caplog: pytest.LogCaptureFixture
) -> None:
    if not is_postgres():
        pytest.skip("a PostgreSQL extension")
    with db.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = 'handoff_no_extensions'")
        ).scalar()
        if not exists:
            connection.execute(text("CREATE ROLE handoff_no_extensions"))
            connection.commit()
    with db.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(text("DROP EXTENSION pg_trgm CASCADE"))
            connection.execute(text("SET LOCAL ROLE handoff_no_extensions"))
            with caplog.at_level(logging.WARNING, logger=search.log.name):
                assert search.create(connection) is False
            connection.execute(text("RESET ROLE"))
            assert not connection.execute(
                text("SELECT 1 FROM pg_indexes WHERE indexname = :n"), {"n": search.PG_INDEX}
            ).scalar()
        finally:
            transaction.rollback()  # the test database keeps its extension and index
    assert "pg_trgm is not available" in caplog.text


def test_a_role_that_does_not_own_the_index_gets_a_log_line_and_the_migration_goes_on(
    db: DbEngine, caplog: pytest.LogCaptureFixture
) -> None:
    if not is_postgres():
        pytest.skip("a PostgreSQL index's options")
    with db.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = 'handoff_no_extensions'")
        ).scalar()
        if not exists:
            connection.execute(text("CREATE ROLE handoff_no_extensions"))
            connection.commit()
    with db.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(
                text(f"ALTER INDEX {search.PG_INDEX} RESET (gin_pending_list_limit)")
            )
            connection.execute(text("GRANT USAGE ON SCHEMA public TO handoff_no_extensions"))
            connection.execute(text("SET LOCAL ROLE handoff_no_extensions"))
            with caplog.at_level(logging.WARNING, logger=search.log.name):
                search.pg_short_pending_list(connection)
            connection.execute(text("SELECT 1"))  # the transaction is still usable
            connection.execute(text("RESET ROLE"))
            options = connection.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = :n"), {"n": search.PG_INDEX}
            ).scalar()
            assert not options
        finally:
            transaction.rollback()  # the test database keeps its index as migrated
    assert "pending list of ix_entities_search_name_trgm stays as it is" in caplog.text
    assert "must be owner" in caplog.text


def test_a_system_s_own_id_is_found_through_an_index(db: DbEngine) -> None:
    seed(db, NAMES[:2])

    with SqlUnitOfWorkFactory(db)() as uow:
        uow.session.execute(
            text(
                "INSERT INTO links (canonical_id, system, record_type, external_id, "
                "created_at, updated_at) VALUES ('PD-1', 'xero', 'contact', 'c-0001', "
                ":at, :at)"
            ),
            {"at": START},
        )
        connection = uow.session.connection()
        with recorded(db) as sent:
            assert [r.canonical_id for r in uow.entities.search("c-0001", 5)] == ["PD-1"]
        [statement] = [s for s in sent if "JOIN links" in s]
        params = statement.params
        if is_postgres():
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql("EXPLAIN " + statement, params).scalars().all()
            assert not any("Seq Scan on links" in line for line in plan), plan
            assert any("ix_links_external_id" in line for line in plan), plan
        else:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            details = [row[-1] for row in rows]
            assert not any(d.split()[:2] == ["SCAN", "links"] for d in details), details
