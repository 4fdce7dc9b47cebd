"""An alert sink whose target is set after the engine exists (the Slack sink needs the store
the runtime opens, and the runtime needs a sink)."""

from __future__ import annotations

import threading

from sync_core.alerts import AlertNotice, AlertSink


class DeferredSink:
    def __init__(self) -> None:
        self.target: AlertSink | None = None
        self._early: list[AlertNotice] = []
        self._lock = threading.Lock()

    def notify(self, notice: AlertNotice) -> None:
        with self._lock:
            target = self.target
            if target is None:
                self._early.append(notice)
                return
            early, self._early = self._early, []
        for held in early:
            target.notify(held)
        target.notify(notice)
