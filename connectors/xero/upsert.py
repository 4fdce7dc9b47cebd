"""Batched upsert for Xero: find a batch's existing records in one query, then write the
batch with one PUT (creates) and one POST (updates)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import ConfigError, ConnectorError, IdField, UpsertItem, UpsertResult
from connectors.batching import failed, rounds

if TYPE_CHECKING:
    from .client import XeroConnector

# Xero advises batches of up to 50 elements per PUT/POST.
BATCH_SIZE = 50


def upsert_batched(connector: XeroConnector, items: Sequence[UpsertItem]) -> list[UpsertResult]:
    """One result per item, in order; a failed batch call marks that batch's items only."""
    results: dict[int, UpsertResult] = {}
    groups: dict[tuple[str, IdField | None], list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault((item.record_type, item.id_field), []).append(index)
    for (record_type, id_field), indexes in groups.items():
        for batch in rounds(indexes, lambda i: {items[i].canonical_id}):
            for start in range(0, len(batch), BATCH_SIZE):
                chunk = batch[start : start + BATCH_SIZE]
                try:
                    results.update(_upsert_chunk(connector, record_type, id_field, items, chunk))
                except ConnectorError as exc:
                    results.update(failed(items, chunk, exc))
    return [results[i] for i in range(len(items))]


def _upsert_chunk(
    connector: XeroConnector,
    record_type: str,
    id_field: IdField | None,
    items: Sequence[UpsertItem],
    chunk: list[int],
) -> dict[int, UpsertResult]:
    resource = connector.resource_for(record_type)
    field = connector.plain_field(id_field) if id_field is not None else None
    out: dict[int, UpsertResult] = {}
    to_find = [items[i].canonical_id for i in chunk if items[i].external_id is None]
    if to_find and field is None:
        raise ConfigError(f"xero: {record_type}: no id_field to find records by")
    existing = connector.find_many(resource, field, to_find) if field and to_find else {}
    creates: list[tuple[int, dict[str, Any]]] = []
    updates: list[tuple[int, dict[str, Any]]] = []
    for i in chunk:
        item = items[i]
        try:
            payload = connector.payload(resource, item.fields)
        except ConfigError as exc:
            out[i] = UpsertResult(item=item, error=exc)
            continue
        known = item.external_id or (
            existing[item.canonical_id].external_id if item.canonical_id in existing else None
        )
        if known:
            updates.append((i, {resource.id_field: known, **payload}))
        else:
            assert field is not None  # no known id: to_find held it
            creates.append((i, {**payload, field: item.canonical_id}))
    for verb, batch, created in (("PUT", creates, True), ("POST", updates, False)):
        if not batch:
            continue
        written = connector.write_batch(
            resource,
            verb,
            [payload for _, payload in batch],
            [items[i].idempotency_key for i, _ in batch],
        )
        for (i, _), result in zip(batch, written, strict=True):
            if isinstance(result, ConnectorError):
                out[i] = UpsertResult(item=items[i], error=result, http_status=400)
            else:
                out[i] = UpsertResult(item=items[i], record=result, created=created)
    return out
