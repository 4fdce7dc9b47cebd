"""``handoff serve`` as a process: HTTP mode against the fake Slack, health, refusals, and
start-up errors on one line."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.fake_slack import FakeSlack
from tests.e2e.signing import SECRET, SlackSender

REPO = Path(__file__).resolve().parents[2]
HANDOFF = [sys.executable, "-m", "bot.cli"]


def serve_env(slack: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SLACK_") and "PROXY" not in k.upper()
    }
    env.update(
        HANDOFF_DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=slack.token,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    env.update(extra)
    return env


class Served:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} in {''.join(self.output)!r}")


@pytest.fixture
def served(slack: FakeSlack, database_url: str) -> Iterator[Served]:
    process = subprocess.Popen(
        [*HANDOFF, "serve", "--port", "0"],
        cwd=REPO,
        env=serve_env(slack, database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Served(process)
    yield running
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_serve_answers_a_signed_where_and_refuses_forgeries(
    served: Served, slack: FakeSlack
) -> None:
    base = served.wait_line(r"listening on (http://127\.0\.0\.1:\d+)/slack/events").group(1)
    health = httpx.get(base + "/healthz", timeout=5)
    report = health.json()
    assert report["database"] == "ok" and report["scheduler"]["running"] is True
    assert {"deliver", "alerts"} <= {job["id"] for job in report["scheduler"]["jobs"]}

    sender = SlackSender(base + "/slack/events", slack.response_url())
    try:
        # The scheduler syncs the demo map on start; ask until Acme is in every system.
        deadline = time.monotonic() + 30
        while True:
            asked = len(slack.of("response_url"))
            started = time.monotonic()
            assert sender.command("/where", "acme").status_code == 200
            assert time.monotonic() - started < 3
            answer = slack.wait_call("response_url", asked + 1)
            if "not there yet" not in answer.text and "xero.contact" in answer.text:
                break
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)  # the scheduler's pace, not a wait for our request
        for record in ("pipedrive.deal", "xero.contact", "asana.project"):
            assert record in answer.text
        assert "Acme" in answer.text

        before = len(slack.of_all())
        forged = sender.command("/sync", "pause won-deal-to-xero-contact", secret="guess")
        stale = sender.command("/where", "acme", timestamp=int(time.time()) - 301)
        assert (forged.status_code, stale.status_code) == (401, 401)
        answered = len(slack.of("response_url"))
        sender.command("/handoff", "help")
        slack.wait_call("response_url", answered + 1)
        assert [c.method for c in slack.of_all()[before:]] == ["response_url"]
    finally:
        sender.close()
    assert "xoxb-" not in "".join(served.output) and SECRET not in "".join(served.output)


def run_serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HANDOFF, "serve", "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_token_stops_start_up_with_one_line(slack: FakeSlack, database_url: str) -> None:
    env = serve_env(slack, database_url)
    del env["SLACK_BOT_TOKEN"]

    done = run_serve(env)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "handoff: SLACK_BOT_TOKEN is not set: give the bot token (xoxb-…) of your app"
    ]


def test_a_rejected_token_stops_start_up_with_one_line(slack: FakeSlack, database_url: str) -> None:
    done = run_serve(serve_env(slack, database_url, SLACK_BOT_TOKEN="xoxb-revoked"))

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "handoff: Slack rejected SLACK_BOT_TOKEN (invalid_auth)"
    ]
    assert "xoxb-revoked" not in done.stdout + done.stderr
    assert json.dumps([c.method for c in slack.of_all()]) == '["auth.test"]'
