"""Backfill benchmark: 5,000 won deals becoming Xero contacts, on a simulated clock.

The Xero sandbox enforces Xero's per-tenant limits (60 calls a minute, 5,000 a day, 5 in
flight) on a FrozenClock that the client shares, so simulated minutes are measured without
waiting them. Two strategies run on fresh sandboxes:

- batched: the connector's ``upsert_many`` (a ``where`` query and one PUT per 50 contacts);
- per record: ``Connector.upsert_many``, i.e. find then create, one record at a time.

Each is compared with the least time Xero's limits allow for the calls it needs.

    .venv/bin/python bench/xero_backfill.py [--records 5000] [--per-record N]
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connectors.base import Connector, IdField, UpsertItem, UpsertResult
from connectors.clock import FrozenClock
from connectors.registry import ConnectorContext
from connectors.xero import XeroConnector, build
from connectors.xero.client import BATCH_SIZE
from connectors.xero.limits import DAY, DAY_CALLS, MINUTE, MINUTE_CALLS
from connectors.xero.sandbox import XeroSandbox


@dataclass
class Outcome:
    name: str
    records: int
    seconds: float
    api_calls: int
    refused_429: int
    refused_401: int
    failed: int
    stored: int
    wall: float

    def minimum(self) -> float:
        return minimum_seconds(self.api_calls)


def minimum_seconds(calls: int) -> float:
    """The earliest the last of ``calls`` calls can start under Xero's sliding windows."""
    starts: list[float] = []
    for n in range(calls):
        t = 0.0
        if n >= MINUTE_CALLS:
            t = max(t, starts[n - MINUTE_CALLS] + MINUTE)
        if n >= DAY_CALLS:
            t = max(t, starts[n - DAY_CALLS] + DAY)
        starts.append(t)
    return starts[-1] if starts else 0.0


def won_deals(count: int) -> list[UpsertItem]:
    return [
        UpsertItem(
            record_type="contact",
            id_field=IdField.plain("ContactNumber"),
            canonical_id=f"PD-{n:05d}",
            fields={"Name": f"Won deal org {n:05d}", "EmailAddress": f"ap{n}@example.com"},
            idempotency_key=f"backfill-{n:05d}",
        )
        for n in range(count)
    ]


def run(
    name: str,
    items: Sequence[UpsertItem],
    strategy: Callable[[XeroConnector, Sequence[UpsertItem]], list[UpsertResult]],
) -> Outcome:
    clock = FrozenClock()
    sandbox = XeroSandbox(clock)
    served = sandbox.serve()
    settings = sandbox.settings(served.url)
    connector = build(settings, ConnectorContext(clock=clock))
    started, wall = clock.monotonic(), time.perf_counter()
    try:
        results = strategy(connector, items)
    finally:
        connector.close()
        served.shutdown()
    api = [status for _, path, status in sandbox.calls if path.startswith("/api.xro/")]
    return Outcome(
        name=name,
        records=len(items),
        seconds=clock.monotonic() - started,
        api_calls=len(api),
        refused_429=api.count(429),
        refused_401=api.count(401),
        failed=sum(1 for r in results if r.error is not None),
        stored=len({c["ContactNumber"] for c in sandbox.contacts()}),
        wall=time.perf_counter() - wall,
    )


def batched(connector: XeroConnector, items: Sequence[UpsertItem]) -> list[UpsertResult]:
    return connector.upsert_many(items)


def per_record(connector: XeroConnector, items: Sequence[UpsertItem]) -> list[UpsertResult]:
    return Connector.upsert_many(connector, items)


def report(outcome: Outcome) -> None:
    minimum = outcome.minimum()
    ratio = outcome.seconds / minimum if minimum else math.nan
    print(f"\n{outcome.name}: {outcome.records} contacts")
    print(f"  simulated time      {outcome.seconds / 60:10.2f} min")
    print(f"  minimum allowed     {minimum / 60:10.2f} min  (ratio {ratio:.3f})")
    per = outcome.api_calls / outcome.records
    print(f"  API calls           {outcome.api_calls:10d}  ({per:.3f} per record)")
    print(f"  429s received       {outcome.refused_429:10d}")
    print(f"  401s (token expired during a long wait, then refreshed) {outcome.refused_401}")
    print(f"  items failed        {outcome.failed:10d}")
    print(f"  contacts in Xero    {outcome.stored:10d}")
    print(f"  wall clock          {outcome.wall:10.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument(
        "--per-record", type=int, default=None, help="records for the per-record run (default: all)"
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per call

    items = won_deals(args.records)
    print(f"Xero limits per tenant: {MINUTE_CALLS}/min, {DAY_CALLS}/day; batches of {BATCH_SIZE}")
    fast = run("batched upsert_many", items, batched)
    report(fast)
    slow_items = items[: args.per_record] if args.per_record else items
    slow = run("one record at a time (find + create)", slow_items, per_record)
    report(slow)
    goal = fast.seconds <= 1.2 * fast.minimum() and fast.failed == 0
    print(f"\nbatched within 1.2x of the minimum with no failed item: {'yes' if goal else 'NO'}")
    if fast.seconds > 0:
        print(f"speed-up over one record at a time: {slow.seconds / fast.seconds:.0f}x")
    else:  # a backfill that fits in the first minute's calls waits for no limit at all
        print("speed-up over one record at a time: batched waited for no limit")


if __name__ == "__main__":
    main()
