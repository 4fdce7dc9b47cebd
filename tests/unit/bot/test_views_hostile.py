"""The Slack views with hostile data and the small truths: clipping keeps links whole,
button values fit, an alert shows all its records and its latest reason, a pick list says
how many match, and the map's alert operators are checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bot.console.text import plain as console_text
from bot.handlers.alerts import AlertView
from bot.handlers.audit import AuditView
from bot.handlers.results import Notice
from bot.handlers.where import WhereView
from bot.views.alert import alert_message
from bot.views.blocks import BUTTON_VALUE, button, clip, escape, unescape
from bot.views.customer import audit_message, where_message
from bot.views.render import to_message
from sync_core.alert_detail import AlertDetail
from sync_core.map.model import AlertSettings
from sync_core.operations import may_operate
from sync_core.queries import AuditQuery, CustomerView, EventSummary
from tests.unit.engine.support import agency_map

HOSTILE = "<!channel> <https://evil.example|click>"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(i: int, message: str, minutes: int, canonical: str = "") -> EventSummary:
    return EventSummary(
        id=i,
        flow="won-deal-to-xero-contact",
        canonical_id=canonical or f"PD-{i}",
        source="pipedrive.deal",
        target="xero.contact",
        status="dead",
        mode="live",
        attempts=4,
        at=T0 + timedelta(minutes=minutes),
        next_attempt_at=None,
        error_kind="permanent",
        error_message=message,
        payload={},
    )


def detail(events: list[EventSummary], *, grouped: bool, summary: str = "") -> AlertDetail:
    latest = max(events, key=lambda e: (e.at, e.id))
    return AlertDetail(
        id=7,
        state="open",
        grouped=grouped,
        count=len(events),
        group_key="xero:permanent",
        summary=summary or "failures",
        channel="C1",
        message_ts="1.1",
        acknowledged_by=None,
        created_at=T0,
        escalated_at=None,
        resolved_at=None,
        target_system="xero",
        error_kind="permanent",
        events=events,
        event_count=len(events),
        latest=latest,
    )


def everything(message: dict[str, Any]) -> str:
    return str(message)


def test_an_alert_with_hostile_data_is_inert_everywhere() -> None:
    hostile = [event(1, f"name {HOSTILE} refused", 0, canonical=HOSTILE)]
    for grouped in (False, True):
        built = alert_message(AlertView(detail(hostile, grouped=grouped, summary=HOSTILE)))
        assert "<!channel>" not in everything(built)
        assert "<https://evil" not in everything(built)
        assert built["text"].endswith(escape(HOSTILE))


def test_notices_and_where_answers_escape_what_they_repeat() -> None:
    notice = to_message(Notice(f"no flow {HOSTILE}", ok=False))
    assert "<!channel>" not in everything(notice)
    nothing = where_message(WhereView(query=HOSTILE, matches=[], suggestions=[HOSTILE]))
    assert "<!channel>" not in everything(nothing)


def test_a_two_event_alert_shows_both_records_and_the_latest_reason() -> None:
    two = [event(1, "old reason", 0), event(2, "new reason", 5)]

    single = everything(alert_message(AlertView(detail(two, grouped=False))))
    grouped = alert_message(AlertView(detail(two, grouped=True)))

    assert "PD-1" in single and "PD-2" in single
    assert "new reason" in single and "old reason" not in single
    latest = [b for b in grouped["blocks"] if "Latest reason" in str(b)]
    assert "new reason" in str(latest) and "old reason" not in str(latest)


def customer(i: int) -> CustomerView:
    return CustomerView(f"PD-{i}", "customer", f"Acme {i}", [], [], [])


def test_a_pick_list_says_how_many_match_in_all() -> None:
    view = WhereView(query="acme", matches=[customer(i) for i in range(8)], total=300)

    built = where_message(view)

    assert "8 of 300 customers match" in built["text"]
    assert "8 of 300 customers match" in str(built["blocks"][0])


def test_a_pick_list_whose_count_stopped_says_at_least() -> None:
    view = WhereView(query="acme", matches=[customer(i) for i in range(8)], total=1000, more=True)

    assert "8 of 1,000+ customers match" in where_message(view)["text"]


def test_clipping_never_cuts_a_link_or_an_entity_in_half() -> None:
    link = "<https://example.com/a/very/long/path|Acme>"
    for cut in range(10, 60):
        text = "x" * cut + link + " R&amp;D"
        for limit in range(5, len(text)):
            clipped = clip(text, limit)
            assert len(clipped) <= limit
            assert clipped.count("<") == clipped.count(">")
            body = clipped.removesuffix("…")
            assert not body.endswith(("&", "&a", "&am", "&amp"))


def test_button_values_stay_under_slacks_limit() -> None:
    with pytest.raises(ValueError):
        button("More", "audit_more", "x" * (BUTTON_VALUE + 1))
    long = AuditQuery(query="acme " * 500)
    built = audit_message(AuditView(query=long, events=[event(1, "e", 0)], more=long))
    values = [e["value"] for b in built["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert all(len(v) <= BUTTON_VALUE for v in values)
    assert "narrow the query" in str(built["blocks"])


def test_command_text_is_decoded_as_slack_escapes_it() -> None:
    assert unescape("R&amp;D &lt;UK&gt; &amp;lt;") == "R&D <UK> &lt;"


def test_operators_may_retry_and_are_validated() -> None:
    m = agency_map(edit=lambda d: d["alerts"].update(operators=["U0OPS", "@ops-oncall"]))

    assert may_operate(m, "U0OPS") and may_operate(m, "U0ADMIN1")
    assert may_operate(m, "U0ONCALL", groups=["ops-oncall"])
    assert not may_operate(m, "U0INTERN")
    with pytest.raises(ValidationError, match="operators"):
        AlertSettings.model_validate({"operators": ["<!channel>"]})


def test_the_console_twin_shows_data_inert() -> None:
    shown = console_text(escape("Evil \x1b[2J\x1b]0;owned\x07 <!channel> R&D"))

    assert "\x1b" not in shown and "\x07" not in shown
    assert "<!channel> R&D" in shown
