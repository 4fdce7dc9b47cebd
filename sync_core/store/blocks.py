"""The block keys of the records read for matching (``match_blocks``), and the pairs of
records sharing one: a reconciliation of two large sides pairs its records here, in a few
set-based statements, instead of holding every record in memory.

The pairing is tuned on PostgreSQL, where the tables are filled moments before they are read
and have no statistics yet: the keys worth pairing go to a temporary table, everything is
analysed, and the pairs are read through a cursor planned for reading them all (planned for
the first row, a cursor of 346,000 pairs took 83 s to answer; planned for all, 0.6 s).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sync_core.store.models import KeptRecord, LinkRow, MatchBlockRow, MatchRecordRow

CHUNK = 500  # rows per statement: 3,000 parameters, within SQLite's limit
FETCH = 2000  # pairs fetched from the cursor at a time

BLOCKS = MatchBlockRow.metadata.tables[MatchBlockRow.__tablename__]
RECORDS = MatchRecordRow.metadata.tables[MatchRecordRow.__tablename__]
LINKS = LinkRow.metadata.tables[LinkRow.__tablename__]
# the keys worth pairing, for one pairing (a temporary table: each session its own)
USEFUL = Table(
    "match_useful_keys",
    MetaData(),
    Column("key", String(300), primary_key=True),
    prefixes=["TEMPORARY"],
)

Side = tuple[str, str, datetime]  # system, record type, kept at or after


def put_blocks(
    session: Session,
    entity: str,
    read_at: datetime,
    blocks: Mapping[tuple[str, str, str], Collection[str]],
) -> None:
    """Replace the block keys of these records (``(system, record_type, external_id)`` ->
    keys): their old keys are deleted, the new ones inserted, in statements of 500 rows;
    nothing is held in the session."""
    if not blocks:
        return
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    by_type: dict[tuple[str, str], list[str]] = {}
    for system, record_type, external_id in blocks:
        by_type.setdefault((system, record_type), []).append(external_id)
    if postgres:
        # The delete is the same statement page after page: the driver prepares it, and
        # PostgreSQL would keep the plan it made while the table was empty (a scan of the
        # whole table, a fill of 50,000 records a side took 273 s instead of 27 s).
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    for (system, record_type), external_ids in by_type.items():
        for start in range(0, len(external_ids), CHUNK):
            connection.execute(
                delete(BLOCKS).where(
                    BLOCKS.c.external_id.in_(external_ids[start : start + CHUNK]),
                    BLOCKS.c.system == system,
                    BLOCKS.c.record_type == record_type,
                    BLOCKS.c.entity == entity,
                    # a later read's keys (another process reading at once) are its own
                    BLOCKS.c.read_at <= read_at,
                )
            )
    if postgres:
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = DEFAULT")
    values = [
        {
            "key": key,
            "entity": entity,
            "system": system,
            "record_type": record_type,
            "external_id": external_id,
            "read_at": read_at,
        }
        for (system, record_type, external_id), keys in blocks.items()
        for key in keys
    ]
    if not values:
        return  # records without a key: nothing to pair them on
    # a record kept by two reads at once: the later read's time wins whichever writes last,
    # as with its record, so neither read loses the key from its own window
    upsert = (pg_insert if postgres else sqlite_insert)(BLOCKS)
    statement = upsert.on_conflict_do_update(
        index_elements=[c.name for c in BLOCKS.primary_key.columns],
        set_={"read_at": upsert.excluded.read_at},
        where=upsert.excluded.read_at > BLOCKS.c.read_at,
    ).returning(BLOCKS.c.key)
    for start in range(0, len(values), CHUNK):
        connection.execute(
            statement.execution_options(insertmanyvalues_page_size=CHUNK),
            values[start : start + CHUNK],
        ).all()


def pairs_sharing_blocks(
    session: Session, entity: str, left: Side, right: Side, max_pairs: int
) -> Iterator[tuple[str, str]]:
    """The distinct ``(left external_id, right external_id)`` of the records sharing a block
    key worth pairing: one both sides hold, pairing at most ``max_pairs`` records. The right
    side's records linked already are left out. Streamed: consume it while the unit of work
    is open; the temporary table is dropped when it is consumed or closed (the cursor's
    setting lasts until the transaction ends)."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    left_blocks, right_blocks = BLOCKS.alias("l"), BLOCKS.alias("r")
    left_counts = (
        select(left_blocks.c.key, func.count().label("n"))
        .where(*_of(left_blocks, entity, left))
        .group_by(left_blocks.c.key)
        .subquery()
    )
    right_counts = (
        select(right_blocks.c.key, func.count().label("n"))
        .where(*_of(right_blocks, entity, right), _free(right_blocks))
        .group_by(right_blocks.c.key)
        .subquery()
    )
    useful = (
        select(left_counts.c.key)
        .join_from(left_counts, right_counts, left_counts.c.key == right_counts.c.key)
        .where(left_counts.c.n * right_counts.c.n <= max_pairs)
    )
    USEFUL.drop(connection, checkfirst=True)  # one a failed pairing left in this session
    USEFUL.create(connection)
    try:
        if postgres:
            connection.exec_driver_sql("ANALYZE match_blocks")
            connection.exec_driver_sql("ANALYZE match_records")
        connection.execute(USEFUL.insert().from_select(["key"], useful))
        if postgres:
            connection.exec_driver_sql("ANALYZE match_useful_keys")
            connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
        pairs = (
            select(left_blocks.c.external_id, right_blocks.c.external_id)
            .distinct()
            .select_from(
                USEFUL.join(left_blocks, left_blocks.c.key == USEFUL.c.key).join(
                    right_blocks, right_blocks.c.key == USEFUL.c.key
                )
            )
            .where(*_of(left_blocks, entity, left), *_of(right_blocks, entity, right))
            .where(_free(right_blocks))
            # in order of the left record: a caller loading the records of a chunk of pairs
            # finds most of them in the chunk before (in hash order, each one 18 times)
            .order_by(left_blocks.c.external_id, right_blocks.c.external_id)
        )
        result = connection.execute(pairs.execution_options(yield_per=FETCH))
        # one string per record, not one per pair (a record is in many pairs): the caller
        # may hold every scored pair
        same: dict[str, str] = {}
        try:
            for rows in result.partitions():
                yield from (
                    (same.setdefault(left_id, left_id), same.setdefault(right_id, right_id))
                    for left_id, right_id in rows
                )
        finally:
            result.close()  # a table an open cursor reads cannot be dropped
    except GeneratorExit:  # closed early: the transaction is still usable
        USEFUL.drop(connection)
        raise
    # on a failed statement the transaction is rolled back, the table with it
    USEFUL.drop(connection)


