"""Batched upsert for Mailchimp: one index refresh finds a batch's existing members, one batch
of member writes (PUT/PATCH by subscriber hash), then one batch of tag changes for the members
written. Each item's result is its own operation's result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from connectors.base import (
    ConfigError,
    ConnectorError,
    Permanent,
    SchemaChanged,
    UpsertItem,
    UpsertResult,
)
from connectors.batching import failed, rounds

from .batches import Operation, run_batch
from .records import member_write, merge_tag, record_type, subscriber_hash, with_tags
from .session import classify_problem

if TYPE_CHECKING:
    from .client import MailchimpConnector


def upsert_batched(
    connector: MailchimpConnector, items: Sequence[UpsertItem]
) -> list[UpsertResult]:
    """One result per item, in order; a failed batch marks its own items only."""
    results: dict[int, UpsertResult] = {}
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        try:
            connector._writable(record_type(item.record_type))
            groups.setdefault(merge_tag(item.id_field), []).append(index)
        except ConfigError as exc:
            results[index] = UpsertResult(item=item, error=exc)

    def keys(i: int) -> set[str]:
        # a member is one canonical ID and one address: either twice waits a round
        return {items[i].canonical_id, str(items[i].fields.get("email_address") or "")} - {""}

    for tag, indexes in groups.items():
        for batch in rounds(indexes, keys):
            try:
                results.update(_upsert_round(connector, tag, items, batch))
            except ConnectorError as exc:
                results.update(failed(items, batch, exc))
    return [results[i] for i in range(len(items))]


def _upsert_round(
    connector: MailchimpConnector, tag: str, items: Sequence[UpsertItem], chunk: list[int]
) -> dict[int, UpsertResult]:
    out: dict[int, UpsertResult] = {}
    connector.merge_fields.ensure(tag)
    index = connector.index(tag)
    index.refresh()
    writes, ops = {}, []
    for i in chunk:
        item = items[i]
        try:
            write = member_write({**item.fields, tag: item.canonical_id})
            known = item.external_id or index.by_cid.get(item.canonical_id)
            if known:
                method, body = connector.update_call(known, write)
                target, created = known, False
            else:
                if not write.email:
                    raise ConfigError(f"{connector.system}: a new member needs email_address")
                target, created = subscriber_hash(write.email), True
                held = index.by_hash.get(target)
                if held and held != item.canonical_id:
                    raise Permanent(
                        f"{connector.system}: the email address belongs to the member "
                        f"holding {held}",
                        http_status=409,
                    )
                method, body = "PUT", connector.put_body(write)
        except ConnectorError as exc:
            out[i] = UpsertResult(item=item, error=exc, http_status=exc.http_status)
            continue
        writes[i] = (write, created)
        ops.append(Operation(method, connector.member_path(target), f"{i}:member", body))
    if not ops:
        return out
    answered = run_batch(connector.session, connector.clock, ops)
    tag_ops: list[Operation] = []
    records = {}
    for op in ops:
        i = int(op.operation_id.split(":")[0])
        item, (write, created) = items[i], writes[i]
        result = answered.get(op.operation_id)
        if result is None:
            out[i] = _missing(item, op)
            continue
        if result.status_code >= 300:
            error = classify_problem(result.status_code, result.body, f"{op.method} member")
            out[i] = UpsertResult(item=item, error=error, http_status=result.status_code)
            continue
        try:
            record = connector.member_record(result.body, f"batch {op.method} member")
        except ConnectorError as exc:
            out[i] = UpsertResult(item=item, error=exc, http_status=result.status_code)
            continue
        if created and item.on_created is not None:
            item.on_created(record.external_id)
        records[i] = record
        tag_body = write.tag_body()
        if tag_body is not None:
            path = f"{connector.member_path(record.external_id)}/tags"
            tag_ops.append(Operation("POST", path, f"{i}:tags", tag_body))
        out[i] = UpsertResult(item=item, record=record, created=created, http_status=200)
    if tag_ops:
        tagged = run_batch(connector.session, connector.clock, tag_ops)
        for op in tag_ops:
            i = int(op.operation_id.split(":")[0])
            result = tagged.get(op.operation_id)
            if result is None:
                out[i] = _missing(items[i], op)
            elif result.status_code >= 300:
                error = classify_problem(result.status_code, result.body, "POST member tags")
                out[i] = UpsertResult(item=items[i], error=error, http_status=result.status_code)
            else:
                record = with_tags(records[i], writes[i][0])
                out[i] = UpsertResult(
                    item=items[i], record=record, created=writes[i][1], http_status=200
                )
    return out


def _missing(item: UpsertItem, op: Operation) -> UpsertResult:
    error = SchemaChanged(f"mailchimp: batch results lack operation {op.operation_id}")
    return UpsertResult(item=item, error=error)
