"""Mailchimp batch operations: POST /batches, poll GET /batches/{batch_id} until ``finished``,
then read each operation's result from the archive at ``response_body_url``.

The archive is a gzipped tar of JSON files, each an array of
``{"status_code", "operation_id", "response"}`` where ``response`` is the operation's JSON body
as a string. It lives outside the API (a pre-signed URL), so it is fetched without the API key.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from connectors.base import SchemaChanged, Transient
from connectors.clock import Clock
from connectors.http import VendorHttp

from .session import MailchimpSession

MIN_POLL = 0.5
MAX_POLL = 30.0
MAX_WAIT = 3600.0  # give up on a batch that has not finished in an hour: the events retry


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # relative to /3.0, as the batch endpoint wants it
    operation_id: str
    body: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        op: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "operation_id": self.operation_id,
        }
        if self.body is not None:
            op["body"] = json.dumps(self.body)
        return op


@dataclass(frozen=True)
class OperationResult:
    status_code: int
    body: Any


def run_batch(
    session: MailchimpSession, clock: Clock, operations: Sequence[Operation]
) -> dict[str, OperationResult]:
    """Run ``operations`` as one batch; the result of each by its operation_id."""
    started = session.call(
        "POST", "/batches", json_body={"operations": [op.as_json() for op in operations]}
    )
    batch = _batch(started, "POST /batches")
    waited = 0.0
    last_done, last_at = 0, clock.monotonic()
    while batch.get("status") != "finished":
        wait = _next_poll(batch, last_done, clock.monotonic() - last_at)
        if waited + wait > MAX_WAIT:
            raise Transient(f"mailchimp: batch {batch['id']} still {batch.get('status')}")
        last_done = int(batch.get("finished_operations") or 0)
        last_at = clock.monotonic()
        clock.sleep(wait)
        waited += wait
        batch = _batch(session.call("GET", f"/batches/{batch['id']}"), "GET /batches/{id}")
    url = batch.get("response_body_url")
    if not url:
        raise SchemaChanged(f"mailchimp: finished batch {batch['id']} has no response_body_url")
    return read_results(session, clock, str(url))


def _batch(body: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping) or "id" not in body or "status" not in body:
        raise SchemaChanged(f"mailchimp: {where}: not a batch (no 'id' or 'status')")
    return body


def _next_poll(batch: Mapping[str, Any], last_done: int, since_last: float) -> float:
    """Wait about as long as the rest needs at the pace seen so far: few polls, little lag."""
    total = int(batch.get("total_operations") or 0)
    done = int(batch.get("finished_operations") or 0)
    if done > last_done and since_last > 0:
        pace = (done - last_done) / since_last
        return max(MIN_POLL, min(MAX_POLL, (total - done) / pace))
    return MIN_POLL if done == 0 and last_done == 0 else min(MAX_POLL, max(MIN_POLL, since_last))


def read_results(session: MailchimpSession, clock: Clock, url: str) -> dict[str, OperationResult]:
    parts = urlsplit(url)
    archive_http = VendorHttp(
        f"{session.http.system}-batch-results",
        f"{parts.scheme}://{parts.netloc}",
        clock=clock,
        exchange_log=session.exchange_log,
        timeout=session.timeout,
        transport=session.transport,
    )
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = archive_http.request("GET", path)
    finally:
        archive_http.close()
    results: dict[str, OperationResult] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
            for member in archive.getmembers():
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                handle = archive.extractfile(member)
                for entry in json.loads(handle.read()) if handle else []:
                    raw = entry.get("response")
                    body = json.loads(raw) if isinstance(raw, str) and raw else raw
                    results[str(entry["operation_id"])] = OperationResult(
                        int(entry["status_code"]), body
                    )
    except (tarfile.TarError, ValueError, KeyError, TypeError) as exc:
        raise SchemaChanged(f"mailchimp: unreadable batch results: {exc}") from exc
    return results
