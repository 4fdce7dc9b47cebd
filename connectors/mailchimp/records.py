"""Mailchimp record types as declarations, and the mapping between API members and flat fields.

A member's merge fields appear under their tags (``FNAME``, ``HANDOFF``), next to the catalog's
names; its tags appear as a list of names. The subscriber hash (MD5 of the lower-cased email) is
the member's address in every path and its ``id``: it changes when the email changes, so it is
never the identity Handoff matches on (the canonical ID in a merge field is).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import ConfigError, IdField, IdFieldKind, Record
from connectors.record_types import RecordType, catalog

# Merge tags are upper-case letters, digits and underscores (Mailchimp's merge-field docs).
TAG_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Statuses the members endpoints accept on a write (PUT ``status_if_new`` / ``status``).
WRITE_STATUSES = frozenset({"subscribed", "unsubscribed", "cleaned", "pending", "transactional"})
DEFAULT_STATUS = "subscribed"

# Merge fields are Mailchimp's custom fields, named by their tags (FNAME, HANDOFF...). A
# member's and an audience's web pages are addressed by their ``web_id`` ("the ID used in the
# Mailchimp web application"), not their API id.
RECORD_TYPES: dict[str, RecordType] = catalog(
    RecordType.declare(
        "member",
        "id email_address unique_email_id contact_id full_name web_id status tags"
        " last_changed timestamp_opt list_id",
        id_field="id",
        display_field="email_address",
        writable="email_address status tags",
        custom=True,
        suggested_id_field="merge_field:HANDOFF",
        path="/lists/{list_id}/members",  # ``{list_id}``: the connector's audience
        body_key="members",
        required=("id", "email_address", "status"),
        deep_link="/lists/members/view?id={web_id}",
        link_fields=("web_id",),
    ),
    RecordType.declare(
        "audience",
        "id web_id name date_created member_count",
        id_field="id",
        display_field="name",
        path="/lists",
        body_key="lists",
        required=("id", "name"),
        deep_link="/lists/members?id={web_id}",
        link_fields=("web_id",),
    ),
)


def record_type(name: str) -> RecordType:
    spec = RECORD_TYPES.get(name)
    if spec is None:
        raise ConfigError(
            f"mailchimp has no record type {name!r}; known: {', '.join(sorted(RECORD_TYPES))}"
        )
    return spec


def subscriber_hash(email: str) -> str:
    """The member's address in Mailchimp paths: MD5 of the lower-cased email."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def merge_tag(id_field: IdField | None) -> str:
    """``merge_field:HANDOFF`` → ``HANDOFF``; any other kind is a mistake in the map."""
    merge = id_field is not None and id_field.kind is IdFieldKind.MERGE_FIELD
    tag = id_field.name if merge and id_field is not None else ""
    if not TAG_PATTERN.match(tag):
        raise ConfigError(
            "mailchimp keeps canonical IDs in a merge field: id_field must be "
            f"'merge_field:<TAG>' with an upper-case tag (A-Z, 0-9, _), not {str(id_field)!r}"
        )
    return tag


def parse_time(value: Any) -> datetime | None:
    """Mailchimp times are ISO 8601 with an offset (``2015-10-21T15:41:36+00:00``)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def require(spec: RecordType, item: Any, where: str) -> Mapping[str, Any]:
    return spec.require("mailchimp", item, where)


def flatten_member(item: Mapping[str, Any]) -> dict[str, Any]:
    """Catalog names first; merge fields under their tags (never shadowing a catalog name)."""
    known = RECORD_TYPES["member"].fields
    flat: dict[str, Any] = {k: item.get(k) for k in known if k != "tags"}
    flat["tags"] = sorted(
        str(tag["name"]) for tag in item.get("tags") or [] if isinstance(tag, Mapping)
    )
    for tag, value in (item.get("merge_fields") or {}).items():
        if tag not in known:
            flat[str(tag)] = value
    return flat


def flatten_audience(item: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: item.get(k) for k in RECORD_TYPES["audience"].fields}
    stats = item.get("stats")
    if isinstance(stats, Mapping):
        flat["member_count"] = stats.get("member_count")
    return flat


@dataclass(frozen=True)
class MemberWrite:
    """What a map's fields ask of one member: the body of its PUT/PATCH, and tag changes."""

    email: str | None
    body: dict[str, Any]
    tags: dict[str, bool]  # name -> active

    def tag_body(self) -> dict[str, Any] | None:
        if not self.tags:
            return None
        return {
            "tags": [
                {"name": name, "status": "active" if on else "inactive"}
                for name, on in sorted(self.tags.items())
            ]
        }


def member_write(fields: Mapping[str, Any]) -> MemberWrite:
    """Split flat fields into the member body and the tag changes.

    ``tags`` is a list of names (made active), a mapping name → bool, or a string of
    comma-separated names where ``-name`` makes a tag inactive. Any non-catalog field is a
    merge field named by its tag.
    """
    spec = RECORD_TYPES["member"]
    read_only = sorted(k for k in fields if k in spec.fields and k not in spec.writable)
    if read_only:
        raise ConfigError(
            f"mailchimp member: {', '.join(read_only)} cannot be written; writable: "
            f"{', '.join(sorted(spec.writable))} or a merge field tag"
        )
    body: dict[str, Any] = {}
    email = fields.get("email_address")
    if email:
        body["email_address"] = str(email).strip()
    if fields.get("status"):
        status = str(fields["status"])
        if status not in WRITE_STATUSES:
            raise ConfigError(
                f"mailchimp member: status {status!r} is not one of "
                f"{', '.join(sorted(WRITE_STATUSES))}"
            )
        body["status"] = status
    merge = {k: ("" if v is None else v) for k, v in fields.items() if k not in spec.fields}
    for tag in merge:
        if not TAG_PATTERN.match(tag):
            raise ConfigError(f"mailchimp member: {tag!r} is not a merge tag (A-Z, 0-9, _)")
    if merge:
        body["merge_fields"] = merge
    return MemberWrite(str(email).strip() if email else None, body, parse_tags(fields.get("tags")))


def parse_tags(value: Any) -> dict[str, bool]:
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {str(k).strip(): bool(v) for k, v in value.items() if str(k).strip()}
    names = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    tags: dict[str, bool] = {}
    for raw in names:
        name = raw.strip()
        if name.startswith("-") and name[1:].strip():
            tags[name[1:].strip()] = False
        elif name:
            tags[name] = True
    return tags


def with_tags(record: Record, write: MemberWrite) -> Record:
    """The record as it is after its tag changes (the tags call answers 204, no body)."""
    tags = set(record.fields.get("tags") or [])
    tags |= {name for name, on in write.tags.items() if on}
    tags -= {name for name, on in write.tags.items() if not on}
    return Record(
        record.record_type,
        record.external_id,
        {**record.fields, "tags": sorted(tags)},
        record.updated_at,
        record.url,
        record.display_name,
    )
