"""Backfill benchmark: 10,000 audience members written to Mailchimp, on a simulated clock.

Mailchimp limits the Marketing API by concurrency (10 connections per API key), not by a quota
per window, so time is set by how long calls take. The sandbox charges every call
``--latency`` simulated seconds and runs batch operations at ``--ops-per-second`` (both
assumptions of this bench, not published figures) on a FrozenClock the client shares. Two
strategies run on fresh sandboxes:

- batched: the connector's ``upsert_many`` in chunks of its ``batch_size`` (one index read,
  one batch of PUTs, polled until finished, results read from the archive);
- per member: ``Connector.upsert_many``, i.e. find then create, one member at a time.

Each is compared with the least time the limits allow for the work it needs: for a batch, its
calls plus Mailchimp's processing of every operation (no polling lag); for one call per member,
its calls spread over all 10 connections.

    .venv/bin/python bench/mailchimp_backfill.py [--members 10000] [--per-member N]
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connectors.base import Connector, ConnectorSettings, IdField, UpsertItem, UpsertResult
from connectors.clock import FrozenClock
from connectors.mailchimp import MailchimpConnector, build
from connectors.mailchimp.sandbox import MailchimpSandbox
from connectors.mailchimp.session import MAX_CONNECTIONS
from connectors.registry import ConnectorContext

API_KEY = "0123456789abcdef0123456789abcdef-us6"


@dataclass
class Outcome:
    name: str
    members: int
    seconds: float
    api_calls: int
    operations: int
    polls: int
    refused_429: int
    failed: int
    stored: int
    wall: float
    minimum: float


def members(count: int) -> list[UpsertItem]:
    return [
        UpsertItem(
            record_type="member",
            id_field=IdField.parse("merge_field:HANDOFF"),
            canonical_id=f"PD-{n:05d}",
            fields={"email_address": f"contact{n}@example.com", "FNAME": f"Contact {n}"},
            idempotency_key=f"backfill-{n:05d}",
        )
        for n in range(count)
    ]


def run(
    name: str,
    items: Sequence[UpsertItem],
    strategy: Callable[[MailchimpConnector, Sequence[UpsertItem]], list[UpsertResult]],
    latency: float,
    ops_per_second: float,
    batched: bool,
) -> Outcome:
    clock = FrozenClock()
    sandbox = MailchimpSandbox(
        clock=clock, api_key=API_KEY, latency=latency, ops_per_second=ops_per_second
    )
    list_id = sandbox.add_list("Backfill")["id"]
    served = sandbox.serve()
    settings = ConnectorSettings(
        system="mailchimp",
        connector="mailchimp",
        credentials={"api_key": API_KEY},
        options={"list_id": list_id},
        base_url=served.url,
    )
    connector = build(settings, ConnectorContext(clock=clock))
    started, wall = clock.monotonic(), time.perf_counter()
    try:
        results = strategy(connector, items)
    finally:
        connector.close()
        served.shutdown()
    seconds = clock.monotonic() - started
    calls = [status for _, _, status in sandbox.log]
    polls = sum(1 for m, p, _ in sandbox.log if m == "GET" and p.startswith("/3.0/batches/"))
    operations = sum(len(b["results"]) for b in sandbox.batches.values())
    if batched:
        # every call but the polls at its latency, one after another, plus Mailchimp's
        # processing of every operation (a poll that lands as a batch finishes costs nothing)
        minimum = (len(calls) - polls) * latency + operations / ops_per_second
    else:
        minimum = math.ceil(len(calls) / MAX_CONNECTIONS) * latency
    return Outcome(
        name=name,
        members=len(items),
        seconds=seconds,
        api_calls=len(calls),
        operations=operations,
        polls=polls,
        refused_429=calls.count(429),
        failed=sum(1 for r in results if r.error is not None),
        stored=len(sandbox.members(list_id)),
        wall=time.perf_counter() - wall,
        minimum=minimum,
    )


def batched(connector: MailchimpConnector, items: Sequence[UpsertItem]) -> list[UpsertResult]:
    # as the deliverer hands them over: one upsert_many per batch_size events
    size = connector.batch_size
    results: list[UpsertResult] = []
    for start in range(0, len(items), size):
        results += connector.upsert_many(items[start : start + size])
    return results


def per_member(connector: MailchimpConnector, items: Sequence[UpsertItem]) -> list[UpsertResult]:
    return Connector.upsert_many(connector, items)


def report(outcome: Outcome) -> None:
    ratio = outcome.seconds / outcome.minimum if outcome.minimum else math.nan
    print(f"\n{outcome.name}: {outcome.members} members")
    print(f"  simulated time      {outcome.seconds / 60:10.2f} min")
    print(f"  minimum allowed     {outcome.minimum / 60:10.2f} min  (ratio {ratio:.3f})")
    per = outcome.api_calls / outcome.members
    print(f"  API calls           {outcome.api_calls:10d}  ({per:.3f} per member)")
    print(f"  batch operations    {outcome.operations:10d}")
    print(f"  status polls        {outcome.polls:10d}")
    print(f"  429s received       {outcome.refused_429:10d}")
    print(f"  items failed        {outcome.failed:10d}")
    print(f"  members in audience {outcome.stored:10d}")
    print(f"  wall clock          {outcome.wall:10.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--per-member", type=int, default=None, help="members for that run")
    parser.add_argument("--latency", type=float, default=0.25, help="simulated s per call")
    parser.add_argument("--ops-per-second", type=float, default=100.0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    items = members(args.members)
    print(
        f"Mailchimp: {MAX_CONNECTIONS} connections per key; sandbox: {args.latency} s a call, "
        f"{args.ops_per_second:g} batch operations a second"
    )
    fast = run("batch operations", items, batched, args.latency, args.ops_per_second, True)
    report(fast)
    slow_items = items[: args.per_member] if args.per_member else items
    slow = run(
        "one call per member (find + write)",
        slow_items,
        per_member,
        args.latency,
        args.ops_per_second,
        False,
    )
    report(slow)
    goal = fast.seconds <= 1.1 * fast.minimum and fast.failed == 0
    print(f"\nbatched within 1.1x of the minimum with no failed item: {'yes' if goal else 'NO'}")
    per_slow = slow.seconds / slow.members
    per_fast = fast.seconds / fast.members
    print(f"speed-up over one call per member (per member): {per_slow / per_fast:.1f}x")


if __name__ == "__main__":
    main()
