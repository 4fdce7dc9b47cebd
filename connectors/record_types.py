"""What a connector's records look like to a map: the one declaration of a record type.

Each vendor package declares its record types with :class:`RecordType` and lists them in its
``VENDOR`` (see :mod:`connectors.vendor`). The map validator checks ``{{ field }}`` references
and target fields against these catalogs without building a connector. A connector's records
must carry exactly these names (plus the custom fields a map declares on the system). Nested
values use dots in expressions (``{{ Contact.ContactID }}``); the top-level name is what is
listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import SchemaChanged


@dataclass(frozen=True, kw_only=True)
class RecordType:
    """One record type of a vendor, declared: what a map may read and write, and where the
    vendor keeps it. Vendors fill the parts their API has; the rest keep their defaults."""

    name: str
    fields: frozenset[str]  # the flattened field names a record carries
    id_field: str  # the vendor's own id field
    display_field: str  # the field shown as the record's name
    writable: frozenset[str] = frozenset()
    supports_custom_fields: bool = False
    # where a copy of this type keeps the canonical ID when the vendor has its own way
    # (Mailchimp's merge fields), for starter maps; else a custom field or a plain field
    suggested_id_field: str | None = None
    path: str = ""  # the collection's API path; one record is ``{path}/{id}``
    body_key: str = ""  # the key of the records' array in request and response bodies
    required: tuple[str, ...] = ()  # keys without which a vendor item is not usable
    date_fields: tuple[str, ...] = ()  # fields holding dates in the vendor's own format
    # the web app path of one record: ``{id}``, the vendor's option placeholders, and the
    # ``link_fields`` (fields of the record, where the web app has its own id: Mailchimp's
    # ``{web_id}``)
    deep_link: str = ""
    link_fields: tuple[str, ...] = ()
    custom_fields_path: str = ""  # where the vendor lists this type's custom-field definitions
    request_fields: str = ""  # the fields to ask for, where the vendor wants them named

    @classmethod
    def declare(
        cls, name: str, fields: str, *, writable: str = "", custom: bool = False, **rest: Any
    ) -> RecordType:
        """A declaration with the field lists written as space-separated names."""
        return cls(
            name=name,
            fields=frozenset(fields.split()),
            writable=frozenset(writable.split()),
            supports_custom_fields=custom,
            **rest,
        )

    def require(self, vendor: str, item: Any, where: str) -> Mapping[str, Any]:
        """``item`` as the vendor answered it, checked to be an object with the ``required``
        keys: a vendor release that drops one is a :class:`SchemaChanged`, not a KeyError."""
        if not isinstance(item, Mapping):
            raise SchemaChanged(f"{vendor}: {where}: expected a {self.name} object")
        for key in self.required:
            if key not in item:
                raise SchemaChanged(
                    f"{vendor}: {where}: {self.name} item has no {key!r} "
                    f"(keys: {', '.join(sorted(map(str, item)))[:300]})"
                )
        return item

    def link(
        self,
        external_id: str,
        options: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> str | None:
        """The record's web-app path from the template; None when it names a field of the
        record that is not known (a link with a made-up id would open the wrong record)."""
        values = _Placeholders({k: str(v) for k, v in (options or {}).items()})
        for name in self.link_fields:
            value = (fields or {}).get(name)
            if value in (None, ""):
                return None
            values[name] = str(value)
        values["id"] = external_id
        return self.deep_link.format_map(values)


class _Placeholders(dict[str, str]):
    # A deep-link placeholder nobody knows (the in-process sandbox has no Asana workspace)
    # reads as 0, as in the vendors' own links for "none".
    def __missing__(self, key: str) -> str:
        return "0"


def catalog(*record_types: RecordType) -> dict[str, RecordType]:
    """A vendor's catalog: its record types by name."""
    return {record_type.name: record_type for record_type in record_types}