def records_of(
    session: Session, entity: str, system: str, record_type: str, external_ids: Collection[str]
) -> list[KeptRecord]:
    """The kept records of these external IDs of one record type, as plain values the
    session does not hold (one select per 500)."""
    wanted = sorted(set(external_ids))
    connection = session.connection()
    found: list[KeptRecord] = []
    columns = [RECORDS.c[name] for name in KeptRecord._fields]
    for start in range(0, len(wanted), CHUNK):
        rows = connection.execute(
            select(*columns).where(
                RECORDS.c.entity == entity,
                RECORDS.c.system == system,
                RECORDS.c.record_type == record_type,
                RECORDS.c.external_id.in_(wanted[start : start + CHUNK]),
            )
        )
        found.extend(KeptRecord(*row) for row in rows)
    return found


def _of(blocks: Any, entity: str, side: Side) -> tuple[Any, ...]:
    system, record_type, since = side
    return (
        blocks.c.entity == entity,
        blocks.c.system == system,
        blocks.c.record_type == record_type,
        blocks.c.read_at >= since,
    )


def _free(blocks: Any) -> Any:
    """The block's record is linked to no canonical entity yet."""
    return ~exists().where(
        LINKS.c.system == blocks.c.system,
        LINKS.c.record_type == blocks.c.record_type,
        LINKS.c.external_id == blocks.c.external_id,
    )
