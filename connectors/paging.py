"""One change cursor and one paginator for every vendor's list loop.

:class:`Cursor` is what a connector hands the engine to checkpoint after a page: the sweep's
watermark (``since``), the vendor's position inside the sweep (``page``), the newest change the
sweep has seen (``high``, the next ``since`` once it ends) and a page size fixed for the sweep.
It is serialised and parsed here only; a garbled cursor is a :class:`ConfigError` naming the
vendor, never a different failure per vendor.

A :class:`Paginator` knows one way of asking for the next page (the dlt ``rest_client`` idea:
what to send, and what to read from the answer) and refuses a next-page token it has already
followed, so a vendor answering the same token again cannot loop us forever:

- :class:`CursorPaginator`: an opaque token from the answer (Pipedrive v2 ``next_cursor``,
  Asana ``next_page.offset``);
- :class:`OffsetPaginator`: a numeric offset advanced by the items read (Pipedrive v1
  ``start``);
- :class:`PagePaginator`: a page number (Xero ``page``);
- :class:`LinkPaginator`: a next-page address from the answer.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import ConfigError, SchemaChanged

__all__ = [
    "Cursor",
    "CursorPaginator",
    "LinkPaginator",
    "OffsetPaginator",
    "PagePaginator",
    "Paginator",
    "iterate",
]

# Keys of cursors written before there was one format, read as today's fields.
_LEGACY_KEYS = {"newest": "high", "offset": "page"}
_KEYS = ("since", "page", "high", "size")


@dataclass(frozen=True)
class Cursor:
    """Where a connector's sweep of one record type stands; opaque to the engine."""

    since: str | None = None  # the watermark: changes up to here are delivered
    page: str | None = None  # the vendor's position inside the sweep (None: first page)
    high: str | None = None  # the newest change this sweep has seen so far
    size: int | None = None  # a page size kept for the whole sweep

    @classmethod
    def parse(cls, text: str | None, vendor: str) -> Cursor:
        """The cursor ``dump`` wrote (or a bare watermark: a timestamp or a sequence number,
        as early cursors were). Anything else is a :class:`ConfigError`."""
        if not text:
            return cls()
        stripped = text.strip()
        if not stripped.startswith("{"):
            if _bare_watermark(stripped):
                return cls(since=stripped)
            raise _garbled(vendor, text)
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise _garbled(vendor, text) from exc
        if not isinstance(data, dict):
            raise _garbled(vendor, text)
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = _LEGACY_KEYS.get(key, key)
            if name not in _KEYS:
                raise _garbled(vendor, text)
            if value is None:
                continue
            if name == "size":
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise _garbled(vendor, text)
            elif isinstance(value, int | str) and not isinstance(value, bool):
                value = str(value)
            else:
                raise _garbled(vendor, text)
            values[name] = value
        return cls(**values)

    def dump(self) -> str:
        data = {key: getattr(self, key) for key in _KEYS}
        return json.dumps({k: v for k, v in data.items() if v is not None}, separators=(",", ":"))

    def next_page(self, page: str, high: str | None) -> Cursor:
        """The cursor of the sweep's next page: same watermark and size."""
        return Cursor(since=self.since, page=page, high=high, size=self.size)

    def finished(self, high: str | None) -> Cursor:
        """The sweep ended: its newest change is the next sweep's watermark."""
        return Cursor(since=high or self.since)


def _bare_watermark(text: str) -> bool:
    if text.isdigit():
        return True
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _garbled(vendor: str, text: str) -> ConfigError:
    return ConfigError(
        f"{vendor}: unreadable change cursor {text[:80]!r}; reset the flow's checkpoint to "
        "read from the beginning"
    )


# --------------------------------------------------------------------------------------------
# Paginators
# --------------------------------------------------------------------------------------------


