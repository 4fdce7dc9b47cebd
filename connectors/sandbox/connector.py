"""An in-process sandbox connector: records, custom fields and switchable faults in memory.

It emulates one vendor's record types (``options: {emulates: xero}``) without HTTP, for unit
tests, the engine benchmark and a demo with no sockets. The vendor connectors
(``connectors.pipedrive`` ...) speak the real APIs to HTTP sandboxes instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import (
    ConfigError,
    Connector,
    ConnectorError,
    IdField,
    Page,
    Permanent,
    Record,
    SchemaChanged,
    Transient,
)
from connectors.clock import Clock
from connectors.faults import AFTER_WRITE_FAULTS, ALL_FAULTS, FaultPlan
from connectors.http import error_for_status
from connectors.paging import Cursor
from connectors.record_types import RecordType
from connectors.registry import vendor, vendors
from connectors.sandbox.store import SandboxStore, StoredRecord


def fault_error(
    kind: str, retry_after: float = 2.0, *, system: str = "sandbox", where: str = ""
) -> ConnectorError:
    """The error a vendor connector would raise for an injected fault, sorted by the same
    rules as a real answer (:func:`connectors.http.error_for_status`)."""
    call = f"{system}: {where}".rstrip()
    statuses = {
        "server_error": (503, "Service Unavailable"),
        "rate_limit": (429, "Too Many Requests"),
    }
    if kind in statuses:
        status, reason = statuses[kind]
        return error_for_status(status, f"{call} → {status} {reason}", retry_after=retry_after)
    if kind == "expired_token":
        return error_for_status(401, f"{call} → 401 token expired")
    errors: dict[str, ConnectorError] = {
        "timeout": Transient(f"{call} timed out"),
        "reset": Transient(f"{call} failed: connection reset by peer"),
        "timeout_after_write": Transient(f"{call} timed out"),
        "reset_after_write": Transient(f"{call} failed: connection reset by peer"),
        "malformed_json": SchemaChanged(f"{call}: response is not valid JSON", http_status=200),
        "renamed_field": SchemaChanged(f"{call}: response lacks the field 'id'", http_status=200),
    }
    return errors[kind]


class SandboxConnector(Connector):
    def __init__(
        self,
        system: str,
        emulates: str,
        clock: Clock,
        store: SandboxStore | None = None,
        faults: FaultPlan | None = None,
        *,
        company_domain: str | None = None,
    ) -> None:
        self.system = system
        self.emulates = emulates
        self.clock = clock
        self.store = store or SandboxStore()
        self.faults = faults or FaultPlan()
        try:
            self.vendor = vendor(emulates)
        except ConfigError as exc:
            raise ConfigError(
                f"sandbox {system}: cannot emulate unknown vendor {emulates!r}"
            ) from exc
        self.catalog: Mapping[str, RecordType] = self.vendor.record_types
        # deep links as the demo's vendor app has them, with the map's company domain if any
        self.link_options: dict[str, Any] = dict(self.vendor.demo_options)
        if company_domain:
            self.link_options["company_domain"] = company_domain
        if not self.catalog:
            raise ConfigError(f"sandbox {system}: cannot emulate unknown vendor {emulates!r}")
        self.calls = 0

    # ---- contract ------------------------------------------------------------------------

    def record_types(self) -> Sequence[str]:
        return sorted(self.catalog)

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        self._call(record_type, "list")
        state = Cursor.parse(cursor, self.system)
        since = int(state.since or 0)
        changed = self.store.changed_since(record_type, since, limit + 1)
        page = changed[:limit]
        following = Cursor(since=str(page[-1].seq if page else since))
        return Page(
            records=[self._record(record_type, r) for r in page],
            cursor=following.dump(),
            has_more=len(changed) > limit,
        )

    def get(self, record_type: str, external_id: str) -> Record:
        self._call(record_type, "get")
        stored = self.store.get(record_type, external_id)
        if stored is None:
            raise Permanent(
                f"{self.system}: {record_type} {external_id} not found", http_status=404
            )
        return self._record(record_type, stored)

    def find_by_canonical_id(
        self, record_type: str, id_field: IdField, canonical_id: str
    ) -> Record | None:
        self._call(record_type, "find")
        found = self.store.find(record_type, id_field.name, canonical_id)
        return self._record(record_type, found[0]) if found else None

    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        self._call(record_type, "create")
        spec = self.catalog[record_type]
        external_id = self.vendor.sandbox_id(self.store.next_id())
        data = {**self._link_ids(spec, fields), spec.id_field: external_id}
        data[id_field.name] = canonical_id
        self._require_name(spec, data)
        stored = self.store.put(record_type, external_id, data, self.clock.now())
        self.store.writes += 1
        self._answer_lost(record_type, "create")
        return self._record(record_type, stored)

    def update(
        self,
        record_type: str,
        external_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Record:
        self._call(record_type, "update")
        if self.store.get(record_type, external_id) is None:
            raise Permanent(
                f"{self.system}: {record_type} {external_id} not found", http_status=404
            )
        stored = self.store.change(record_type, external_id, dict(fields), self.clock.now())
        self.store.writes += 1
        self._answer_lost(record_type, "update")
        return self._record(record_type, stored)

    def deep_link(self, record_type: str, external_id: str) -> str:
        stored = self.store.get(record_type, external_id)
        fields = stored.fields if stored is not None else None
        return self.vendor.deep_link(record_type, external_id, self.link_options, fields)

    # ---- demo and test helpers -------------------------------------------------------------

    def add(
        self, record_type: str, fields: Mapping[str, Any], external_id: str | None = None
    ) -> Record:
        """Put a record in as if someone typed it into the vendor's app."""
        spec = self.catalog[record_type]
        external_id = external_id or str(fields.get(spec.id_field) or self.store.next_id())
        data = {
            **self._link_ids(spec, fields),
            spec.id_field: fields.get(spec.id_field, external_id),
        }
        stored = self.store.put(record_type, external_id, data, self.clock.now())
        return self._record(record_type, stored)

    def edit(self, record_type: str, external_id: str, **changes: Any) -> Record:
        stored = self.store.change(record_type, external_id, changes, self.clock.now())
        return self._record(record_type, stored)

    def records(self, record_type: str) -> list[Record]:
        return [self._record(record_type, r) for r in self.store.all(record_type)]

    def fault(self, kind: str, times: int = 1, **kwargs: Any) -> None:
        self.faults.add(kind, times, **kwargs)

    # ---------------------------------------------------------------------------------------

    def _call(self, record_type: str, operation: str) -> None:
        self.calls += 1
        if record_type not in self.catalog:
            raise ConfigError(
                f"{self.system} has no record type {record_type!r} "
                f"(it has {', '.join(sorted(self.catalog))})"
            )
        writes = operation in ("create", "update")
        kinds = [k for k in ALL_FAULTS if not (writes and k in AFTER_WRITE_FAULTS)]
        fault = self.faults.take(kinds, path=f"{record_type}/{operation}", method=operation)
        if fault is not None:
            raise fault_error(
                fault.kind,
                fault.retry_after,
                system=self.system,
                where=f"{record_type} {operation}",
            )

    def _answer_lost(self, record_type: str, operation: str) -> None:
        """A write done, then its answer lost, when such a fault is armed."""
        path = f"{record_type}/{operation}"
        fault = self.faults.take(AFTER_WRITE_FAULTS, path=path, method=operation)
        if fault is not None:
            raise fault_error(
                fault.kind,
                fault.retry_after,
                system=self.system,
                where=f"{record_type} {operation}",
            )

    def _record(self, record_type: str, stored: StoredRecord) -> Record:
        spec = self.catalog[record_type]
        return Record(
            record_type=record_type,
            external_id=stored.external_id,
            fields=dict(stored.fields),
            updated_at=stored.updated_at,
            url=self.vendor.deep_link(
                record_type, stored.external_id, self.link_options, stored.fields
            ),
            display_name=str(stored.fields.get(spec.display_field) or stored.external_id),
        )

    def _link_ids(self, spec: RecordType, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields``, with a number for each id of the vendor's web app the record's deep
        link needs (Mailchimp's ``web_id``), as the vendor gives one to every new record."""
        data = dict(fields)
        for name in spec.link_fields:
            if data.get(name) in (None, ""):
                data[name] = int(self.store.next_id())
        return data

    def _require_name(self, spec: RecordType, data: Mapping[str, Any]) -> None:
        # Every emulated vendor refuses a record without its name field, as the real ones do.
        if spec.display_field in spec.writable and not data.get(spec.display_field):
            raise Permanent(
                f"{self.system}: {spec.name} needs {spec.display_field}",
                http_status=400,
                vendor_message=f"{spec.display_field} is required",
            )


class MergingSandboxConnector(SandboxConnector):
    """The in-process sandbox of a vendor that merges records (Pipedrive): the merged record
    disappears, the kept one takes the merged one's values where its own are empty."""

    def merge(self, record_type: str, keep_id: str, merge_id: str) -> Record:
        self._call(record_type, "merge")
        if keep_id == merge_id:
            raise Permanent(f"{self.system}: cannot merge {record_type} {keep_id} with itself")
        with self.store.lock:
            kept = self.store.get(record_type, keep_id)
            if kept is None:
                raise Permanent(
                    f"{self.system}: {record_type} {keep_id} not found", http_status=404
                )
            merged = self.store.remove(record_type, merge_id)
            if merged is None:
                return self._record(record_type, kept)  # merged already: nothing to do
            taken = {k: v for k, v in merged.fields.items() if kept.fields.get(k) in (None, "")}
            stored = self.store.change(record_type, keep_id, taken, self.clock.now())
            self.store.writes += 1
        return self._record(record_type, stored)


def sandbox_connector(
    system: str,
    emulates: str,
    clock: Clock,
    store: SandboxStore | None = None,
    faults: FaultPlan | None = None,
    *,
    company_domain: str | None = None,
) -> SandboxConnector:
    """The in-process sandbox of ``emulates``, able to merge where that vendor can."""
    merges = vendor(emulates).merges if emulates in vendors() else False
    cls = MergingSandboxConnector if merges else SandboxConnector
    return cls(system, emulates, clock, store, faults, company_domain=company_domain)
