"""The map's ``retention:`` section: defaults on, durations of a day or more, ``off`` anywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_core.map.loader import MapError, load_map_text
from tests.unit.map.maps import GOOD_MAP, line_of


def with_retention(block: str) -> str:
    return GOOD_MAP + block


def test_history_is_kept_ninety_days_and_http_exchanges_fourteen_by_default() -> None:
    retention = load_map_text(GOOD_MAP, "map.yaml").require_valid().retention
    assert (retention.events, retention.http_log) == (timedelta(days=90), timedelta(days=14))


@pytest.mark.parametrize(
    ("block", "events", "http_log"),
    [
        ("retention: off\n", None, None),
        ("retention:\n  events: 365d\n", timedelta(days=365), timedelta(days=14)),
        ("retention:\n  events: off\n  http_log: 3d\n", None, timedelta(days=3)),
    ],
)
def test_retention_is_overridable_and_off_able(
    block: str, events: timedelta | None, http_log: timedelta | None
) -> None:
    retention = load_map_text(with_retention(block), "map.yaml").require_valid().retention
    assert (retention.events, retention.http_log) == (events, http_log)


def test_a_retention_under_a_day_is_refused_where_it_is_written() -> None:
    text = with_retention("retention:\n  events: 6h\n")
    with pytest.raises(MapError) as caught:
        load_map_text(text, "map.yaml").require_valid()
    (problem,) = caught.value.problems
    assert (problem.rule, problem.line) == ("invalid-value", line_of(text, "events: 6h"))
    assert "a day or more" in problem.message
