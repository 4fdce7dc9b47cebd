"""Asana's published rate limits, shared by the client (to pace itself) and the sandbox (to
enforce them). Source: Asana's developer documentation, "Rate limits": minute-long windows,
150 requests a minute on free domains, 1,500 on paid ones, 60 a minute for the search API;
a 429 carries ``Retry-After`` in seconds. Asana documents no remaining-count header."""

from __future__ import annotations

WINDOW_SECONDS = 60.0
REQUESTS_PER_MINUTE = {"free": 150, "paid": 1500}
SEARCH_REQUESTS_PER_MINUTE = 60
DEFAULT_PLAN = "free"

# Asana's example 429 body, so clients that keep the vendor's message show its own words.
RATE_LIMIT_MESSAGE = (
    "You've made too many requests and hit a rate limit. "
    "Please retry after the given amount of time."
)


def requests_per_minute(plan: str) -> int:
    try:
        return REQUESTS_PER_MINUTE[plan]
    except KeyError:
        choices = ", ".join(sorted(REQUESTS_PER_MINUTE))
        raise ValueError(f"unknown Asana plan {plan!r}; choose from {choices}") from None
