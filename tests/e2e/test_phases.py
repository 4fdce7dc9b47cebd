"""/phase promote and rollback: admins only, a confirmation modal with a reason, gates named,
an override with a reason, and the change announced in the alert channel."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.e2e.fake_slack import FakeSlack
from tests.e2e.world import ADMIN, Bot


def reason(text: str, override: bool = False) -> dict[str, Any]:
    values: dict[str, Any] = {
        "reason": {"reason_input": {"type": "plain_text_input", "value": text}}
    }
    if override:
        values["override"] = {
            "override_input": {"type": "checkboxes", "selected_options": [{"value": "override"}]}
        }
    return values


def phase_state(bot: Bot, phase_id: int) -> str:
    with bot.uow_factory() as uow:
        row = uow.phases.get(phase_id)
        assert row is not None
        return row.state


def test_a_non_admin_promote_is_refused_and_logged(bot: Bot, slack: FakeSlack) -> None:
    bot.send.command("/phase", "promote 3", user="U0INTERN")

    answer = slack.wait_call("response_url")
    assert "for the map's admins" in answer.text
    assert not slack.of("views.open")
    assert phase_state(bot, 3) == "parallel"
    with bot.uow_factory() as uow:
        logged = [(a.actor, a.action, a.subject, a.allowed) for a in uow.actions.recent()]
    assert logged == [("slack:U0INTERN", "promote", "phase:3", False)]


def test_a_forged_submission_by_a_non_admin_changes_nothing(bot: Bot, slack: FakeSlack) -> None:
    meta = json.dumps({"action": "rollback", "phase": 1, "channel": None})
    response = bot.send.submit("phase_change", reason("because"), meta, user="U0INTERN")

    assert response.status_code == 200
    assert "errors" in response.json()
    assert phase_state(bot, 1) == "live"


def test_promotion_names_the_failed_gate_and_an_admin_may_override(
    bot: Bot, slack: FakeSlack
) -> None:
    bot.send.command("/phase", "promote 3", user=ADMIN)
    modal = slack.wait_call("views.open")
    view = modal.body["view"]
    assert view["callback_id"] == "phase_change"
    text = json.dumps(view)
    assert "gate parallel_period" in text and "parallel for 0 of 3 days" in text
    assert "Override" in text

    refused = bot.send.submit(
        "phase_change", reason("looks good"), view["private_metadata"], user=ADMIN
    )
    errors = refused.json()["errors"]
    assert "parallel_period" in errors["reason"]
    assert phase_state(bot, 3) == "parallel"

    accepted = bot.send.submit(
        "phase_change",
        reason("sales asked for it today", override=True),
        view["private_metadata"],
        user=ADMIN,
    )
    assert accepted.status_code == 200 and not accepted.content
    announced = slack.wait_call("chat.postMessage")
    assert announced.body["channel"] == "#integration-alerts"
    assert "Phase 3" in announced.text and "to *live* by <@U0ADMIN1>" in announced.text
    assert "sales asked for it today" in announced.text
    assert "gates overridden: parallel_period" in announced.text
    # The cutover retires the hand process out loud.
    assert "Manual step retired:" in announced.text
    assert "type the invoice status into the deal" in announced.text
    assert phase_state(bot, 3) == "live"
    with bot.uow_factory() as uow:
        (change,) = uow.phases.changes(3)
        assert (change.actor, change.reason, change.gates_overridden) == (
            "slack:U0ADMIN1",
            "sales asked for it today",
            "parallel_period",
        )


def test_promotion_passes_its_gates_after_the_parallel_period(bot: Bot, slack: FakeSlack) -> None:
    bot.clock.advance(timedelta(days=3))
    bot.send.command("/phase", "promote 3", user=ADMIN)
    view = slack.wait_call("views.open").body["view"]
    assert "Override" not in json.dumps(view)

    bot.send.submit(
        "phase_change", reason("three clean days"), view["private_metadata"], user=ADMIN
    )
    slack.wait_call("chat.postMessage")
    assert phase_state(bot, 3) == "live"


def test_rollback_by_a_member_of_an_admin_user_group(bot: Bot, slack: FakeSlack) -> None:
    slack.usergroups = [{"id": "S0LEADS", "handle": "ops-leads", "users": ["U0LEAD"]}]

    bot.send.command("/phase", "rollback 1", user="U0LEAD")
    view = slack.wait_call("views.open").body["view"]
    bot.send.submit(
        "phase_change",
        reason("Xero is rejecting contacts"),
        view["private_metadata"],
        user="U0LEAD",
    )

    announced = slack.wait_call("chat.postMessage")
    assert "from live to *parallel* by <@U0LEAD>" in announced.text
    assert phase_state(bot, 1) == "parallel"
