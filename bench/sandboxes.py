"""Sandbox probe: what the HTTP sandboxes cost per record as they fill, through the real clients.

    .venv/bin/python -m bench.sandboxes [N ...]        (default: 5000 20000)

For each N, in one process (client and sandbox server share its CPU, which is what is timed):

- Pipedrive: N deals are seeded with a canonical ID in a custom field; the connector then reads
  them all back page by page (``list_changed``, as a backfill does), and looks up 1,000 of them
  by canonical ID (``find_by_canonical_id``, as delivery does before it creates).
- Xero: the connector creates N contacts with ``upsert_many`` (batches of 50: one ``where``
  query and one PUT each; every new contact is checked against the names already there), then
  reads them all back page by page.

Each line prints CPU milliseconds per record (per lookup for finds). A sandbox that stays linear
prints the same figures at every N. Rate limits are lifted (Pipedrive) or simulated on a frozen
clock (Xero), so no real waiting is measured.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

from bench.xero_backfill import batched, run, won_deals
from connectors.base import Connector, ConnectorSettings, IdField
from connectors.clock import FrozenClock
from connectors.pipedrive import build as build_pipedrive
from connectors.pipedrive.sandbox import PipedriveSandbox
from connectors.registry import ConnectorContext
from connectors.xero import build as build_xero
from connectors.xero.sandbox import XeroSandbox

ID_FIELD = "Canonical ID"
LOOKUPS = 1000
UNLIMITED = 10**9


def cpu_ms(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.process_time()
    result = action()
    return result, (time.process_time() - started) * 1000


def read_all(connector: Connector, record_type: str) -> int:
    cursor: str | None = None
    seen = 0
    while True:
        page = connector.list_changed(record_type, cursor, limit=100)
        seen += len(page.records)
        cursor = page.cursor
        if not page.has_more:
            return seen


def line(what: str, count: int, ms: float) -> None:
    print(f"  {what:<34} {count:7d}   {ms / 1000:7.2f} CPU s   {ms / count:7.3f} CPU ms each")


def pipedrive(records: int) -> None:
    clock = FrozenClock()
    sandbox = PipedriveSandbox(
        clock=clock, rate_limit=UNLIMITED, search_rate_limit=UNLIMITED, daily_writes=UNLIMITED
    )
    sandbox.add_field("deal", ID_FIELD)
    for n in range(records):
        sandbox.add_deal(f"Deal {n:06d}", status="won", custom={ID_FIELD: f"PD-{n:06d}"})
    served = sandbox.serve()
    settings = ConnectorSettings(
        system="crm",
        connector="pipedrive",
        credentials={"api_token": sandbox.api_token},
        base_url=served.url,
    )
    connector = build_pipedrive(settings, ConnectorContext(clock=clock))
    try:
        seen, ms = cpu_ms(lambda: read_all(connector, "deal"))
        line("pipedrive: read every deal", seen, ms)
        step = max(1, records // LOOKUPS)
        wanted = [f"PD-{n:06d}" for n in range(0, records, step)][:LOOKUPS]

        def find_all() -> int:
            found = 0
            for canonical_id in wanted:
                found += (
                    connector.find_by_canonical_id(
                        "deal", IdField.parse(f"custom_field:{ID_FIELD}"), canonical_id
                    )
                    is not None
                )
            return found

        found, ms = cpu_ms(find_all)
        assert found == len(wanted), f"found {found} of {len(wanted)}"
        line("pipedrive: find by canonical ID", found, ms)
    finally:
        connector.close()
        served.shutdown()


def xero(records: int) -> None:
    outcome, ms = cpu_ms(lambda: run("batched", won_deals(records), batched))
    assert outcome.failed == 0 and outcome.stored == records, outcome
    line("xero: create contacts (upsert_many)", records, ms)
    clock = FrozenClock()
    sandbox = XeroSandbox(clock)
    for n in range(records):
        sandbox.add_contact(Name=f"Org {n:06d}", ContactNumber=f"PD-{n:06d}")
    served = sandbox.serve()
    settings = sandbox.settings(served.url, system="books")
    connector = build_xero(settings, ConnectorContext(clock=clock))
    try:
        seen, ms = cpu_ms(lambda: read_all(connector, "contact"))
        line("xero: read every contact", seen, ms)
    finally:
        connector.close()
        served.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=int, nargs="*", default=[5000, 20000])
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for records in args.records:
        print(f"{records} records")
        pipedrive(records)
        xero(records)


if __name__ == "__main__":
    main()
