"""``/map``: the picture goes up through Slack's three-step file upload, to the asker."""

from __future__ import annotations

import time

from tests.e2e.fake_slack import FakeSlack
from tests.e2e.world import Bot


def test_map_sends_the_picture_and_a_summary_to_the_asker(bot: Bot, slack: FakeSlack) -> None:
    started = time.monotonic()
    response = bot.send.command("/map", "", user="U0USER1")
    assert response.status_code == 200
    assert time.monotonic() - started < 3  # the ack

    done = slack.wait_call("files.completeUploadExternal")
    asked = slack.of("files.getUploadURLExternal")[0]
    uploaded = slack.of("file_upload")[0]
    methods = [c.method for c in slack.web_api_calls()]
    assert methods.index("files.getUploadURLExternal") < methods.index("file_upload")
    assert methods.index("file_upload") < methods.index("files.completeUploadExternal")

    png = slack.uploads[uploaded.body["file_id"]]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int(asked.body["length"]) == len(png)
    assert asked.body["filename"] == "handoff-map-both.png"
    assert done.body["files"][0]["id"] == uploaded.body["file_id"]
    assert done.body["channels"] == "U0USER1"  # to the asker, not a channel
    summary = done.body["initial_comment"]
    for system in bot.map.systems:
        assert system in summary
    assert "handoff map render" in summary


def test_map_current_names_the_state_and_a_bad_word_gets_usage(bot: Bot, slack: FakeSlack) -> None:
    bot.send.command("/map", "current", user="U0USER1")
    asked = slack.wait_call("files.getUploadURLExternal")
    assert asked.body["filename"] == "handoff-map-current.png"

    bot.send.command("/map", "sideways", user="U0USER1")
    answer = slack.wait_call("response_url")
    assert "Usage: `/map [current|target|both]`" in answer.text
    assert len(slack.of("files.getUploadURLExternal")) == 1


def test_map_without_the_file_scope_says_so(bot: Bot, slack: FakeSlack) -> None:
    slack.failing["files.getUploadURLExternal"] = "missing_scope"
    bot.send.command("/map", "", user="U0USER1")
    answer = slack.wait_call("response_url")
    assert "files:write" in answer.text
    assert not slack.of("files.completeUploadExternal")
