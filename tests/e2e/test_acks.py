"""Every command and click is acked at once, however busy the work behind it is."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.fake_slack import Call, FakeSlack
from tests.e2e.world import Bot

CONCURRENT = 16  # more than Bolt's pool of five and than our own pool of workers


def test_commands_are_acked_while_earlier_work_is_stuck(bot: Bot, slack: FakeSlack) -> None:
    # Every answer to the asker hangs: the workers are all busy until the test lets go.
    slack.held["response_url"] = threading.Event()

    def ack_time(n: int) -> tuple[int, float]:
        started = time.monotonic()
        answer = bot.send.command("/handoff", "", user=f"U0USER{n}")
        return answer.status_code, time.monotonic() - started

    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            acks = list(pool.map(ack_time, range(CONCURRENT)))
    finally:
        slack.held["response_url"].set()

    assert {status for status, _ in acks} == {200}
    # Slack gives up at 3 s; the margin below it is for a busy 2-core test machine.
    assert max(seconds for _, seconds in acks) < 2.0, acks
    slack.wait_for(
        lambda cs: len([c for c in cs if c.method == "response_url"]) >= CONCURRENT,
        timeout=30,
        what="every command answered once the answers flow again",
    )


def test_retry_all_shows_it_started_then_its_result(bot: Bot, slack: FakeSlack) -> None:
    for deal in range(1, 4):
        bot.add_deal(deal, f"Customer {deal}")
    bot.break_xero()
    bot.sync()
    (alert,) = bot.alerts()
    bot.heal_xero()

    bot.send.click("alert_retry_all", str(alert.id), user="U0OPS")

    def answers(calls: list[Call]) -> list[str] | None:
        texts = [c.text for c in calls if c.method == "response_url"]
        return texts if len(texts) >= 2 else None

    said = slack.wait_for(answers, what="a progress line, then the result")
    assert "Retrying 3 events" in said[0]
    assert "3 event(s) delivered" in said[1]
    slack.wait_for(
        lambda cs: [c for c in cs if c.method == "chat.update" and "Recovered" in c.text],
        what="the message redrawn in place",
    )
