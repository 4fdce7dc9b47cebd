"""Pipedrive record types as declarations, and the mapping between v2 items and flat fields.

Each record type names its v2 collection, its v1 field-definitions path (custom fields live
there), the keys the connector cannot work without, and how catalog names map to the v2 item.
Flattening yields exactly the declared names plus custom fields under their human name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import ConfigError
from connectors.record_types import RecordType, catalog

# Related names looked up once per page: {"person": {id: item}, "organization": {id: item}},
# and the company's users ({"user": {id: user}}) for owners' names
Related = Mapping[str, Mapping[int, Mapping[str, Any]]]


_V2 = "/api/v2"


def _declare(name: str, fields: str, *, writable: str, display_field: str) -> RecordType:
    """Pipedrive's record types alike: a numeric ``id``, custom fields defined at
    ``/v1/<name>Fields``, the v2 collection ``/api/v2/<name>s``, a web page ``/<name>/<id>``."""
    return RecordType.declare(
        name,
        fields,
        writable=writable,
        custom=True,
        id_field="id",
        display_field=display_field,
        path=f"{_V2}/{name}s",
        required=("id", display_field, "update_time"),
        deep_link=f"/{name}/{{id}}",
        custom_fields_path=f"{name}Fields",
    )


DEAL = _declare(
    "deal",
    "id title value currency status org_id org_name person_id person_name person_email"
    " owner_id owner_name stage_id pipeline_id add_time update_time won_time close_time",
    writable="title value currency status org_id person_id owner_id stage_id",
    display_field="title",
)
PERSON = _declare(
    "person",
    "id name email phone org_id org_name owner_id owner_name add_time update_time",
    writable="name email phone org_id owner_id",
    display_field="name",
)
ORGANIZATION = _declare(
    "organization",
    "id name address owner_id owner_name add_time update_time",
    writable="name address owner_id",
    display_field="name",
)
RECORD_TYPES = catalog(DEAL, PERSON, ORGANIZATION)


def entity(record_type: str) -> RecordType:
    spec = RECORD_TYPES.get(record_type)
    if spec is None:
        known = ", ".join(sorted(RECORD_TYPES))
        raise ConfigError(f"pipedrive has no record type {record_type!r}; known: {known}")
    return spec


def parse_time(value: Any) -> datetime | None:
    """Pipedrive times are RFC 3339 in v2 (``...Z``) and ``YYYY-MM-DD HH:MM:SS`` UTC in v1."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def require(spec: RecordType, item: Any, where: str) -> Mapping[str, Any]:
    return spec.require("pipedrive", item, where)


def _primary(entries: Any) -> str | None:
    """The primary (else first) value of a v2 ``emails``/``phones`` list."""
    if not isinstance(entries, list) or not entries:
        return None
    chosen = next((e for e in entries if isinstance(e, Mapping) and e.get("primary")), entries[0])
    return chosen.get("value") if isinstance(chosen, Mapping) else None


def _name_of(related: Related, kind: str, ident: Any, key: str = "name") -> Any:
    item = related.get(kind, {}).get(ident) if isinstance(ident, int) else None
    return item.get(key) if item else None


def _person_of(item: Mapping[str, Any], related: Related) -> Mapping[str, Any]:
    ident = item.get("person_id")
    found = related.get("person", {}).get(ident) if isinstance(ident, int) else None
    return found or {}


def _value_of(entry: Any) -> Any:
    return entry.get("value") if isinstance(entry, Mapping) else entry


Derive = Callable[[Mapping[str, Any], Related], Any]

# Flat fields that are not the v2 item's own key of that name: read from its lists and
# objects, or from the records it points at. Every other declared field is the item's own.
DERIVED: dict[str, Derive] = {
    "org_name": lambda item, related: _name_of(related, "organization", item.get("org_id")),
    "owner_name": lambda item, related: _name_of(related, "user", item.get("owner_id")),
    "person_name": lambda item, related: _person_of(item, related).get("name"),
    "person_email": lambda item, related: _primary(_person_of(item, related).get("emails")),
    "email": lambda item, _: _primary(item.get("emails")),
    "phone": lambda item, _: _primary(item.get("phones")),
    "address": lambda item, _: _value_of(item.get("address")),
}

# The same fields written back in the v2 body's shape. The request schema types an entry's
# label as boolean, the response as a string: send none.
WRITTEN: dict[str, Callable[[Any], tuple[str, Any]]] = {
    "email": lambda value: ("emails", [{"value": value, "primary": True}] if value else []),
    "phone": lambda value: ("phones", [{"value": value, "primary": True}] if value else []),
    "address": lambda value: ("address", {"value": value}),
}


def flatten(
    spec: RecordType,
    item: Mapping[str, Any],
    related: Related,
    custom_names: Mapping[str, str],
) -> dict[str, Any]:
    """Catalog names first; custom fields under their human name (never shadowing a catalog
    name, so a custom field called "title" cannot hide the deal's real title)."""
    flat = {
        name: DERIVED[name](item, related) if name in DERIVED else item.get(name)
        for name in spec.fields
    }
    for key, value in (item.get("custom_fields") or {}).items():
        name = custom_names.get(key)
        if name is not None and name not in spec.fields:
            flat[name] = value
    return flat


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, value in fields.items():
        key, shaped = WRITTEN[name](value) if name in WRITTEN else (name, value)
        body[key] = shaped
    return body


def split_fields(
    spec: RecordType, fields: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(v2 body of standard fields, {human name: value} of custom fields).

    A catalog field that Pipedrive does not let us write (``org_name``, ``update_time``...) is a
    mistake in the map, not something to drop silently.
    """
    catalog = spec
    read_only = sorted(k for k in fields if k in catalog.fields and k not in catalog.writable)
    if read_only:
        raise ConfigError(
            f"pipedrive {spec.name}: {', '.join(read_only)} cannot be written; "
            f"writable: {', '.join(sorted(catalog.writable))} or a custom field"
        )
    standard = {k: v for k, v in fields.items() if k in catalog.writable}
    custom = {k: v for k, v in fields.items() if k not in catalog.fields}
    return _body(standard), custom
