"""Discovery: what each configured system holds, read from the systems themselves (read only).

For every record type of every system: how many records it holds, its fields (declared and
custom, with a type and a few sample values, personal data masked), how many records already
carry a canonical ID, and when its first record was created. Across systems: the records that
look like the same customer, scored by the matching engine.

The declarations of the record types come from the wiring (``catalogs``), so this module knows
no vendor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from typing import Any, Protocol

from connectors.base import Connector, ConnectorError, Record
from sync_core.identity import id_field_value
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.matching.clusters import Thresholds, propose
from sync_core.matching.keys import EMAIL, NAME, MatchRecord, match_record
from sync_core.matching.reading import to_match_record

SAMPLES = 3
MAX_RECORDS = 5_000  # per record type: enough to describe it, bounded on a large account
TWINS_PER_PAIR = 5
# Likely twins: looser than a map's defaults, since a person reads them before anything links.
TWIN_THRESHOLDS = Thresholds(auto_accept=0.95, review=0.7)

EMAIL_VALUE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_VALUE = re.compile(r"^\+?[\d\s().-]{7,}$")
# A bare run of digits is an id more often than a phone number: masked only in such fields.
PHONE_FIELD = re.compile(r"(phone|mobile|fax|tel)", re.I)
ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)
# Field names that hold a person's name (the value is masked to initials).
# Mailchimp's standard merge tags FNAME and LNAME and its ``full_name`` are persons' names too.
PERSON_FIELD = re.compile(
    r"(person|owner|first_?name|last_?name|full_?name|given_?name|family_?name|surname"
    r"|^[fl]name$|assignee|contact_?name)",
    re.I,
)
# Field names that say when a record was created (``add_time``, ``created_at``, ...).
CREATED_FIELD = re.compile(r"(^|_)(add|created?)(_|$)|^Created", re.I)


class Declaration(Protocol):
    """What discovery reads of a connector's declaration of one record type."""

    @property
    def fields(self) -> frozenset[str]: ...
    @property
    def writable(self) -> frozenset[str]: ...
    @property
    def id_field(self) -> str: ...
    @property
    def display_field(self) -> str: ...
    @property
    def supports_custom_fields(self) -> bool: ...


@dataclass(frozen=True)
class FieldFound:
    """One field of a record type: declared by the connector, or a custom field found live."""

    name: str
    type: str  # text, number, boolean, date, list, object, or empty when never filled
    filled: int  # records with a value
    samples: tuple[str, ...] = ()  # masked when personal
    custom: bool = False
    readable: bool = True
    writable: bool = False


@dataclass
class RecordTypeFound:
    system: str
    record_type: str
    count: int = 0
    complete: bool = True  # False when more than MAX_RECORDS were there
    fields: list[FieldFound] = field(default_factory=list)
    # canonical ID field (from the map) -> records carrying one
    carrying_canonical_id: dict[str, int] = field(default_factory=dict)
    first_created: datetime | None = None
    error: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.system}.{self.record_type}"


@dataclass(frozen=True)
class Twin:
    """Two records in two systems that look like the same customer."""

    left: str  # system.record_type
    left_id: str
    left_name: str | None
    right: str
    right_id: str
    right_name: str | None
    score: float
    reasons: tuple[str, ...]


@dataclass
class Discovery:
    record_types: list[RecordTypeFound] = field(default_factory=list)
    twins: list[Twin] = field(default_factory=list)

    def found(self, ref: str) -> RecordTypeFound | None:
        return next((r for r in self.record_types if r.ref == ref), None)


def discover(
    integration_map: IntegrationMap,
    connectors: Mapping[str, Connector],
    catalogs: Mapping[str, Mapping[str, Declaration]],
    *,
    max_records: int = MAX_RECORDS,
    progress: Callable[[str, int], None] | None = None,
) -> Discovery:
    """Read every record type of every system in ``connectors`` (``catalogs``: system → its
    declared record types) and describe them; reads only. A record type that cannot be read
    is reported with its error, and the others are still read."""
    result = Discovery()
    read: dict[str, list[Record]] = {}
    for system in sorted(connectors):
        connector = connectors[system]
        declared = catalogs.get(system, {})
        for record_type in sorted(declared):
            found = RecordTypeFound(system, record_type)
            result.record_types.append(found)
            tick = (lambda n, ref=found.ref: progress(ref, n)) if progress else None
            try:
                records = _read(connector, record_type, max_records, tick)
            except ConnectorError as exc:
                found.error = str(exc)
                continue
            read[found.ref] = records
            found.count = len(records)
            found.complete = len(records) < max_records
            found.fields = describe_fields(declared[record_type], records, record_type)
            found.first_created = first_created(records)
            found.carrying_canonical_id = _carrying(integration_map, system, record_type, records)
    result.twins = entity_twins(integration_map, read) + likely_twins(read, catalogs)
    seen: set[tuple[str, str, str, str]] = set()
    unique: list[Twin] = []
    for twin in result.twins:
        key = (twin.left, twin.left_id, twin.right, twin.right_id)
        if key not in seen and (twin.right, twin.right_id, twin.left, twin.left_id) not in seen:
            seen.add(key)
            unique.append(twin)
    result.twins = unique
    return result


