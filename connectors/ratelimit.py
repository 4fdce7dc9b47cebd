"""Client-side rate limiting, so Handoff stays under a vendor's limits before it must refuse.

A :class:`WindowLimit` allows ``calls`` per ``period`` seconds on a sliding window. A
:class:`RateLimiter` combines several (per minute, per day, per 2-second window ...) plus a cap
on calls in flight, and learns from the vendor's own headers (``remaining``/``reset``) through
:meth:`RateLimiter.observe`. Time comes from an injected clock, so a benchmark on a simulated
clock measures minutes without waiting them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from connectors.clock import Clock


@dataclass
class WindowLimit:
    name: str
    calls: int
    period: float  # seconds
    _stamps: deque[float] = field(default_factory=deque, repr=False)
    _blocked_until: float = 0.0

    def wait_time(self, now: float) -> float:
        while self._stamps and self._stamps[0] <= now - self.period:
            self._stamps.popleft()
        wait = max(0.0, self._blocked_until - now)
        if len(self._stamps) >= self.calls:
            wait = max(wait, self._stamps[0] + self.period - now)
        return wait

    def record(self, now: float) -> None:
        self._stamps.append(now)

    def block_until(self, until: float) -> None:
        self._blocked_until = max(self._blocked_until, until)


class RateLimiter:
    """Waits (on the clock) until every window has room, then lets one call through."""

    def __init__(self, clock: Clock, limits: list[WindowLimit], max_in_flight: int = 0) -> None:
        self.clock = clock
        self.limits = {limit.name: limit for limit in limits}
        self.max_in_flight = max_in_flight
        self._in_flight = 0
        self._lock = threading.Condition()
        self.waited_seconds = 0.0

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Acquire room for one call; yields the seconds waited for it."""
        waited = self.acquire()
        try:
            yield waited
        finally:
            self.release()

    def acquire(self) -> float:
        waited = 0.0
        while True:
            with self._lock:
                if self.max_in_flight and self._in_flight >= self.max_in_flight:
                    self._lock.wait(timeout=0.05)
                    continue
                now = self.clock.monotonic()
                wait = max((lim.wait_time(now) for lim in self.limits.values()), default=0.0)
                if wait <= 0:
                    for lim in self.limits.values():
                        lim.record(now)
                    self._in_flight += 1
                    self.waited_seconds += waited
                    return waited
            self.clock.sleep(wait)
            waited += wait

    def release(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            self._lock.notify()

    def pause(self, name: str, seconds: float) -> None:
        """Hold every call on ``name`` for ``seconds`` (a vendor said Retry-After or 0 left)."""
        with self._lock:
            limit = self.limits.get(name)
            if limit is not None:
                limit.block_until(self.clock.monotonic() + seconds)

    def pause_all(self, seconds: float) -> None:
        with self._lock:
            until = self.clock.monotonic() + seconds
            for limit in self.limits.values():
                limit.block_until(until)
