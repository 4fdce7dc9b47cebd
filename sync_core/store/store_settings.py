"""What the store remembers about how it is run: key/value rows in ``store_settings``.

The first use is the map: its path and the hash of its content, written by the commands that
run a map, so a later command on the same store knows which map it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

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
    """Store ``values`` in one transaction."""
    for attempt in (1, 2):
        with session_factory(engine)() as session:
            for key, value in values.items():
                row = session.get(StoreSettingRow, key, with_for_update=True)
                if row is None:
                    session.add(StoreSettingRow(key=key, value=value, updated_at=now))
                else:
                    row.value = value
                    row.updated_at = now
            try:
                session.commit()
                return
            except IntegrityError:
                # Another process inserted the same key first: update it this time.
                if attempt == 2:
                    raise


def remembered_map(engine: Engine) -> RememberedMap | None:
    """The map the store last ran with, if any command recorded one."""
    values = get_settings(engine, MAP_PATH, MAP_SHA256)
    if MAP_PATH not in values or MAP_SHA256 not in values:
        return None
    return RememberedMap(values[MAP_PATH], values[MAP_SHA256])


def remember_map(engine: Engine, remembered: RememberedMap, now: datetime) -> None:
    put_settings(engine, {MAP_PATH: remembered.path, MAP_SHA256: remembered.sha256}, now)
