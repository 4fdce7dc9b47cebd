"""Xero's documented per-tenant limits, applied before Xero has to refuse.

Per connection (tenant): 5 calls in flight, 60 calls a minute, 5,000 calls a day; every API
response reports what is left in ``X-MinLimit-Remaining``, ``X-DayLimit-Remaining`` and
``X-AppMinLimit-Remaining`` (the app-wide minute limit, shared by all tenants).
"""

from __future__ import annotations

import httpx

from connectors.clock import Clock
from connectors.ratelimit import RateLimiter, WindowLimit

MINUTE_CALLS = 60
DAY_CALLS = 5000
IN_FLIGHT = 5
MINUTE = 60.0
DAY = 86400.0

# header -> (limiter window it spends, that window's length)
REMAINING_HEADERS = {
    "X-MinLimit-Remaining": ("minute", MINUTE),
    "X-DayLimit-Remaining": ("day", DAY),
    "X-AppMinLimit-Remaining": ("minute", MINUTE),
}


def tenant_limiter(clock: Clock) -> RateLimiter:
    return RateLimiter(
        clock,
        [WindowLimit("minute", MINUTE_CALLS, MINUTE), WindowLimit("day", DAY_CALLS, DAY)],
        max_in_flight=IN_FLIGHT,
    )


class RemainingWatch:
    """Reads the remaining-call headers; at 0 it holds the matching window.

    When our own window is full the limiter already knows how long to wait. When it is not,
    someone else (another app or process on the same tenant) spent the budget, and we cannot
    see when their calls age out, so we hold for a whole window.
    """

    def __init__(self, limiter: RateLimiter, clock: Clock) -> None:
        self.limiter = limiter
        self.clock = clock
        self.remaining: dict[str, int] = {}

    def __call__(self, response: httpx.Response) -> None:
        for header, (window, period) in REMAINING_HEADERS.items():
            value = response.headers.get(header)
            if value is None:
                continue
            try:
                left = int(value)
            except ValueError:
                continue
            self.remaining[header] = left
            if left > 0:
                continue
            limit = self.limiter.limits.get(window)
            own_wait = limit.wait_time(self.clock.monotonic()) if limit else 0.0
            if header == "X-AppMinLimit-Remaining" or own_wait <= 0:
                self.limiter.pause(window, period)
