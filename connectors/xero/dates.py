"""Xero's JSON dates: ``/Date(1503348544227+0000)/`` (milliseconds since the epoch, UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_xero_date(value: object) -> datetime | None:
    """An aware UTC datetime from ``/Date(ms[+hhmm])/`` or an ISO string; ``None`` otherwise.

    The offset Xero appends is informational: the milliseconds are already UTC.
    """
    if not isinstance(value, str) or not value:
        return None
    match = _MS_DATE.match(value)
    if match:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_xero_date(when: datetime) -> str:
    """``when`` as Xero writes it in JSON bodies."""
    millis = int(when.astimezone(UTC).timestamp() * 1000)
    return f"/Date({millis}+0000)/"


def iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None
