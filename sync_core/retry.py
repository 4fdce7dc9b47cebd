"""The long retry schedule, persisted on the event so it survives restarts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import ConnectorError

DEFAULT_SCHEDULE = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))


@dataclass(frozen=True)
class RetryDecision:
    dead: bool
    next_attempt_at: datetime | None
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """After failed attempt *n* (1-based) a retryable error waits ``schedule[n-1]`` (or the
    vendor's Retry-After when longer); once the schedule is used up the event is dead.
    Permanent errors are dead at once: they will not fix themselves."""

    schedule: Sequence[timedelta] = DEFAULT_SCHEDULE

    def after_failure(self, attempts: int, error: ConnectorError, now: datetime) -> RetryDecision:
        if not error.retryable:
            return RetryDecision(True, None, f"{error.kind} error: not retried")
        if attempts > len(self.schedule):
            return RetryDecision(True, None, f"retries exhausted after {attempts} attempts")
        wait = self.schedule[attempts - 1]
        if error.retry_after is not None:
            wait = max(wait, timedelta(seconds=error.retry_after))
        return RetryDecision(False, now + wait, f"retry {attempts} of {len(self.schedule)}")
