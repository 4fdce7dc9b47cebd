"""A poll's summary adds up: per flow, the outcomes sum to the records read."""

from __future__ import annotations

import inspect
import re

from bot.poll_summary import OUTCOME_MEANINGS, poll_line
from sync_core import planner
from tests.unit.engine.support import World, agency_map


def test_each_flow_s_outcomes_add_up_to_the_records_read() -> None:
    world = World(agency_map())
    world.add_deal(42, "Acme Ltd")
    world.add_deal(43, "Beta GmbH", status="open")  # filtered: not won
    first = world.engine.poll_all()[0]
    world.add_deal(44, "Gamma Oy", status="open")
    world.crm.update("deal", "42", {"title": "Website Redesign"})  # read again, same payload
    again = next(p for p in world.engine.poll_all() if p.source == first.source)

    for report in (first, again):
        line = poll_line(report)
        assert line.startswith(f"read {report.records} record(s) from {report.source}")
        flows = re.findall(r"([\w-]+): ((?:[a-z_]+ \d+(?: \+ )?)+)(?: = (\d+))?", line)
        assert len(flows) == len(report.by_flow) >= 2
        for _flow, counts, total in flows:
            summed = sum(int(n) for n in re.findall(r"\d+", counts))
            assert summed == report.records and (not total or int(total) == summed)
    assert "filtered 1 + queued 1 = 2" in poll_line(first)


def test_every_outcome_word_the_planner_documents_is_explained() -> None:
    source = inspect.getsource(planner.PlanOutcome)
    listed = re.findall(r"#\s*([a-z_ |]+)\n", source)
    words = {w.strip() for line in listed for w in line.split("|") if w.strip()}
    assert len(words) >= 10
    assert words <= set(OUTCOME_MEANINGS)
