"""A graceful stop on SIGTERM and SIGINT for the long-running commands.

Both signals end the main thread's wait with :class:`KeyboardInterrupt`, so ``handoff run``
and ``handoff serve`` leave through their ``finally`` blocks: the scheduler stops taking work,
the batch in flight is finished, every claim still held is released, and the process exits 0.
A second SIGTERM during that shutdown is ignored; a second Ctrl-C still interrupts it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _interrupt(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT) into :class:`KeyboardInterrupt` in the main thread while the
    block runs; the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_until(stop: threading.Event) -> None:
    """Block the main thread until ``stop`` is set or a signal interrupts it.

    The wait is cut into short slices: the kernel may deliver a process signal to any
    thread, and a main thread blocked on a lock for good would never run the handler."""
    while not stop.wait(0.2):
        pass
