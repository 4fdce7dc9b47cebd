"""Only Slack may talk to the bot: forged and stale requests get 401 and cause nothing."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from tests.e2e.fake_slack import FakeSlack
from tests.e2e.world import Bot


def test_a_signed_command_is_answered(bot: Bot, slack: FakeSlack) -> None:
    response = bot.send.command("/handoff", "help")

    assert response.status_code == 200
    answer = slack.wait_call("response_url")
    assert "/where QUERY" in answer.text
    assert answer.body["response_type"] == "ephemeral"


def test_a_forged_signature_is_refused_with_no_side_effect(bot: Bot, slack: FakeSlack) -> None:
    response = bot.send.command("/where", "acme", secret="not-the-secret")
    bare = bot.send.post(urlencode({"command": "/where", "text": "acme"}), headers={})

    assert response.status_code == 401
    assert bare.status_code == 401
    _assert_nothing_happened(bot, slack)


def test_a_stale_request_is_refused_with_no_side_effect(bot: Bot, slack: FakeSlack) -> None:
    six_minutes_ago = int(time.time()) - 6 * 60
    response = bot.send.command("/phase", "promote 3", user="U0ADMIN1", timestamp=six_minutes_ago)

    assert response.status_code == 401
    _assert_nothing_happened(bot, slack)


def _assert_nothing_happened(bot: Bot, slack: FakeSlack) -> None:
    # A good request afterwards is answered, so anything the bad ones caused would be in by now.
    bot.send.command("/handoff", "help")
    slack.wait_call("response_url")
    assert [c.method for c in slack.web_api_calls()] == ["response_url"]
    with bot.uow_factory() as uow:
        assert list(uow.actions.recent()) == []