class Paginator(ABC):
    """One way of walking a list endpoint. ``position`` is the page being asked for as text
    (None: the first), which a :class:`Cursor` keeps between calls."""

    def __init__(self, where: str, position: str | None = None) -> None:
        self.where = where  # "pipedrive: GET /api/v2/deals", for errors
        self.position = position
        self._followed: set[str] = set()

    def request(self, path: str) -> tuple[str, dict[str, Any]]:
        """The path and query parameters of the current page."""
        return path, self.params()

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The query parameters that ask for the current page."""

    @abstractmethod
    def next_position(self, body: Any, count: int) -> str | None:
        """The next page's position read from ``body`` (holding ``count`` items); None: last."""

    def advance(self, body: Any, count: int) -> bool:
        """Move to the next page; False at the last one. A position already followed means
        the vendor is answering in a circle: :class:`SchemaChanged` rather than a loop."""
        following = self.next_position(body, count)
        if following is None:
            return False
        if following == self.position or following in self._followed:
            raise SchemaChanged(f"{self.where}: the next-page position {following!r} repeats")
        if self.position is not None:
            self._followed.add(self.position)
        self.position = following
        return True


class CursorPaginator(Paginator):
    """An opaque next-page token read from each answer and sent back as ``param``."""

    def __init__(
        self,
        where: str,
        next_token: Callable[[Any], str | None],
        *,
        param: str = "cursor",
        position: str | None = None,
    ) -> None:
        super().__init__(where, position)
        self.param = param
        self._next_token = next_token

    def params(self) -> dict[str, Any]:
        return {self.param: self.position}

    def next_position(self, body: Any, count: int) -> str | None:
        token = self._next_token(body)
        return str(token) if token else None


class OffsetPaginator(Paginator):
    """A numeric offset (``param``) advanced by the items each page held, while ``more`` says
    the collection goes on."""

    def __init__(
        self,
        where: str,
        more: Callable[[Any, int], bool],
        *,
        param: str = "offset",
        position: str | None = None,
    ) -> None:
        super().__init__(where, position)
        self.param = param
        self._more = more

    def params(self) -> dict[str, Any]:
        return {self.param: int(self.position or 0)}

    def next_position(self, body: Any, count: int) -> str | None:
        if count == 0 or not self._more(body, count):
            return None
        return str(int(self.position or 0) + count)


class PagePaginator(Paginator):
    """A page number from ``first``, while ``more`` says there are further pages."""

    def __init__(
        self,
        where: str,
        more: Callable[[Any, int, int], bool],
        *,
        param: str = "page",
        first: int = 1,
        position: str | None = None,
    ) -> None:
        super().__init__(where, position)
        self.param = param
        self.first = first
        self._more = more

    @property
    def number(self) -> int:
        return int(self.position) if self.position is not None else self.first

    def params(self) -> dict[str, Any]:
        return {self.param: self.number}

    def next_position(self, body: Any, count: int) -> str | None:
        return str(self.number + 1) if self._more(body, count, self.number) else None


class LinkPaginator(Paginator):
    """The next page's address, read from each answer, replaces the path."""

    def __init__(
        self, where: str, next_link: Callable[[Any], str | None], *, position: str | None = None
    ) -> None:
        super().__init__(where, position)
        self._next_link = next_link

    def request(self, path: str) -> tuple[str, dict[str, Any]]:
        return (self.position or path), self.params()

    def params(self) -> dict[str, Any]:
        return {}

    def next_position(self, body: Any, count: int) -> str | None:
        return self._next_link(body) or None


def iterate(
    paginator: Paginator,
    path: str,
    fetch: Callable[[str, Mapping[str, Any]], tuple[Any, Sequence[Any]]],
) -> Iterator[Any]:
    """Every item of a list endpoint: ``fetch(path, params)`` returns (body, items) of one
    page; pages follow while the paginator has a next one."""
    while True:
        target, params = paginator.request(path)
        body, items = fetch(target, params)
        yield from items
        if not paginator.advance(body, len(items)):
            return
