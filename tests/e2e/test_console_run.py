"""``handoff run`` without Slack tokens and without a terminal says its console is off and keeps
syncing and printing."""

from __future__ import annotations

import signal
import subprocess

from tests.e2e.fake_slack import FakeSlack
from tests.e2e.test_serve import HANDOFF, REPO, Served, serve_env


def test_run_without_a_terminal_just_syncs(slack: FakeSlack, database_url: str) -> None:
    env = serve_env(slack, database_url)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL"):
        env.pop(name)
    process = subprocess.Popen(
        [*HANDOFF, "run"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Served(process)
    try:
        running.wait_line(r"console off: stdin is not a terminal, so typed commands are ignored")
        running.wait_line(r"syncing; press Ctrl-C to stop")
        running.wait_line(r"delivered \d+, retrying \d+, dead \d+")
        assert not any("handoff>" in line for line in running.output)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
