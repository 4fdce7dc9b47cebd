"""Exchange ids and rate-limit waits belong to the attempt that made them, even when a poll
and a delivery use one connector at the same time on two threads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx

from bot.bootstrap import build_runtime
from bot.settings import Settings
from connectors.clock import FrozenClock
from connectors.exchange_audit import recording_exchanges
from connectors.faults import CONTROL_PATH
from sync_core.alerts import CollectingSink
from sync_core.store.models import AttemptRow, EventRow
from tests.support.demo_map import demo_map


def test_a_poll_beside_a_delivery_leaves_its_exchanges_off_the_attempts(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "http.jsonl"
    settings = Settings.from_env(
        {}, map_path=demo_map(tmp_path), database_url=database_url, http_log=log
    )
    rt = build_runtime(settings, alert_sink=CollectingSink(), clock=FrozenClock(), env={})
    try:
        for source in rt.map.sources():
            if source.system == "pipedrive":
                assert rt.engine.poll(source).error is None  # plans the writes to Xero
        xero = rt.sandboxes["xero"]
        # Every read from the accounting sandbox stalls, so the poll's calls overlap the
        # delivery's calls on the one Xero connector; one 429 adds a wait to the mix.
        httpx.post(
            xero.url + CONTROL_PATH, json={"kind": "timeout", "times": 1000, "delay": 0.05}
        ).raise_for_status()
        httpx.post(
            xero.url + CONTROL_PATH,
            json={"kind": "rate_limit", "times": 1, "method": "GET", "retry_after": 1},
        ).raise_for_status()
        delivered = threading.Event()
        polled: list[str] = []
        reads = 0

        def poll() -> None:
            nonlocal reads
            with recording_exchanges() as seen:
                while not delivered.is_set():
                    rt.connectors["xero"].list_changed("invoice", None)
                    reads += 1
            polled.extend(seen.exchange_ids)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            report = rt.engine.drain()
        finally:
            delivered.set()
            poller.join(timeout=60)
        assert report.delivered > 0 and reads > 0
        with rt.uow_factory() as uow:
            assert uow.session is not None
            rows = (
                uow.session.query(AttemptRow, EventRow)
                .join(EventRow, EventRow.id == AttemptRow.event_id)
                .all()
            )
            attempts = [(a.exchange_id or "", e.target_system) for a, e in rows]
    finally:
        rt.close()

    entries = {e["id"]: e for e in map(json.loads, log.read_text().splitlines())}
    to_xero = [ids.split(",") for ids, system in attempts if system == "xero" and ids]
    assert to_xero and all(to_xero)
    assert set(polled) <= set(entries) and polled
    attempted = {exchange for ids in to_xero for exchange in ids}
    assert attempted <= set(entries)
    assert not attempted & set(polled), "an attempt names the poll's exchanges"
    for ids, system in attempts:
        assert {entries[x]["system"] for x in ids.split(",") if x} <= {system}
