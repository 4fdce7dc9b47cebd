"""A target system shared by worker processes: every write is one line appended (O_APPEND) to
a file, so the test can count creates and deliveries across processes afterwards.

``hang_after`` makes the connector stop dead right after its Nth write, before it returns to
the engine: the moment a worker is killed in the crash test.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from connectors.base import Connector, IdField, Page, Permanent, Record

RECORD_TYPE = "thing"


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class RecordingConnector(Connector):
    def __init__(
        self,
        system: str,
        path: Path,
        *,
        hang_after: int | None = None,
        hanging: Path | None = None,
    ) -> None:
        self.system = system
        self.path = path
        self.hang_after = hang_after
        self.hanging = hanging
        self.writes = 0

    def record_types(self) -> Sequence[str]:
        return [RECORD_TYPE]

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        return Page(records=[], cursor=cursor)  # only ever a target

    def find_by_canonical_id(
        self, record_type: str, id_field: IdField, canonical_id: str
    ) -> Record | None:
        for line in read_log(self.path):
            if line["cid"] == canonical_id:
                return self._record(canonical_id, line["fields"])
        return None

    def get(self, record_type: str, external_id: str) -> Record:
        for line in read_log(self.path):
            if f"T-{line['cid']}" == external_id:
                return self._record(line["cid"], line["fields"])
        raise Permanent(f"{external_id} not found", http_status=404)

    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        self._append("create", canonical_id, fields, idempotency_key)
        return self._record(canonical_id, fields)

    def update(
        self,
        record_type: str,
        external_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Record:
        canonical_id = external_id.removeprefix("T-")
        self._append("update", canonical_id, fields, idempotency_key)
        return self._record(canonical_id, fields)

    def deep_link(self, record_type: str, external_id: str) -> str:
        return f"recording://{record_type}/{external_id}"

    def _append(
        self, op: str, canonical_id: str, fields: Mapping[str, Any], key: str | None
    ) -> None:
        line = {"op": op, "cid": canonical_id, "key": key, "pid": os.getpid(), "fields": fields}
        data = (json.dumps(line) + "\n").encode()
        # One write() of a short line with O_APPEND: whole lines, never interleaved.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        self.writes += 1
        if self.hang_after is not None and self.writes >= self.hang_after:
            if self.hanging is not None:
                # Renamed into place so a watcher never reads it half written.
                partial = self.hanging.with_suffix(".partial")
                partial.write_text(canonical_id)
                os.replace(partial, self.hanging)
            # The vendor has the write; the engine never hears of it. Wait to be killed.
            threading.Event().wait(120)
            raise SystemExit("not killed in time")

    def _record(self, canonical_id: str, fields: Mapping[str, Any]) -> Record:
        external_id = f"T-{canonical_id}"
        return Record(
            record_type=RECORD_TYPE,
            external_id=external_id,
            fields={**fields, "cid": canonical_id},
            url=self.deep_link(RECORD_TYPE, external_id),
            display_name=str(fields.get("name") or canonical_id),
        )