def _read(
    connector: Connector, record_type: str, limit: int, progress: Callable[[int], None] | None
) -> list[Record]:
    records: list[Record] = []
    cursor: str | None = None
    while len(records) < limit:
        page = connector.list_changed(record_type, cursor, limit=min(100, limit - len(records)))
        records.extend(page.records)
        if progress is not None:
            progress(len(page.records))
        if not page.has_more or page.cursor == cursor:
            break
        cursor = page.cursor
    return records[:limit]


# ---- fields ---------------------------------------------------------------------------------


def describe_fields(
    declaration: Declaration, records: Sequence[Record], record_type: str = ""
) -> list[FieldFound]:
    """The declared fields (read and write-only) and the custom ones the records carry, each
    with its type, how often it is filled and a few masked samples; declared fields first.
    The display name of a record type of persons is a person's name, masked too."""
    declared = declaration.fields | declaration.writable
    person_name = declaration.display_field if PERSON_FIELD.search(record_type) else None
    custom = sorted({name for r in records for name in r.fields} - declared, key=str.casefold)
    out: list[FieldFound] = []
    for name in sorted(declared, key=str.casefold) + custom:
        values = [r.fields.get(name) for r in records if not _empty(r.fields.get(name))]
        samples: list[str] = []
        for value in values:
            shown = mask("person_name" if name == person_name else name, value)
            if shown not in samples:
                samples.append(shown)
            if len(samples) == SAMPLES:
                break
        is_custom = name not in declared
        out.append(
            FieldFound(
                name=name,
                type=value_type(values),
                filled=len(values),
                samples=tuple(samples),
                custom=is_custom,
                readable=is_custom or name in declaration.fields,
                writable=is_custom or name in declaration.writable,
            )
        )
    return out


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def value_type(values: Sequence[Any]) -> str:
    """The type most values have: ``text``, ``number``, ``boolean``, ``date``, ``list``,
    ``object``; ``empty`` when no record fills the field."""
    kinds: dict[str, int] = {}
    for value in values:
        kind = _kind(value)
        kinds[kind] = kinds.get(kind, 0) + 1
    if not kinds:
        return "empty"
    return max(sorted(kinds), key=lambda k: kinds[k])


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, datetime) or (isinstance(value, str) and ISO_DATE.match(value)):
        return "date"
    return "text"


