"""What a record is compared on: its keys, normalised once when the record is read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_core.matching import normalise
from sync_core.matching.normalise import Name

# Key kinds the scorer knows; any other key name is compared as a plain mapped field.
NAME, EMAIL, DOMAIN, WEBSITE, PHONE, TAX, TITLE = (
    "name",
    "email",
    "email_domain",
    "website",
    "phone",
    "tax_number",
    "title",
)


@dataclass(frozen=True)
class MatchRecord:
    """One record of an entity in one system, reduced to what matching needs."""

    system: str
    record_type: str
    external_id: str
    display_name: str | None
    name: Name | None = None
    keys: Mapping[str, str] = field(default_factory=dict)  # normalised, non-empty values
    raw: Mapping[str, Any] = field(default_factory=dict)  # the mapped values, for review
    url: str | None = None  # its address in the vendor's app

    @property
    def ref(self) -> str:
        return f"{self.system}.{self.record_type}"


def normalise_keys(values: Mapping[str, Any]) -> tuple[Name | None, dict[str, str]]:
    """The business name and the other keys of one record, from its mapped values
    (``{"name": "Acme Ltd", "email": "Jane@Acme.com"}``); the email domain is derived."""
    keys: dict[str, str] = {}
    name = normalise.business_name(_text(values.get(NAME)))
    for key, value in values.items():
        text = _text(value)
        if key == NAME or text is None:
            continue
        normalised: str | None
        if key == EMAIL:
            normalised = normalise.email(text)
        elif key == WEBSITE:
            normalised = normalise.website_domain(text)
        elif key == PHONE:
            normalised = normalise.phone(text)
        elif key == TAX:
            normalised = normalise.tax_number(text)
        elif key == DOMAIN:
            normalised = normalise.website_domain(text)
        elif key == TITLE:
            normalised = normalise.title(text)
        else:
            normalised = normalise.plain(text)
        if normalised:
            keys[key] = normalised
    if EMAIL in keys and DOMAIN not in keys:
        domain = normalise.email_domain(keys[EMAIL])
        if domain:
            keys[DOMAIN] = domain
    return name, keys


def match_record(
    system: str,
    record_type: str,
    external_id: str,
    display_name: str | None,
    values: Mapping[str, Any],
) -> MatchRecord:
    name, keys = normalise_keys(values)
    return MatchRecord(system, record_type, external_id, display_name, name, keys, raw(values))


def raw(values: Mapping[str, Any]) -> dict[str, Any]:
    """The mapped values a record shows for review: those not empty."""
    return {k: v for k, v in values.items() if _text(v) is not None}


def dump_normalised(record: MatchRecord) -> dict[str, Any]:
    """The record's normalised name and keys as JSON, kept so reading it back from the store
    does not normalise again (most of the time of a large read-back when it did)."""
    name = record.name
    return {
        "name": None
        if name is None
        else {"key": name.key, "tokens": list(name.tokens), "removed": name.removed},
        "keys": dict(record.keys),
    }


def load_normalised(data: Mapping[str, Any]) -> tuple[Name | None, dict[str, str]]:
    """The name and keys :func:`dump_normalised` kept."""
    name = data.get("name")
    found = (
        None
        if name is None
        else Name(key=name["key"], tokens=tuple(name["tokens"]), removed=name["removed"])
    )
    return found, dict(data.get("keys") or {})


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
