"""Failure alerts in the watched channel: Retry updates the message in place, Ignore asks
why, one cause makes one grouped alert, and a forgotten alert escalates."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sync_core.alert_outbox import enqueue_unsent
from sync_core.alert_watch import watch_alerts
from sync_core.store.models import AlertOutboxRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.e2e.fake_slack import Call, FakeSlack
from tests.e2e.world import ALERT_CHANNEL_ID, TO_XERO, Bot
from tests.unit.engine.support import agency_map


def alert_buttons(call: Call) -> dict[str, str]:
    return {
        e["action_id"]: e["value"]
        for b in call.body["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


def failing_deal(bot: Bot, slack: FakeSlack) -> Call:
    bot.add_deal(42, "Acme Ltd")
    bot.break_xero()
    bot.sync()
    return slack.wait_call("chat.postMessage")


def test_a_dead_event_posts_an_alert_with_what_failed_and_why(bot: Bot, slack: FakeSlack) -> None:
    posted = failing_deal(bot, slack)

    assert posted.body["channel"] == "#integration-alerts"
    text = posted.text
    assert TO_XERO in text and "PD-42" in text and "xero.contact" in text
    assert "schema_changed" in text and "lacks the field" in text  # the vendor's message
    assert "Attempts:* 1" in text
    assert "agency.pipedrive.com" in text  # a link to the source record
    assert set(alert_buttons(posted)) == {"alert_retry", "alert_ignore", "alert_history"}
    (alert,) = bot.alerts()
    assert alert.channel == ALERT_CHANNEL_ID and alert.message_ts == "1700000000.000001"


def test_retry_delivers_and_updates_the_same_message(bot: Bot, slack: FakeSlack) -> None:
    posted = failing_deal(bot, slack)
    bot.heal_xero()

    bot.send.click(
        "alert_retry",
        alert_buttons(posted)["alert_retry"],
        user="U0OPS",
        message_ts="1700000000.000001",
        channel=ALERT_CHANNEL_ID,
    )

    update = slack.wait_call("chat.update")
    assert update.body["channel"] == ALERT_CHANNEL_ID
    assert update.body["ts"] == "1700000000.000001"
    assert "Delivered after Retry by <@U0OPS>" in update.text
    assert "alert_retry" not in alert_buttons(update)
    (event,) = [e for e in bot.events(TO_XERO)]
    assert event.status == "delivered"
    (alert,) = bot.alerts()
    assert alert.state == "resolved" and alert.acknowledged_by == "slack:U0OPS"
    with bot.uow_factory() as uow:
        actions = {(a.action, a.actor) for a in uow.actions.recent()}
    assert ("retry_alert", "slack:U0OPS") in actions and ("retry", "slack:U0OPS") in actions


def test_retry_that_fails_again_says_why(bot: Bot, slack: FakeSlack) -> None:
    posted = failing_deal(bot, slack)

    bot.send.click("alert_retry", alert_buttons(posted)["alert_retry"], user="U0OPS")

    update = slack.wait_for(
        lambda cs: [c for c in cs if c.method == "chat.update" and "failed again" in c.text],
        what="an update saying it failed again",
    )[0]
    assert "schema_changed" in update.text
    assert "alert_retry" in alert_buttons(update)  # still open: it can be retried again


def test_ignore_asks_a_reason_and_closes_the_alert(bot: Bot, slack: FakeSlack) -> None:
    posted = failing_deal(bot, slack)
    alert_id = alert_buttons(posted)["alert_ignore"]

    bot.send.click("alert_ignore", alert_id, user="U0OPS")
    modal = slack.wait_call("views.open")
    view = modal.body["view"]
    assert view["callback_id"] == "alert_ignore_reason"

    response = bot.send.submit(
        view["callback_id"],
        {"reason": {"reason_input": {"type": "plain_text_input", "value": "test deal, not real"}}},
        view["private_metadata"],
        user="U0OPS",
    )
    assert response.status_code == 200
    update = slack.wait_call("chat.update")
    assert "Ignored by <@U0OPS>" in update.text and "test deal, not real" in update.text
    (event,) = bot.events(TO_XERO)
    assert event.status == "ignored" and event.resolution_note == "test deal, not real"
    (alert,) = bot.alerts()
    assert alert.state == "ignored"
    with bot.uow_factory() as uow:
        (action,) = [
            (a.actor, a.reason) for a in uow.actions.recent() if a.action == "ignore_alert"
        ]
    assert action == ("slack:U0OPS", "test deal, not real")


def test_history_button_answers_the_clicker_and_is_logged(bot: Bot, slack: FakeSlack) -> None:
    posted = failing_deal(bot, slack)

    bot.send.click("alert_history", alert_buttons(posted)["alert_history"], user="U0OPS")

    answer = slack.wait_call("response_url")
    assert answer.body["response_type"] == "ephemeral" and "PD-42" in answer.text
    with bot.uow_factory() as uow:
        assert [a.action for a in uow.actions.recent()] == ["history"]


def test_many_failures_with_one_cause_make_one_grouped_alert(bot: Bot, slack: FakeSlack) -> None:
    for deal in range(1, 6):
        bot.add_deal(deal, f"Customer {deal}")
    bot.break_xero()
    bot.sync()

    posts = slack.of("chat.postMessage")
    assert len(posts) == 1
    # Changes waiting to be sent are drawn together: the post may already count all five.
    last = slack.wait_for(
        lambda cs: [c for c in cs if c.method.startswith("chat.") and "5 events" in c.text],
        what="the grouped alert counting 5",
    )[-1]
    assert "Retry all (5)" in last.text
    (alert,) = bot.alerts()
    assert alert.grouped and alert.count == 5

    bot.heal_xero()
    bot.send.click("alert_retry_all", str(alert.id), user="U0OPS")
    recovered = slack.wait_for(
        lambda cs: [c for c in cs if c.method == "chat.update" and "Recovered" in c.text],
        what="the group's recovery",
    )[-1]
    assert "5 event(s) delivered" in recovered.text
    assert {e.status for e in bot.events(TO_XERO)} == {"delivered"}


def test_posting_is_paced_per_channel(bot: Bot, slack: FakeSlack) -> None:
    bot.add_deal(1, "Customer 1")
    bot.break_xero()
    bot.sync()
    bot.heal_xero()
    bot.sandboxes["asana"].fault("renamed_field", 100, path="project/")
    bot.add_deal(2, "Customer 2")
    bot.sync()

    slack.wait_call("chat.postMessage", 2)
    assert len(slack.of("chat.postMessage")) == 2
    assert bot.pacer_clock.slept == [1.0]


def test_an_unacknowledged_alert_escalates_in_its_thread(bot: Bot, slack: FakeSlack) -> None:
    failing_deal(bot, slack)

    bot.clock.advance(timedelta(hours=3, minutes=59))
    assert watch_alerts(bot.uow_factory, bot.map, bot.clock, bot.sink) == []
    bot.clock.advance(timedelta(minutes=1))
    (notice,) = watch_alerts(bot.uow_factory, bot.map, bot.clock, bot.sink)

    assert notice.change == "escalated"
    escalation = slack.wait_call("chat.postMessage", 2)
    assert escalation.body["thread_ts"] == "1700000000.000001"
    assert escalation.body["channel"] == ALERT_CHANNEL_ID
    assert "@ops-oncall" in escalation.text and "4h" in escalation.text
    # Raised once only.
    bot.clock.advance(timedelta(hours=5))
    assert watch_alerts(bot.uow_factory, bot.map, bot.clock, bot.sink) == []


def test_escalation_pings_the_user_group_the_map_names(bot: Bot, slack: FakeSlack) -> None:
    slack.usergroups = [{"id": "S0ONCALL", "handle": "ops-oncall", "users": ["U0OPS"]}]
    failing_deal(bot, slack)
    bot.clock.advance(timedelta(hours=4))
    watch_alerts(bot.uow_factory, bot.map, bot.clock, bot.sink)
    escalation = slack.wait_call("chat.postMessage", 2)
    assert "<!subteam^S0ONCALL>" in escalation.text


def test_an_acknowledged_alert_does_not_escalate(bot: Bot, slack: FakeSlack) -> None:
    posted = failing_deal(bot, slack)
    bot.send.click("alert_retry", alert_buttons(posted)["alert_retry"], user="U0OPS")
    slack.wait_call("chat.update")

    bot.clock.advance(timedelta(hours=5))
    assert watch_alerts(bot.uow_factory, bot.map, bot.clock, bot.sink) == []


def test_a_group_that_recovers_by_itself_says_so(bot: Bot, slack: FakeSlack) -> None:
    failing_deal(bot, slack)
    bot.heal_xero()
    bot.engine.retry_dead(actor="cli")
    bot.engine.drain()

    (notice,) = watch_alerts(bot.uow_factory, bot.map, bot.clock, bot.sink)

    assert notice.change == "resolved"
    update = slack.wait_call("chat.update")
    assert "Recovered" in update.text and "delivered since" in update.text
    assert json.dumps(update.body).count("alert_retry") == 0


def test_retry_all_failing_again_keeps_one_message_and_its_count(
    bot: Bot, slack: FakeSlack
) -> None:
    for deal in range(1, 4):
        bot.add_deal(deal, f"Customer {deal}")
    bot.break_xero()
    bot.sync()
    (alert,) = bot.alerts()

    bot.send.click("alert_retry_all", str(alert.id), user="U0OPS")
    slack.wait_for(
        lambda cs: [c for c in cs if c.method == "chat.update" and "failed again" in c.text],
        what="an update saying it failed again",
    )

    assert len(slack.of("chat.postMessage")) == 1
    (again,) = bot.alerts()
    assert again.count == 3 and again.state == "acknowledged"


def test_an_alert_slack_refused_is_posted_later_not_lost(bot: Bot, slack: FakeSlack) -> None:
    slack.failing["chat.postMessage"] = "ratelimited"
    bot.add_deal(42, "Acme Ltd")
    bot.break_xero()
    bot.sync()
    slack.wait_call("chat.postMessage")
    slack.wait_for(lambda _: _outbox_attempts(bot) == [1], what="the refusal recorded")
    (alert,) = bot.alerts()
    assert alert.message_ts is None  # refused: the alert waits in the store

    del slack.failing["chat.postMessage"]
    bot.clock.advance(timedelta(seconds=4))
    assert len(slack.of("chat.postMessage")) == 1  # backing off: not yet
    bot.clock.advance(timedelta(seconds=1))
    posted = slack.wait_call("chat.postMessage", 2)
    assert "PD-42" in posted.text
    slack.wait_for(lambda _: bot.alerts()[0].message_ts is not None, what="the message kept")
    assert enqueue_unsent(bot.uow_factory, bot.clock) == 0  # posted once, not again


def _outbox_attempts(bot: Bot) -> list[int]:
    return [row.attempts for row in bot.rows(AlertOutboxRow)]


def test_retry_plans_a_failed_mapping_again_with_the_map_the_bot_runs_now(
    slack: FakeSlack, uow_factory: SqlUnitOfWorkFactory
) -> None:
    broken = Bot(agency_map(edit=_xero_name("{{ value / 0 }}")), uow_factory, slack)
    try:
        broken.add_deal(42, "Acme Ltd")
        assert broken.sync().failed
        posted = slack.wait_call("chat.postMessage")
        assert "mapping" in posted.text and "division by zero" in posted.text
    finally:
        broken.close()
    fixed = Bot(agency_map(edit=_xero_name("{{ org_name }}")), uow_factory, slack)
    try:
        fixed.send.click(
            "alert_retry",
            alert_buttons(posted)["alert_retry"],
            user="U0OPS",
            message_ts="1700000000.000001",
            channel=ALERT_CHANNEL_ID,
        )

        update = slack.wait_call("chat.update")
        assert "Delivered after Retry by <@U0OPS>" in update.text
        (event,) = fixed.events(TO_XERO)
        assert (event.status, event.payload["Name"]) == ("delivered", "Acme Ltd")
        (contact,) = fixed.sandboxes["xero"].records("contact")
        assert contact.fields["Name"] == "Acme Ltd"
    finally:
        fixed.close()


def _xero_name(template: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        next(f for f in data["flows"] if f["name"] == TO_XERO)["fields"]["Name"] = template

    return edit
