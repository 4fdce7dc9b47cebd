"""A vendor that is a notebook in memory: the smallest package the kit accepts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import Connector as Base
from connectors.base import (
    ConnectorSettings,
    IdField,
    Page,
    Permanent,
    Record,
)
from connectors.record_types import RecordType, catalog
from connectors.registry import ConnectorContext
from connectors.vendor import Vendor

NOTE = RecordType.declare(
    "note",
    "id title body ref",
    writable="title body ref",
    id_field="id",
    display_field="title",
    path="/notes",
    deep_link="/notes/{id}",
)


class NotebookConnector(Base):
    def __init__(self, system: str) -> None:
        self.system = system
        self.notes: dict[str, dict[str, Any]] = {}

    def record_types(self) -> Sequence[str]:
        return ["note"]

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        return Page([self._record(i) for i in self.notes], cursor=None)

    def get(self, record_type: str, external_id: str) -> Record:
        if external_id not in self.notes:
            raise Permanent(f"note {external_id} not found", http_status=404)
        return self._record(external_id)

    def find_by_canonical_id(
        self, record_type: str, id_field: IdField, canonical_id: str
    ) -> Record | None:
        found = [i for i, n in self.notes.items() if n.get(id_field.name) == canonical_id]
        return self._record(found[0]) if found else None

    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        ident = str(len(self.notes) + 1)
        self.notes[ident] = {**fields, "id": ident, id_field.name: canonical_id}
        return self._record(ident)

    def update(
        self,
        record_type: str,
        external_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Record:
        self.notes[external_id].update(fields)
        return self._record(external_id)

    def deep_link(self, record_type: str, external_id: str) -> str:
        return VENDOR.deep_link(record_type, external_id)

    def _record(self, ident: str) -> Record:
        note = self.notes[ident]
        return Record("note", ident, dict(note), url=self.deep_link("note", ident))


def build(settings: ConnectorSettings, context: ConnectorContext) -> NotebookConnector:
    return NotebookConnector(settings.system)


VENDOR = Vendor(
    name="notebook",
    record_types=catalog(NOTE),
    build=build,
    web_url=lambda options: "https://notebook.example",
)
