"""The next step an alert names is a command that helps with that alert."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bot.console_sink import ConsoleAlertSink
from bot.handlers.alerts import AlertView
from bot.views.alert import alert_message
from sync_core.alert_detail import alert_detail
from sync_core.alerts import AlertNotice
from tests.unit.engine.support import World, agency_map


def printed(notice: AlertNotice) -> str:
    out = io.StringIO()
    ConsoleAlertSink(Console(file=out, width=300, color_system=None)).notify(notice)
    return out.getvalue()


def test_a_source_that_could_not_be_read_names_a_read_not_a_retry() -> None:
    world = World(agency_map())
    out = io.StringIO()
    world.sink.notify = ConsoleAlertSink(Console(file=out, width=300)).notify  # type: ignore[method-assign]
    world.crm.fault("renamed_field", 1)
    world.engine.poll_all()

    text = out.getvalue()
    assert "reading pipedrive.deal failed" in text
    assert "handoff retry" not in text
    assert "`handoff sync --once` (or `/sync run FLOW` for a flow from pipedrive.deal)" in text
    with world.uow_factory() as uow:
        (alert,) = uow.alerts.open_alerts()
        detail = alert_detail(uow, alert.id)
    assert detail is not None
    slack_text = str(alert_message(AlertView(detail))["blocks"])
    assert "handoff sync --once" in slack_text and "handoff retry" not in slack_text


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("auth_expired", "renew the map's auth for xero"),
        ("config", "fix the map or the credential for xero"),
        ("transient", "the next poll reads xero.invoice again by itself"),
        ("schema_changed", "a retry will not fix this"),
    ],
)
def test_the_hint_follows_the_kind_of_read_failure(kind: str, expected: str) -> None:
    notice = AlertNotice(1, "raised", f"poll:xero.invoice:{kind}", 1, "reading failed", ())
    text = printed(notice)
    assert expected in text and "handoff sync --once" in text and "handoff retry" not in text


def test_dead_events_are_named_in_the_retry_hint() -> None:
    notice = AlertNotice(4, "grouped", "xero:transient", 2, "2 events failed", (17, 18))
    assert "`handoff retry 17` requeues it (or `handoff retry --dead` for all)" in printed(notice)
    resolved = AlertNotice(4, "resolved", "xero:transient", 2, "delivered", (17, 18))
    assert "handoff retry" not in printed(resolved)
