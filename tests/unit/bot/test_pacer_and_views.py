"""Pure pieces: the per-channel pacer on a frozen clock, and Block Kit limits."""

from __future__ import annotations

from bot.handlers.audit import parse_audit
from bot.slack.pacer import ChannelPacer
from bot.views.blocks import MESSAGE_BLOCKS, SECTION_LIMIT, escape, message, section
from bot.views.customer import decode_query, encode_query
from connectors.clock import FrozenClock
from tests.unit.engine.support import agency_map


def test_the_pacer_spaces_posts_one_second_apart_per_channel() -> None:
    clock = FrozenClock()
    pacer = ChannelPacer(clock)

    waits = [pacer.wait("#alerts") for _ in range(3)]
    other = pacer.wait("#other")

    assert waits == [0, 1.0, 1.0] and other == 0
    clock.advance(5)
    assert pacer.wait("#alerts") == 0


def test_messages_stay_within_slack_limits() -> None:
    long = section("x" * 5000)
    built = message("t", [section(str(i)) for i in range(80)])

    assert len(long["text"]["text"]) == SECTION_LIMIT
    assert len(built["blocks"]) == MESSAGE_BLOCKS
    assert "31 more" in built["blocks"][-1]["elements"][0]["text"]
    assert escape("R&D <UK>") == "R&amp;D &lt;UK&gt;"


def test_audit_words_become_filters_and_round_trip_through_a_button() -> None:
    q = parse_audit(agency_map(), "acme ltd xero dead 7d")

    assert (q.query, q.system, q.status) == ("acme ltd", "xero", "dead")
    assert q.since is not None and q.since.days == 7
    assert decode_query(encode_query(q)) == q


def test_phase_line_says_how_the_parallel_period_compares() -> None:
    from bot.views.rollout import phase_line
    from sync_core.rollout import PhaseStatus

    status = PhaseStatus(
        id=3,
        name="Invoice status back to sales",
        state="parallel",
        flows=["f"],
        parallel_days=3,
        days_in_parallel=1,
        failures_7d=0,
        manual_step=None,
        since=None,
        comparison={"match": 12, "differs": 3, "missing": 1},
    )
    line = phase_line(status)
    assert "day 1 of 3 in parallel" in line
    assert "compared with the manual process: 12 match · 3 differ · 1 missing" in line
