"""The Asana connector: projects of one team (and tasks of one project) in one workspace, with
the canonical ID kept in a text custom field."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.base import ConfigError, Connector, IdField, Page, Record, UpsertItem, UpsertResult
from connectors.paging import Cursor
from connectors.record_types import RecordType

from .api import AsanaApi
from .custom_fields import CustomFields, custom_field_name
from .marker import marked, unmarked
from .records import PROJECT, RECORD_TYPES, is_new, seen, to_record

WEB_APP = "https://app.asana.com"


class AsanaConnector(Connector):
    batch_size = 50

    system = "asana"

    def __init__(
        self, api: AsanaApi, *, workspace: str, team: str, project: str | None = None
    ) -> None:
        self.api = api
        self.workspace = workspace
        self.team = team
        self.project = project
        self.custom_fields = CustomFields(api, workspace)
        # during upsert_many: records listed once, by (record type, canonical-ID field)
        self._batch_index: dict[tuple[str, str], dict[str, Record]] | None = None
        # projects seen still carrying a create's mark: gid -> (canonical ID, unmarked notes)
        self._marks: dict[str, tuple[str, str | None]] = {}

    def record_types(self) -> Sequence[str]:
        return list(RECORD_TYPES)

    def close(self) -> None:
        self.api.close()

    # --- reading --------------------------------------------------------------------------

    def _kind(self, record_type: str) -> RecordType:
        kind = RECORD_TYPES.get(record_type)
        if kind is None:
            raise ConfigError(f"asana: unknown record type {record_type!r}")
        if kind is not PROJECT and not self.project:
            raise ConfigError("asana: tasks need the option 'project' (a project gid)")
        return kind

    def _list_source(self, kind: RecordType, since: str | None) -> tuple[str, dict[str, Any]]:
        if kind is PROJECT:
            # Project lists take no modified_since (only GET /tasks does), so each sweep reads
            # the team's projects and keeps those modified after the watermark client-side.
            return f"/teams/{self.team}/projects", {"opt_fields": PROJECT.request_fields}
        return "/tasks", {
            "project": self.project,
            "modified_since": since,
            "opt_fields": kind.request_fields,
        }

    def _record(self, kind: RecordType, raw: Any) -> Record:
        record = to_record(kind, raw)
        if record.url is None:
            record = dataclasses.replace(record, url=self.deep_link(kind.name, record.external_id))
        if kind is PROJECT:
            notes, mark = unmarked(record.fields.get("notes"))
            if mark is not None:
                # Half-made by an earlier create: shown without the mark, adopted by its ID.
                self._marks[record.external_id] = (mark, notes)
                record = dataclasses.replace(record, fields={**record.fields, "notes": notes})
            else:
                self._marks.pop(record.external_id, None)
        return record

    def _canonical_value(self, record: Record, key: str) -> str | None:
        value = record.fields.get(key)
        if value not in (None, ""):
            return str(value)
        mark = self._marks.get(record.external_id)
        return mark[0] if mark is not None else None

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        kind = self._kind(record_type)
        state = Cursor.parse(cursor, "asana")
        path, params = self._list_source(kind, state.since)
        pager = self.api.paginator(path, state.page)
        target, query = pager.request(path)
        body, items = self.api.page(target, {**params, **query}, limit=limit)
        records = [self._record(kind, raw) for raw in items]
        high = seen(state, records)
        changed = [r for r in records if is_new(state, r)]
        if pager.advance(body, len(items)):
            return Page(changed, state.next_page(str(pager.position), high).dump(), has_more=True)
        return Page(changed, state.finished(high).dump(), has_more=False)

    def get(self, record_type: str, external_id: str) -> Record:
        kind = self._kind(record_type)
        raw = self.api.data(
            "GET", f"{kind.path}/{external_id}", params={"opt_fields": kind.request_fields}
        )
        return self._record(kind, raw)

    def find_by_canonical_id(
        self, record_type: str, id_field: IdField, canonical_id: str
    ) -> Record | None:
        kind = self._kind(record_type)
        name = custom_field_name(id_field)
        if name is not None and self.custom_fields.find(name) is None:
            return None  # the field does not exist yet, so no record can hold the ID
        key = name if name is not None else id_field.name
        if self._batch_index is not None:
            return self._indexed(kind, key).get(canonical_id)
        # Asana's search endpoints are premium-only and eventually consistent (10-60 s), so a
        # record created a moment ago could be missed and duplicated; listing is consistent.
        for record in self._listing(kind):
            if self._canonical_value(record, key) == canonical_id:
                return record
        return None

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        """Upsert a batch, listing the records once to find them all by canonical ID (one
        listing per batch instead of one per item keeps us far below the request quota)."""
        self._batch_index = {}
        try:
            results = super().upsert_many(items)
        finally:
            self._batch_index = None
        return results

    def _listing(self, kind: RecordType) -> Iterator[Record]:
        path, params = self._list_source(kind, None)
        for raw in self.api.iterate(path, params):
            yield self._record(kind, raw)

    def _indexed(self, kind: RecordType, key: str) -> dict[str, Record]:
        assert self._batch_index is not None
        if (kind.name, key) not in self._batch_index:
            index: dict[str, Record] = {}
            for record in self._listing(kind):
                value = self._canonical_value(record, key)
                if value is not None:
                    index.setdefault(value, record)
            self._batch_index[(kind.name, key)] = index
        return self._batch_index[(kind.name, key)]

    def _remember_in_batch(
        self, kind: RecordType, key: str, canonical_id: str, record: Record
    ) -> None:
        """A record created in this batch is found by the batch's later items."""
        if self._batch_index is not None and (kind.name, key) in self._batch_index:
            self._batch_index[(kind.name, key)][canonical_id] = record

    # --- writing --------------------------------------------------------------------------

    def _split(
        self, kind: RecordType, fields: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        spec = kind
        native: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name, value in fields.items():
            if name in spec.writable:
                native[name] = value
            elif name in spec.fields:
                raise ConfigError(f"asana: {kind.name} field {name!r} is read-only")
            else:
                custom[name] = value
        return native, self.custom_fields.values(custom)

    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        record = self._create(record_type, fields, id_field=id_field, canonical_id=canonical_id)
        key = custom_field_name(id_field) or id_field.name
        self._remember_in_batch(self._kind(record_type), key, canonical_id, record)
        return record

    def _create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        kind = self._kind(record_type)
        native, custom = self._split(kind, fields)
        name = custom_field_name(id_field)
        if name is not None:
            custom[self.custom_fields.ensure(name)] = canonical_id
        elif id_field.is_plain and id_field.name in kind.writable:
            native[id_field.name] = canonical_id
        else:
            raise ConfigError(f"asana: cannot store a canonical ID in {kind.name}.{id_field}")
        opt = {"opt_fields": kind.request_fields}
        if kind is PROJECT:
            # A project must exist before a field can be attached to it and given a value, so
            # the first call carries the canonical ID as a mark in the notes (see marker).
            first = dict(native)
            if name is not None:
                first["notes"] = marked(native.get("notes"), canonical_id)
            raw = self.api.data("POST", f"/teams/{self.team}/projects", params=opt, data=first)
            self.created_early(str(raw["gid"]))
            if not custom:
                return self._record(kind, raw)
            unmark = {"notes": native.get("notes") or ""}
            return self._write_project(str(raw["gid"]), unmark, custom)
        assert self.project is not None
        self.custom_fields.attach(self.project, list(custom))
        data = dict(native, projects=[self.project], custom_fields=custom)
        return self._record(kind, self.api.data("POST", "/tasks", params=opt, data=data))

    def update(
        self,
        record_type: str,
        external_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Record:
        kind = self._kind(record_type)
        native, custom = self._split(kind, fields)
        if kind is PROJECT:
            return self._write_project(external_id, native, custom)
        if custom:
            assert self.project is not None
            self.custom_fields.attach(self.project, list(custom))
            native["custom_fields"] = custom
        raw = self.api.data(
            "PUT", f"/tasks/{external_id}", params={"opt_fields": kind.request_fields}, data=native
        )
        return self._record(kind, raw)

    def _write_project(self, gid: str, native: dict[str, Any], custom: dict[str, str]) -> Record:
        mark = self._marks.pop(gid, None)
        if mark is not None and "notes" not in native:
            native = dict(native, notes=mark[1] or "")  # adopting it: the mark's work is done
        if custom:
            self.custom_fields.attach(gid, list(custom))
            native = dict(native, custom_fields=custom)
        raw = self.api.data(
            "PUT", f"/projects/{gid}", params={"opt_fields": PROJECT.request_fields}, data=native
        )
        return self._record(PROJECT, raw)

    def custom_field_names(self, record_type: str) -> set[str]:
        """The workspace's custom fields: Asana defines them per workspace, not per kind."""
        return self.custom_fields.names()

    def deep_link(self, record_type: str, external_id: str) -> str:
        kind = RECORD_TYPES.get(record_type)
        if kind is None:
            raise ConfigError(f"asana: unknown record type {record_type!r}")
        return WEB_APP + kind.deep_link.format(workspace=self.workspace, id=external_id)
