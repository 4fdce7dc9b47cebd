"""Slack ack benchmark: how fast concurrent slash commands are acknowledged on a large store.

    .venv/bin/python -m bench.slack_acks [--entities 100000] [--events 1000000]
                                         [--commands 100] [--latency 1.0]
                                         [--only sqlite|postgresql] [--pg URL]

Builds the ``/where`` benchmark's store (``bench.where``), serves the real Bolt app over HTTP
on 127.0.0.1 against a fake Slack Web API whose every answer (response URLs included) takes
``--latency`` seconds, then sends ``--commands`` signed commands at once (``/where`` over the
benchmark's query mix, ``/audit``, ``/handoff``). Prints p50, p95 and max of the ack time (the
HTTP answer to the command; Slack's limit is 3 s) and of the time until each asker's answer
arrived. The goal: every ack under 1 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from slack_bolt.adapter.wsgi import SlackRequestHandler

from bench.where import DEFAULT_PG, _map, build, pct, queries
from bot.handlers.context import HandlerContext
from bot.slack.app import build_app, web_client
from bot.slack.services import SlackServices
from connectors.clock import FrozenClock
from connectors.serving import serve_wsgi
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.store.db import make_engine
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.signing import SECRET, SlackSender


def commands(entities: int, count: int) -> list[tuple[str, str]]:
    mix: list[tuple[str, str]] = [
        ("/where", q) for _, q in queries(entities, count, random.Random(5))
    ]
    for k in range(0, count, 10):  # one in ten: /audit or /handoff
        mix[k] = ("/audit", "") if k % 20 == 0 else ("/handoff", "")
    return mix


def measure(url: str, entities: int, count: int, latency: float) -> tuple[list[float], list[float]]:
    slack = FakeSlack().start()
    db = make_engine(url)
    served = None
    try:
        integration_map = _map()
        uow_factory = SqlUnitOfWorkFactory(db)
        clock = FrozenClock()
        engine = Engine(integration_map, uow_factory, {}, clock, CollectingSink())
        context = HandlerContext(integration_map, uow_factory, engine, clock)
        app = build_app(
            SlackServices(context),
            client=web_client(slack.token, slack.api_url),
            signing_secret=SECRET,
        )
        served = serve_wsgi(SlackRequestHandler(app))
        slack.latency = latency  # after auth.test: the app is built
        mix = commands(entities, count)
        start = threading.Barrier(count)
        sent_at: dict[int, float] = {}

        def send(k: int) -> float:
            command, text = mix[k]
            sender = SlackSender(served.url + "/slack/events", slack.response_url(f"r{k}"))
            try:
                start.wait()
                sent_at[k] = time.monotonic()
                answer = sender.command(command, text, user=f"U0BENCH{k:03d}")
                acked = time.monotonic() - sent_at[k]
                assert answer.status_code == 200, answer.status_code
                return acked
            finally:
                sender.close()

        with ThreadPoolExecutor(count) as pool:
            acks = list(pool.map(send, range(count)))
        answered = slack.wait_for(
            lambda cs: [c for c in cs if c.method == "response_url"][count - 1 :] and cs,
            timeout=600,
            what="every answer",
        )
        first_answer: dict[int, float] = {}
        for call in answered:
            if call.method == "response_url":
                key = int(call.path.rsplit("/r", 1)[-1])
                first_answer.setdefault(key, call.at)
        answers = [first_answer[k] - sent_at[k] for k in range(count) if k in first_answer]
        return acks, answers
    finally:
        if served is not None:
            served.shutdown()
        slack.stop()
        db.dispose()


def line(name: str, values: list[float]) -> str:
    return (
        f"  {name:7} n={len(values):3}  p50 {statistics.median(values) * 1000:7.0f} ms  "
        f"p95 {pct(values, 0.95) * 1000:7.0f} ms  max {max(values) * 1000:7.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg", default=DEFAULT_PG)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"sqlite": f"sqlite:///{tmp}/acks-bench.db", "postgresql": args.pg}
        for name, url in targets.items():
            if args.only and name != args.only:
                continue
            built = build(url, args.entities, args.events)
            acks, answers = measure(url, args.entities, args.commands, args.latency)
            print(
                f"{name}: {args.entities:,} customers, {args.events:,} events (built in "
                f"{built:.0f} s); {args.commands} concurrent commands, Web API answering in "
                f"{args.latency:g} s"
            )
            print(line("ack", acks))
            print(line("answer", answers))


if __name__ == "__main__":
    main()
