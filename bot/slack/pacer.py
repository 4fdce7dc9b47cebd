"""Slack takes about one message a second per channel; posts wait for their slot."""

from __future__ import annotations

import threading

from connectors.clock import Clock


class ChannelPacer:
    def __init__(self, clock: Clock, interval: float = 1.0) -> None:
        self.clock = clock
        self.interval = interval
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, channel: str) -> float:
        """Block until ``channel`` may take another message; returns the seconds waited."""
        with self._lock:
            now = self.clock.monotonic()
            slot = max(now, self._next.get(channel, now))
            self._next[channel] = slot + self.interval
        delay = slot - now
        if delay > 0:
            self.clock.sleep(delay)
        return delay
