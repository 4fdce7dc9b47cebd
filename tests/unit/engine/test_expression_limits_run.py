"""At run time an expression over the size or step limit fails its record as a dead mapping
event, like any failing mapping: never a MemoryError, a crash of the sync or a hang."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from sync_core.store.models import EventStatus
from tests.unit.engine.support import TO_ASANA, TO_XERO, World, agency_map


def _xero_name(template: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        flow = next(f for f in data["flows"] if f["name"] == TO_XERO)
        flow["fields"]["Name"] = template

    return edit


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ org_name * 100000000 }}", "limit is 100,000"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
            "{{ org_name }}",
            "100,000 steps",
        ),
    ],
)
def test_an_expression_over_a_limit_is_a_dead_mapping_event(template: str, says: str) -> None:
    world = World(agency_map(edit=_xero_name(template)))
    world.add_deal(100, "Acme Ltd")

    started = time.monotonic()
    report = world.poll_deals()
    assert time.monotonic() - started < 10.0

    assert report.error is None and report.dead == 1
    (event,) = world.events(TO_XERO)
    assert event.status == EventStatus.DEAD.value
    assert event.last_error_kind == "mapping"
    assert says in (event.last_error_message or "")
    assert len(world.events(TO_ASANA)) == 1  # the other flow planned as usual
