"""One cursor format and one paginator, with a loop guard, for every vendor's list loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from connectors.base import ConfigError, SchemaChanged
from connectors.paging import (
    Cursor,
    CursorPaginator,
    LinkPaginator,
    OffsetPaginator,
    PagePaginator,
    Paginator,
    iterate,
)


def test_a_cursor_round_trips_through_its_one_text_form() -> None:
    cursor = Cursor(since="2026-01-01T00:00:00Z", page="abc", high="2026-01-02T00:00:00Z", size=50)
    assert Cursor.parse(cursor.dump(), "xero") == cursor
    assert Cursor.parse(None, "xero") == Cursor() == Cursor.parse("", "xero")
    assert cursor.finished(None) == Cursor(since="2026-01-01T00:00:00Z")
    assert cursor.next_page("def", "h").page == "def"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # what the vendors wrote before there was one format
        (
            '{"since": "2026-01-01", "page": "tok", "newest": "2026-01-03"}',
            Cursor("2026-01-01", "tok", "2026-01-03"),
        ),
        ('{"since": null, "offset": "eyJ0", "high": null}', Cursor(page="eyJ0")),
        (
            '{"since": "x", "page": 3, "size": 100, "high": null}',
            Cursor(since="x", page="3", size=100),
        ),
        ("2026-01-01T10:00:00+00:00", Cursor(since="2026-01-01T10:00:00+00:00")),
        ("42", Cursor(since="42")),
    ],
)
def test_cursors_written_before_the_one_format_still_read(text: str, expected: Cursor) -> None:
    assert Cursor.parse(text, "any") == expected


@pytest.mark.parametrize(
    "text",
    ["{not json", "[1, 2]", '{"sinse": "x"}', '{"size": "ten"}', "yesterday", '{"page": []}'],
)
def test_a_garbled_cursor_is_one_clear_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^asana: unreadable change cursor"):
        Cursor.parse(text, "asana")


class Endpoint:
    """A list endpoint over ``items``, answering pages the way each flavour expects."""

    def __init__(self, items: list[int], size: int) -> None:
        self.items = items
        self.size = size
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def by_offset(self, path: str, params: Mapping[str, Any]) -> tuple[Any, list[int]]:
        self.calls.append((path, dict(params)))
        start = int(params.get("offset") or params.get("cursor") or 0)
        chunk = self.items[start : start + self.size]
        following = start + len(chunk)
        more = following < len(self.items)
        body = {"next": str(following) if more else None, "more": more}
        return body, chunk

    def by_page(self, path: str, params: Mapping[str, Any]) -> tuple[Any, list[int]]:
        self.calls.append((path, dict(params)))
        page = int(params["page"])
        return {}, self.items[(page - 1) * self.size : page * self.size]

    def by_link(self, path: str, params: Mapping[str, Any]) -> tuple[Any, list[int]]:
        self.calls.append((path, dict(params)))
        start = int(path.rpartition("/")[2] or 0) if path != "/things" else 0
        chunk = self.items[start : start + self.size]
        following = start + len(chunk)
        return {"next": f"/things/{following}" if following < len(self.items) else None}, chunk


ITEMS = list(range(7))


def test_the_cursor_flavour_follows_tokens_to_the_end() -> None:
    endpoint = Endpoint(ITEMS, 3)
    pager = CursorPaginator("v: GET /things", lambda body: body["next"])
    assert list(iterate(pager, "/things", endpoint.by_offset)) == ITEMS
    assert [call[1]["cursor"] for call in endpoint.calls] == [None, "3", "6"]


def test_the_offset_flavour_counts_items_and_stops_on_an_empty_page() -> None:
    endpoint = Endpoint(ITEMS, 3)
    pager = OffsetPaginator("v: GET /things", lambda body, count: body["more"])
    assert list(iterate(pager, "/things", endpoint.by_offset)) == ITEMS
    always_more = OffsetPaginator("v: GET /things", lambda body, count: True)
    assert list(iterate(always_more, "/things", Endpoint(ITEMS, 3).by_offset)) == ITEMS


def test_the_page_flavour_numbers_pages_from_one() -> None:
    endpoint = Endpoint(ITEMS, 3)
    pager = PagePaginator("v: GET /things", lambda body, count, page: count >= 3)
    assert list(iterate(pager, "/things", endpoint.by_page)) == ITEMS
    assert [call[1]["page"] for call in endpoint.calls] == [1, 2, 3]


def test_the_link_flavour_follows_the_address_it_is_given() -> None:
    endpoint = Endpoint(ITEMS, 3)
    pager = LinkPaginator("v: GET /things", lambda body: body["next"])
    assert list(iterate(pager, "/things", endpoint.by_link)) == ITEMS
    assert [call[0] for call in endpoint.calls] == ["/things", "/things/3", "/things/6"]


def test_a_paginator_resumes_from_a_cursor_position() -> None:
    endpoint = Endpoint(ITEMS, 3)
    pager = CursorPaginator("v: GET /things", lambda body: body["next"], position="3")
    assert list(iterate(pager, "/things", endpoint.by_offset)) == [3, 4, 5, 6]


@pytest.mark.parametrize(
    "pager",
    [
        CursorPaginator("v: GET /things", lambda body: "same"),
        LinkPaginator("v: GET /things", lambda body: "/things?page=same"),
    ],
)
def test_a_repeated_next_page_token_is_refused_instead_of_looping(pager: Paginator) -> None:
    calls = 0

    def fetch(path: str, params: Mapping[str, Any]) -> tuple[Any, list[int]]:
        nonlocal calls
        calls += 1
        assert calls < 10, "looped"
        return {}, [calls]

    with pytest.raises(SchemaChanged, match="repeats"):
        list(iterate(pager, "/things", fetch))
    assert calls == 2


def test_a_token_cycle_is_refused_too() -> None:
    tokens = iter(["a", "b", "a"])
    pager = CursorPaginator("v: GET /things", lambda body: next(tokens))
    with pytest.raises(SchemaChanged, match="'a' repeats"):
        list(iterate(pager, "/things", lambda path, params: ({}, [1])))
