"""Hostile data and stale clicks, through signed requests into the real Bolt app.

A customer named like a Slack control sequence must stay inert on every surface; a click on
an alert that is already closed changes nothing; only admins and operators may Retry or
Ignore; a refused ``chat.update`` does not turn a delivered retry into "that did not work".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.base import IdField, Permanent, Record
from connectors.sandbox import SandboxConnector
from sync_core.alert_detail import alert_detail
from tests.e2e.fake_slack import Call, FakeSlack
from tests.e2e.test_alerts import alert_buttons
from tests.e2e.world import ALERT_CHANNEL_ID, TO_XERO, Bot

HOSTILE = "<!channel> <https://evil.example|click>"
RAW = ("<!channel>", "<https://evil.example", "<!here>")


class EchoingXero(SandboxConnector):
    """Refuses every contact, repeating the name it was given, as vendors' messages do."""

    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        name = fields.get("Name")
        raise Permanent(
            "xero: POST /Contacts → 400",
            http_status=400,
            vendor_message=f"A contact named {name} is not allowed; see <!here>",
        )


def assert_inert(call: Call) -> None:
    for raw in RAW:
        assert raw not in call.text, call.text


def hostile_alert(bot: Bot, slack: FakeSlack) -> Call:
    bot.engine.connectors["xero"] = EchoingXero("xero", "xero", bot.clock)
    bot.add_deal(42, HOSTILE)
    bot.sync()
    return slack.wait_call("chat.postMessage")


def test_a_hostile_name_and_vendor_message_are_inert_in_the_alert(
    bot: Bot, slack: FakeSlack
) -> None:
    posted = hostile_alert(bot, slack)

    assert_inert(posted)
    assert "&lt;!channel&gt;" in posted.body["text"]  # the notification fallback too
    assert "&lt;!here&gt;" in posted.text  # the vendor's message, escaped
    (alert,) = bot.alerts()
    with bot.uow_factory() as uow:
        detail = alert_detail(uow, alert.id)
    assert detail is not None
    bot.services.redraw(detail.id)  # a redraw goes through the same escaping
    assert_inert(slack.wait_call("chat.update"))


def test_a_hostile_name_is_inert_in_where_and_app_home(bot: Bot, slack: FakeSlack) -> None:
    hostile_alert(bot, slack)

    bot.send.command("/where", "evil.example")
    answer = slack.wait_call("response_url")
    assert "PD-42" in answer.text
    assert_inert(answer)
    assert "&lt;!channel&gt;" in answer.body["text"]

    bot.send.event({"type": "app_home_opened", "user": "U0USER1", "tab": "home"})
    home = slack.wait_call("views.publish")
    assert_inert(home)


def test_command_text_is_html_decoded(bot: Bot, slack: FakeSlack) -> None:
    bot.add_deal(42, "R&D <UK> Ltd")
    bot.sync()

    bot.send.command("/where", "R&amp;D &lt;UK&gt;")  # as Slack sends "/where R&D <UK>"

    answer = slack.wait_call("response_url")
    assert "PD-42" in answer.text and "R&amp;D &lt;UK&gt; Ltd" in answer.text


def failing_alert(bot: Bot, slack: FakeSlack) -> tuple[Call, str]:
    bot.add_deal(42, "Acme Ltd")
    bot.break_xero()
    bot.sync()
    posted = slack.wait_call("chat.postMessage")
    return posted, alert_buttons(posted)["alert_retry"]


def ephemeral_saying(slack: FakeSlack, words: str) -> Call:
    found: list[Call] = slack.wait_for(
        lambda cs: [c for c in cs if c.method == "response_url" and words in c.text],
        what=f"an ephemeral answer saying {words!r}",
    )
    assert found[0].body.get("response_type") == "ephemeral"
    return found[0]


def ignore(bot: Bot, alert_id: str, user: str = "U0OPS") -> None:
    metadata = json.dumps({"alert": int(alert_id), "channel": ALERT_CHANNEL_ID, "ts": "1"})
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "not real"}}}
    assert bot.send.submit("alert_ignore_reason", values, metadata, user=user).status_code == 200


