"""Which map a command runs with, on a store that remembers the map it ran with.

The rule:

- ``-c MAP`` (or ``HANDOFF_MAP``) names the map. If the store remembers a map with other
  content, the command stops with one line saying so, unless it adopts the map: ``run``,
  ``serve``, ``sync``, ``retry`` (it plans failed mappings again with the map it is given)
  and ``db upgrade -c`` always do, any other command with ``--map-changed``.
- Without ``-c``, the remembered map is used if its file still exists and has not changed
  (a command that adopts takes the changed file); the demo map only on a store that remembers
  none.

Adopting a map records its path and content hash in the store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from bot.settings import Settings
from sync_core.store.store_settings import RememberedMap, remember_map, remembered_map


class MapChoiceError(ValueError):
    """The command cannot tell which map to run with; the message says what to do."""


@dataclass(frozen=True)
class MapChoice:
    path: Path
    # one line for the operator when the store now runs another map than before
    note: str | None = None


def map_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise MapChoiceError(f"cannot read the map {path}: {exc.strerror}") from None


def _short(sha: str) -> str:
    return sha[:12]


def choose_map(settings: Settings, db: Engine, *, adopt: bool) -> MapChoice:
    """The map for a command on ``db`` (see the module's rule); records it when ``adopt``."""
    remembered = remembered_map(db)
    if settings.map_given or remembered is None:
        path = settings.map_path
    else:
        path = Path(remembered.path)
        if not path.exists():
            raise MapChoiceError(
                f"this store ran the map {path}, which no longer exists: "
                "name the map with -c (or HANDOFF_MAP)"
            )
    sha = map_sha256(path)
    note = None
    if remembered is not None and remembered.sha256 != sha:
        said = f"this store ran {remembered.path} (sha256 {_short(remembered.sha256)})"
        now = f"{path} (sha256 {_short(sha)})"
        if not adopt:
            raise MapChoiceError(
                f"the maps differ: {said}, this command would use {now}; "
                "pass --map-changed to run this store with it"
            )
        note = f"the map changed: {said}, it now runs {now}"
    return MapChoice(path.resolve(), note)


def record_map(db: Engine, path: Path) -> None:
    """Remember ``path`` (and its content hash) as the map this store runs with."""
    remember_map(db, RememberedMap(str(path.resolve()), map_sha256(path)), datetime.now(UTC))