def mask(field_name: str, value: Any) -> str:
    """A sample value as discovery shows it: emails, phone numbers and persons' names masked
    (``j***@acme.example``, ``***89``, ``J. S.``), other values cut to 60 characters."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(mask(field_name, v) for v in list(value)[:3]) + "]"
    if isinstance(value, Mapping):
        label = value.get("Name") or value.get("name")
        return "{…}" if label is None else f"{{{mask(field_name, label)}}}"
    text = str(value).strip()
    if EMAIL_VALUE.match(text):
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    phone_like = text.startswith("+") or PHONE_FIELD.search(field_name)
    if phone_like and PHONE_VALUE.match(text) and sum(c.isdigit() for c in text) >= 7:
        digits = [c for c in text if c.isdigit()]
        return "***" + "".join(digits[-2:])
    if PERSON_FIELD.search(field_name) and not isinstance(value, int | float | bool):
        return " ".join(f"{word[0].upper()}." for word in text.split() if word) or "***"
    return text if len(text) <= 60 else text[:59] + "…"


# ---- creation dates and canonical IDs -------------------------------------------------------


def first_created(records: Sequence[Record]) -> datetime | None:
    """When the oldest record was created: from a creation-date field when the records have
    one, else the oldest last change (an upper bound)."""
    dates: list[datetime] = []
    for record in records:
        created = next(
            (
                _as_datetime(v)
                for k, v in record.fields.items()
                if CREATED_FIELD.search(k) and _as_datetime(v) is not None
            ),
            None,
        )
        when = created or record.updated_at
        if when is not None:
            dates.append(when if when.tzinfo else when.replace(tzinfo=UTC))
    return min(dates) if dates else None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value.strip()):
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _carrying(
    integration_map: IntegrationMap, system: str, record_type: str, records: Sequence[Record]
) -> dict[str, int]:
    ref = RecordRef(system=system, record_type=record_type)
    carrying: dict[str, int] = {}
    for entity in integration_map.entities.values():
        id_field = entity.id_field_for(ref)
        if id_field:
            carrying[str(id_field)] = sum(
                1 for r in records if id_field_value(r, id_field) is not None
            )
    return carrying


# ---- likely twins ---------------------------------------------------------------------------


def likely_twins(
    read: Mapping[str, Sequence[Record]], catalogs: Mapping[str, Mapping[str, Declaration]]
) -> list[Twin]:
    """Records of two systems that look like one customer: compared on their display name and
    the first email each carries, with the matching engine's blocking and scores."""
    reduced = {
        ref: [_match_record(ref, r, catalogs) for r in records] for ref, records in read.items()
    }
    twins: list[Twin] = []
    for left, right in combinations(sorted(reduced), 2):
        if left.split(".")[0] == right.split(".")[0]:
            continue  # twins live in two systems
        proposals = propose(reduced[left], reduced[right], TWIN_THRESHOLDS)
        for candidate in proposals[:TWINS_PER_PAIR]:
            twins.append(
                _twin(
                    left,
                    right,
                    candidate.source,
                    candidate.copy,
                    candidate.score.value,
                    candidate.score.reasons,
                )
            )
    twins.sort(key=lambda t: (-t.score, t.left, t.right, t.left_id))
    return twins


def entity_twins(
    integration_map: IntegrationMap, read: Mapping[str, Sequence[Record]]
) -> list[Twin]:
    """For each entity of the map with copies: its minting records against each copy's, on
    the keys its ``match:`` section names (what ``handoff match`` would propose, unstored)."""
    twins: list[Twin] = []
    for name, entity in sorted(integration_map.entities.items()):
        minted_by = entity.canonical_id.minted_by
        if str(minted_by) not in read:
            continue
        thresholds = Thresholds(entity.match.auto_accept, entity.match.review)
        keys = tuple(entity.match.keys) or None
        if keys is not None and NAME not in keys:
            keys = (*keys, NAME)
        left = [to_match_record(integration_map, name, minted_by, r) for r in read[str(minted_by)]]
        for ref in entity.copy_refs():
            if str(ref) not in read:
                continue
            right = [to_match_record(integration_map, name, ref, r) for r in read[str(ref)]]
            for candidate in propose(left, right, thresholds, keys):
                twins.append(
                    _twin(
                        str(minted_by),
                        str(ref),
                        candidate.source,
                        candidate.copy,
                        candidate.score.value,
                        candidate.score.reasons,
                    )
                )
    return twins


def _twin(
    left: str,
    right: str,
    a: MatchRecord,
    b: MatchRecord,
    score: float,
    reasons: tuple[str, ...],
) -> Twin:
    return Twin(
        left,
        a.external_id,
        _shown_name(left, a.display_name),
        right,
        b.external_id,
        _shown_name(right, b.display_name),
        score,
        reasons,
    )


def _shown_name(ref: str, name: str | None) -> str | None:
    """A twin's name as shown: a person's, or an email shown as a name (an audience member),
    masked like any personal sample."""
    if name is not None and EMAIL_VALUE.match(name.strip()):
        return mask("email", name)
    if name is None or not PERSON_FIELD.search(ref.split(".")[1]):
        return name
    return mask("person_name", name)


def _match_record(
    ref: str, record: Record, catalogs: Mapping[str, Mapping[str, Declaration]]
) -> MatchRecord:
    system, record_type = ref.split(".")
    declaration = catalogs.get(system, {}).get(record_type)
    name = record.display_name
    if name is None and declaration is not None:
        name = _text(record.fields.get(declaration.display_field))
    email = next(
        (
            v.strip()
            for v in record.fields.values()
            if isinstance(v, str) and EMAIL_VALUE.match(v.strip())
        ),
        None,
    )
    values = {NAME: name, EMAIL: email}
    return match_record(system, record_type, record.external_id, name, values)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