def test_retry_on_an_ignored_alert_requeues_nothing(bot: Bot, slack: FakeSlack) -> None:
    _posted, alert_id = failing_alert(bot, slack)
    ignore(bot, alert_id)
    slack.wait_call("chat.update")
    bot.heal_xero()

    bot.send.click("alert_retry", alert_id, user="U0OPS")

    ephemeral_saying(slack, "already ignored")
    (event,) = bot.events(TO_XERO)
    assert event.status == "ignored"
    assert len(slack.of("chat.update")) == 1  # the closed message is left as it was
    (alert,) = bot.alerts()
    assert alert.state == "ignored"


def test_ignore_after_retry_all_leaves_the_resolved_alert(bot: Bot, slack: FakeSlack) -> None:
    _posted, alert_id = failing_alert(bot, slack)
    bot.heal_xero()
    bot.send.click("alert_retry", alert_id, user="U0OPS")
    slack.wait_call("chat.update")

    bot.send.click("alert_ignore", alert_id, user="U0OPS")  # the stale button
    ephemeral_saying(slack, "already resolved")
    assert not slack.of("views.open")
    ignore(bot, alert_id)  # a modal opened before the retry, submitted after it

    (alert,) = bot.alerts()
    assert alert.state == "resolved"
    (event,) = bot.events(TO_XERO)
    assert event.status == "delivered"

    bot.send.click("alert_retry", alert_id, user="U0OPS")  # a replayed Retry
    ephemeral_saying(slack, "nothing changed")
    assert len(slack.of("chat.update")) == 1


def test_the_outcome_line_survives_a_later_redraw(bot: Bot, slack: FakeSlack) -> None:
    _posted, alert_id = failing_alert(bot, slack)
    bot.send.click("alert_retry", alert_id, user="U0OPS")
    slack.wait_for(
        lambda cs: [c for c in cs if c.method == "chat.update" and "failed again" in c.text],
        what="the outcome of the retry",
    )

    with bot.uow_factory() as uow:
        detail = alert_detail(uow, int(alert_id))
    assert detail is not None
    bot.services.redraw(detail.id)  # the alert grew or was redrawn for another reason

    redraw = slack.wait_call("chat.update", 2)
    assert "Retried by <@U0OPS>" in redraw.text and "failed again" in redraw.text


def test_a_refused_update_does_not_say_a_delivered_retry_failed(bot: Bot, slack: FakeSlack) -> None:
    _posted, alert_id = failing_alert(bot, slack)
    bot.heal_xero()
    slack.failing["chat.update"] = "ratelimited"

    bot.send.click("alert_retry", alert_id, user="U0OPS")

    told = ephemeral_saying(slack, "Delivered after Retry")
    assert "did not work" not in told.text
    assert not [c for c in slack.of("response_url") if "did not work" in c.text]
    (event,) = bot.events(TO_XERO)
    assert event.status == "delivered"


def test_only_admins_and_operators_may_retry_or_ignore(bot: Bot, slack: FakeSlack) -> None:
    _posted, alert_id = failing_alert(bot, slack)
    bot.heal_xero()

    bot.send.click("alert_retry", alert_id, user="U0INTERN")
    ephemeral_saying(slack, "admins and operators")
    bot.send.click("alert_retry", alert_id, user="U0INTERN", home=True)  # from App Home
    slack.wait_for(
        lambda cs: [
            c
            for c in cs
            if c.method == "chat.postMessage"
            and c.body.get("channel") == "U0INTERN"
            and "admins and operators" in c.text
        ],
        what="a refusal by DM",
    )
    bot.send.click("alert_ignore", alert_id, user="U0INTERN")
    slack.wait_for(
        lambda cs: len([c for c in cs if c.method == "response_url" and "ignore_alert" in c.text]),
        what="a refusal of Ignore",
    )
    ignore(bot, alert_id, user="U0INTERN")
    slack.wait_for(
        lambda cs: [c for c in cs if c.body.get("channel") == "U0INTERN"][1:],
        what="the refused Ignore, told by DM",
    )

    (event,) = bot.events(TO_XERO)
    assert event.status == "dead"
    (alert,) = bot.alerts()
    assert alert.state == "open"
    assert not slack.of("chat.update") and not slack.of("views.open")
    with bot.uow_factory() as uow:
        refused = {(a.action, a.actor) for a in uow.actions.recent() if not a.allowed}
    assert refused == {("retry_alert", "slack:U0INTERN"), ("ignore_alert", "slack:U0INTERN")}
