"""Alert messages as an outbox: one sender's rows, coalesced, rate-limited, never doubled."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.slack.alert_sender import AlertSender
from bot.slack.app import web_client
from bot.slack.pacer import ChannelPacer
from connectors.clock import FrozenClock
from sync_core.alerts import record_poll_failure
from sync_core.store.models import AlertOutboxRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.world import Bot
from tests.unit.engine.support import agency_map


@pytest.fixture
def quiet_bot(slack: FakeSlack, uow_factory: SqlUnitOfWorkFactory) -> Iterator[Bot]:
    """The sender does not run by itself: the test drives it."""
    world = Bot(
        agency_map(),
        uow_factory,
        slack,
        group_redraw_after=timedelta(seconds=5),
        sending=False,
    )
    yield world
    world.close()


def test_a_group_of_300_failures_makes_a_handful_of_messages(
    quiet_bot: Bot, slack: FakeSlack
) -> None:
    bot = quiet_bot
    for deal in range(1, 301):
        bot.add_deal(deal, f"Customer {deal}")
    bot.break_xero(times=10_000)
    bot.sync()
    bot.sender.drain()  # the post; the group's redraws wait 5 s to gather more
    bot.clock.advance(timedelta(seconds=5))
    bot.sender.drain()

    posts, updates = slack.of("chat.postMessage"), slack.of("chat.update")
    assert len(posts) == 1
    assert len(updates) <= 2  # 299 before
    assert "300 events" in (updates or posts)[-1].text
    (alert,) = bot.alerts()
    assert alert.count == 300
    assert all(row.sent_at is not None for row in bot.rows(AlertOutboxRow))


def test_a_rate_limited_post_waits_for_retry_after(quiet_bot: Bot, slack: FakeSlack) -> None:
    bot = quiet_bot
    slack.rate_limited["chat.postMessage"] = 30
    bot.add_deal(42, "Acme Ltd")
    bot.break_xero()
    bot.sync()
    bot.sender.send_due()
    assert len(slack.of("chat.postMessage")) == 1
    (row,) = bot.rows(AlertOutboxRow)
    assert row.attempts == 1 and row.last_error == "ratelimited"
    assert row.due_at == bot.clock.now() + timedelta(seconds=30)

    del slack.rate_limited["chat.postMessage"]
    bot.clock.advance(timedelta(seconds=29))
    assert bot.sender.send_due() == 0  # Slack said 30 s
    bot.clock.advance(timedelta(seconds=1))
    assert bot.sender.send_due() == 1
    assert len(slack.of("chat.postMessage")) == 2
    (alert,) = bot.alerts()
    assert alert.message_ts is not None


def test_a_refused_post_backs_off_longer_each_time(quiet_bot: Bot, slack: FakeSlack) -> None:
    bot = quiet_bot
    slack.failing["chat.postMessage"] = "internal_error"
    bot.add_deal(42, "Acme Ltd")
    bot.break_xero()
    bot.sync()
    waits = []
    for _ in range(3):
        bot.sender.send_due()
        (row,) = bot.rows(AlertOutboxRow)
        waits.append(row.due_at - bot.clock.now())
        bot.clock.advance(waits[-1])
    assert waits == [timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20)]
    assert row.last_error == "internal_error" and row.sent_at is None  # kept, not dropped


def test_two_senders_on_one_store_post_each_alert_once(
    quiet_bot: Bot, slack: FakeSlack, uow_factory: SqlUnitOfWorkFactory
) -> None:
    bot = quiet_bot
    slack.latency = 0.05  # a post in flight long enough for the other sender to look
    senders = [
        AlertSender(
            web_client(slack.token, slack.api_url),
            uow_factory,
            bot.map,
            bot.clock,
            ChannelPacer(FrozenClock()),
            owner=f"process-{n}",
        )
        for n in (1, 2)
    ]
    stop = threading.Event()

    def run(sender: AlertSender) -> None:
        while not stop.is_set():
            sender.send_due()

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    try:
        for n in range(8):  # eight causes: eight alerts, each raised while the senders run
            with uow_factory() as uow:
                notice = record_poll_failure(
                    uow,
                    source="pipedrive.deal",
                    kind=f"cause_{n}",
                    message="unreadable",
                    now=bot.clock.now(),
                    channel=None,
                )
                uow.commit()
            bot.sink.notify(notice)
        for _ in range(3):
            for alert in bot.alerts():
                bot.services.redraw(alert.id)
        alerts = bot.alerts()
        slack.wait_for(
            lambda cs: len([c for c in cs if c.method == "chat.postMessage"]) >= len(alerts),
            what="every alert posted",
        )
        bot.wait_sent()
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)

    assert len(alerts) == 8
    posted = Counter(_alert_of(c.text) for c in slack.of("chat.postMessage"))
    assert posted == Counter({a.id: 1 for a in alerts})
    assert all(a.message_ts for a in bot.alerts())


def _alert_of(text: str) -> int:
    found = re.search(r'"block_id": "alert-(\d+)"', text)
    assert found, text
    return int(found.group(1))
