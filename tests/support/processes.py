"""Processes a test starts, none of which outlives it.

A process left running when its test fails (an assertion, or the suite's timeout while waiting
for it) keeps writing to the test database after the next test emptied it: that test then finds
rows it never wrote. On PostgreSQL the database is shared by the whole session, so the leak
shows far from its cause (``handoff sync`` linking deal 1 as ``PD-1`` inside the minting tests).
"""

from __future__ import annotations

import subprocess


class Spawned:
    """The processes one test started; :meth:`reap` kills those still running."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[str]] = []

    def track(self, process: subprocess.Popen[str]) -> subprocess.Popen[str]:
        self.processes.append(process)
        return process

    def reap(self) -> list[int]:
        """Kill every process still running and wait for it; their pids."""
        killed = []
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                killed.append(process.pid)
            process.communicate()  # also closes its pipes
        return killed
