"""How Asana objects become Handoff records: which fields to ask for, how to flatten them,
and the change-detection cursor."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import Record, SchemaChanged
from connectors.paging import Cursor
from connectors.record_types import RecordType, catalog

CUSTOM_FIELD_OPT = (
    "custom_fields,custom_fields.name,custom_fields.text_value,"
    "custom_fields.number_value,custom_fields.display_value"
)
# Keys every record must carry: without them we cannot track changes or read custom fields.
REQUIRED_KEYS = ("gid", "name", "modified_at", "custom_fields")


# The ``/1/<workspace>/<project|task>/<gid>`` permalink form Asana's spec shows.
PROJECT = RecordType.declare(
    "project",
    "gid name notes archived color due_on start_on owner team workspace"
    " created_at modified_at permalink_url",
    writable="name notes archived color due_on start_on",
    custom=True,
    id_field="gid",
    display_field="name",
    path="/projects",
    required=REQUIRED_KEYS,
    deep_link="/1/{workspace}/project/{id}",
    request_fields="name,notes,archived,color,due_on,start_on,owner,team,team.name,workspace,"
    "workspace.name,created_at,modified_at,permalink_url," + CUSTOM_FIELD_OPT,
)
TASK = RecordType.declare(
    "task",
    "gid name notes completed due_on assignee projects created_at modified_at permalink_url",
    writable="name notes completed due_on assignee",
    custom=True,
    id_field="gid",
    display_field="name",
    path="/tasks",
    required=REQUIRED_KEYS,
    deep_link="/1/{workspace}/task/{id}",
    request_fields="name,notes,completed,due_on,assignee,assignee.name,projects,projects.name,"
    "workspace,created_at,modified_at,permalink_url," + CUSTOM_FIELD_OPT,
)
RECORD_TYPES = catalog(PROJECT, TASK)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def custom_field_value(field: Mapping[str, Any]) -> Any:
    for key in ("text_value", "number_value"):
        if field.get(key) is not None:
            return field[key]
    return field.get("display_value")


def to_record(kind: RecordType, raw: Any) -> Record:
    if not isinstance(raw, Mapping):
        raise SchemaChanged(f"asana: a {kind.name} is not an object")
    missing = [key for key in kind.required if key not in raw]
    if missing:
        raise SchemaChanged(
            f"asana: {kind.name} {raw.get('gid', '?')} lacks {', '.join(map(repr, missing))}"
        )
    fields: dict[str, Any] = {name: raw.get(name) for name in kind.fields}
    for custom in raw["custom_fields"] or []:
        if isinstance(custom, Mapping) and custom.get("name"):
            fields[str(custom["name"])] = custom_field_value(custom)
    return Record(
        record_type=kind.name,
        external_id=str(raw["gid"]),
        fields=fields,
        updated_at=parse_time(raw["modified_at"]) if raw["modified_at"] else None,
        url=raw.get("permalink_url") or None,
        display_name=raw["name"],
    )


def is_new(cursor: Cursor, record: Record) -> bool:
    """At or after the watermark: a record changed in the same instant as the newest one seen
    last time must not be missed; reading that newest one again makes no new event."""
    if cursor.since is None or record.updated_at is None:
        return True
    return record.updated_at >= parse_time(cursor.since)


def seen(cursor: Cursor, records: list[Record]) -> str | None:
    """The newest ``modified_at`` of the sweep so far, with ``records``."""
    times = [r.updated_at for r in records if r.updated_at is not None]
    if cursor.high is not None:
        times.append(parse_time(cursor.high))
    return max(times).isoformat() if times else cursor.high
