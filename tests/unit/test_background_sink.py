"""Alerts leave the delivery thread: order kept, one failure does not stop the rest."""

from __future__ import annotations

import threading

from sync_core.alerts import AlertNotice, BackgroundSink


def notice(n: int) -> AlertNotice:
    return AlertNotice(n, "raised", "xero:transient", 1, f"alert {n}", (n,), "#alerts")


class SlowAndFlaky:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.release = threading.Event()

    def notify(self, n: AlertNotice) -> None:
        self.release.wait(5)
        if n.alert_id == 2:
            raise RuntimeError("Slack said no")
        self.seen.append(n.alert_id)


def test_notices_are_sent_in_order_off_the_caller_thread() -> None:
    target = SlowAndFlaky()
    sink = BackgroundSink(target)
    for n in range(1, 5):
        sink.notify(notice(n))  # returns at once although the target is blocked
    assert target.seen == []
    target.release.set()
    sink.close()
    assert target.seen == [1, 3, 4]
