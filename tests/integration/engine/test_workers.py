"""Several worker processes on one queue: nothing delivered twice, nothing lost, and a worker
killed between the vendor's write and its bookkeeping leaves no duplicate behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sync_core.store.models import EntityRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT
from tests.integration.engine.recording import RECORD_TYPE, read_log
from tests.integration.engine.worker import SYSTEM
from tests.support.processes import Spawned
from tests.support.rows import pending_event


def seed_events(uow_factory: SqlUnitOfWorkFactory, count: int) -> None:
    """``count`` pending events, each for its own customer, due now."""
    now = datetime.now(UTC)
    with uow_factory() as uow:
        for index in range(count):
            uow.entities.add(
                EntityRow(
                    canonical_id=f"C-{index}",
                    entity="customer",
                    display_name=f"Customer {index}",
                    search_name=f"c-{index} customer {index}",
                    minted_by="crm.customer",
                    created_at=now,
                    updated_at=now,
                )
            )
        uow.flush()
        for index in range(count):
            uow.events.add(
                pending_event(
                    f"C-{index}",
                    now,
                    flow="crm-to-target",
                    source_record_type="customer",
                    source_external_id=str(index),
                    target=(SYSTEM, RECORD_TYPE),
                    payload={"name": f"Customer {index}"},
                    payload_hash=f"{index:064d}",
                )
            )
        uow.commit()


def start_worker(database_url: str, target: Path, name: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [
        sys.executable,
        "-m",
        "tests.integration.engine.worker",
        "--db",
        database_url,
        "--target",
        str(target),
        "--worker",
        name,
        *extra,
    ]
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 90) -> str:
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr
    return stdout


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)  # polling a condition with a deadline, not hoping


def statuses(uow_factory: SqlUnitOfWorkFactory) -> Counter[str]:
    with uow_factory() as uow:
        return Counter(uow.events.count_by_status())


def test_two_workers_share_one_queue_without_double_or_lost_deliveries(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path, spawned: Spawned
) -> None:
    seed_events(uow_factory, 300)
    target, go = tmp_path / "target.jsonl", tmp_path / "go"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    workers = [
        spawned.track(
            start_worker(database_url, target, name, "--ready", str(flag), "--go", str(go))
        )
        for name, flag in zip(("worker-a", "worker-b"), ready, strict=True)
    ]
    for flag, process in zip(ready, workers, strict=True):
        wait_for(flag, process)
    go.write_text("go")
    outputs = [finish(process) for process in workers]

    lines = read_log(target)
    keys = Counter(line["key"] for line in lines)
    assert len(keys) == 300, "an event was lost"
    assert max(keys.values()) == 1, f"delivered twice: {[k for k, n in keys.items() if n > 1]}"
    assert {line["op"] for line in lines} == {"create"}
    assert statuses(uow_factory) == {"delivered": 300}
    # Both processes really took part.
    assert len({line["pid"] for line in lines}) == 2, outputs
    with uow_factory() as uow:
        attempts = [len(uow.attempts.for_event(i)) for i in range(1, 301)]
    assert attempts == [1] * 300


def test_a_worker_killed_after_the_vendor_write_leaves_no_duplicate(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path, spawned: Spawned
) -> None:
    seed_events(uow_factory, 40)
    target, hanging = tmp_path / "target.jsonl", tmp_path / "hanging"
    doomed = spawned.track(
        start_worker(
            database_url,
            target,
            "doomed",
            "--batch",
            "10",
            "--hang-after",
            "13",
            "--hanging",
            str(hanging),
        )
    )
    wait_for(hanging, doomed)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    assert doomed.returncode == -signal.SIGKILL
    in_flight = hanging.read_text()
    # The vendor holds the write the dead worker never booked; its batch is still leased.
    assert any(line["cid"] == in_flight for line in read_log(target))
    # One write at a time is booked: twelve were, the thirteenth was not.
    assert statuses(uow_factory) == {"delivered": 12, "pending": 28}
    with uow_factory() as uow:
        leased = {
            e.canonical_id for e in uow.events.history(limit=100) if e.lease_owner == "doomed"
        }
    assert in_flight in leased

    # A worker on the wall clock waits for the lease: it takes only the unclaimed events.
    finish(spawned.track(start_worker(database_url, target, "patient", "--batch", "100")))
    assert statuses(uow_factory) == {"delivered": 32, "pending": 8}
    # A worker whose clock is past the dead worker's lease finishes the queue.
    finish(spawned.track(start_worker(database_url, target, "rescuer", "--clock-offset", "3600")))

    lines = read_log(target)
    creates = Counter(line["cid"] for line in lines if line["op"] == "create")
    assert set(creates) == {f"C-{i}" for i in range(40)}, "an event was lost"
    assert max(creates.values()) == 1, "a record was created twice"
    updates = [line["cid"] for line in lines if line["op"] == "update"]
    assert updates == [in_flight], "only the unbooked write is replayed, as an update"
    assert statuses(uow_factory) == {"delivered": 40}
