"""App Home: phases, flows with last run, backlog and failures, open alerts with buttons."""

from __future__ import annotations

import json

from tests.e2e.fake_slack import FakeSlack
from tests.e2e.world import TO_XERO, Bot


def test_opening_app_home_publishes_the_dashboard(bot: Bot, slack: FakeSlack) -> None:
    bot.add_deal(42, "Acme Ltd")
    bot.break_xero()
    bot.sync()

    response = bot.send.event({"type": "app_home_opened", "user": "U0OPS", "tab": "home"})

    assert response.status_code == 200
    published = slack.wait_call("views.publish")
    assert published.body["user_id"] == "U0OPS"
    view = published.body["view"]
    assert view["type"] == "home"
    text = json.dumps(view, ensure_ascii=False)
    assert "Phase 1: Deal won → invoice contact" in text and "parallel" in text
    assert TO_XERO in text and "last run 2026-01-05 09:00 UTC" in text
    assert "failures in 24 h 1" in text
    assert "Open alerts* (1)" in text
    assert "alert_retry" in text and "alert_ignore" in text


def test_retry_from_app_home_updates_the_alert_and_the_home(bot: Bot, slack: FakeSlack) -> None:
    bot.add_deal(42, "Acme Ltd")
    bot.break_xero()
    bot.sync()
    slack.wait_call("chat.postMessage")
    bot.heal_xero()
    (alert,) = bot.alerts()

    bot.send.click("alert_retry", str(alert.id), user="U0OPS", home=True)

    update = slack.wait_call("chat.update")
    assert "Delivered after Retry" in update.text
    home = slack.wait_call("views.publish")
    assert "Open alerts* (0)" in json.dumps(home.body["view"])
