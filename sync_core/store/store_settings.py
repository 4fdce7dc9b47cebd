"""What the store remembers about how it is run: key/value rows in ``store_settings``.

The first use is the map: its path and the hash of its content, written by the commands that
run a map, so a later command on the same store knows which map it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from sync_core.store.db import session_factory
from sync_core.store.models import StoreSettingRow

MAP_PATH = "map.path"
MAP_SHA256 = "map.sha256"


@dataclass(frozen=True)
class RememberedMap:
    path: str
    sha256: str


def get_settings(engine: Engine, *keys: str) -> dict[str, str]:
    """The stored values of ``keys`` (absent keys are left out)."""
    with session_factory(engine)() as session:
        rows = session.scalars(select(StoreSettingRow).where(StoreSettingRow.key.in_(keys)))
        return {row.key: row.value for row in rows}


def put_settings(engine: Engine, values: dict[str, str], now: datetime) -> None:
    """Store ``values`` in one transaction, as one insert-or-update per key.

    The statement settles a race itself: two processes starting at once both write the map
    they run, and whichever commits second updates the row the first inserted.
    """
    if not values:
        return
    insert = _dialect_insert(engine)
    with session_factory(engine)() as session:
        for key, value in sorted(values.items()):
            statement = insert(StoreSettingRow).values(key=key, value=value, updated_at=now)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[StoreSettingRow.key],
                    set_={"value": value, "updated_at": now},
                )
            )
        session.commit()


def _dialect_insert(engine: Engine) -> Callable[..., Any]:
    if engine.dialect.name == "postgresql":
        return postgresql.insert
    if engine.dialect.name == "sqlite":
        return sqlite.insert
    raise ValueError(f"store_settings: no insert-or-update for the {engine.dialect.name} store")


def remembered_map(engine: Engine) -> RememberedMap | None:
    """The map the store last ran with, if any command recorded one."""
    values = get_settings(engine, MAP_PATH, MAP_SHA256)
    if MAP_PATH not in values or MAP_SHA256 not in values:
        return None
    return RememberedMap(values[MAP_PATH], values[MAP_SHA256])


def remember_map(engine: Engine, remembered: RememberedMap, now: datetime) -> None:
    put_settings(engine, {MAP_PATH: remembered.path, MAP_SHA256: remembered.sha256}, now)
