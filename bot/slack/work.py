"""Ack first, work after, on a pool of our own.

Slack wants every command and click acknowledged within 3 seconds. Bolt runs listeners on a
small shared pool, so heavy work there (``/where`` over a large store, a Retry all on
hundreds of events) made later requests wait for a free thread before they could even ack.
Here a listener acks on the request's own thread (the app processes before it responds) and
hands the work to this pool: the ack never waits behind work.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import structlog
from slack_bolt import Ack, Respond
from slack_sdk import WebClient

log = structlog.get_logger("handoff.slack")

WORKERS = 8  # the store's connection pool and the 2-core hosts bound useful parallelism

Work = Callable[[dict[str, Any], Respond, WebClient], None]


class ListenerWork:
    def __init__(self, workers: int = WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-work")

    def submit(
        self, name: str, work: Work, body: dict[str, Any], respond: Respond, client: WebClient
    ) -> Future[None]:
        return self._pool.submit(_run, name, work, body, respond, client)

    def listener(self, name: str, work: Work) -> Callable[..., None]:
        """A Bolt listener that acks, then queues ``work`` (which answers by itself)."""

        def acked(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
            ack()
            self.submit(name, work, body, respond, client)

        return acked

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def _run(name: str, work: Work, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
    try:
        work(body, respond, client)
    except Exception as error:  # the pool must go on; the person who asked hears of it
        answer_failure(error, body, respond, name)


def answer_failure(
    error: Exception, body: dict[str, Any], respond: Respond | None = None, name: str = ""
) -> None:
    """A listener that fails still answers the person who clicked, and says where to look."""
    log.error(
        "slack listener failed", listener=name, error=type(error).__name__, detail=str(error)[:300]
    )
    if respond is None or not body.get("response_url"):
        return
    try:
        respond(
            text="Sorry, that did not work; the error is in Handoff's log.",
            response_type="ephemeral",
            replace_original=False,
        )
    except Exception:  # the answer is a courtesy; the log line above is what matters
        log.warning("could not tell the user about the failure")
