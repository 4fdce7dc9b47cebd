"""The Pipedrive connector: deals, persons and organizations over API v2, custom-field
definitions over v1 (v2 has no equivalent).

Change detection pages ``GET /api/v2/<collection>`` sorted by ``update_time`` with
``updated_since``; the cursor carries the window start, the vendor's page cursor and the newest
``update_time`` seen, so a crash resumes on the same page and the next sweep starts where this
one ended. ``updated_since`` is inclusive, so the last record may come again: the engine skips
unchanged payloads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from connectors.base import (
    ConfigError,
    Connector,
    ConnectorSettings,
    IdField,
    IdFieldKind,
    Page,
    Permanent,
    Record,
    SchemaChanged,
)
from connectors.clock import Clock
from connectors.http import ExchangeLog
from connectors.paging import Cursor, CursorPaginator
from connectors.pipedrive.fields import FieldCatalog
from connectors.pipedrive.records import (
    RECORD_TYPES,
    Related,
    entity,
    flatten,
    parse_time,
    require,
    split_fields,
)
from connectors.pipedrive.session import PipedriveSession
from connectors.pipedrive.webhooks import Webhooks, parse_notification
from connectors.record_types import RecordType

if TYPE_CHECKING:
    from connectors.registry import ConnectorContext

MAX_LIMIT = 500  # v2 list maximum
IDS_PER_CALL = 100  # v2 ``ids`` takes up to 100


def web_url(options: Mapping[str, Any]) -> str:
    """The company's web app (``company_domain``), else Pipedrive's generic one."""
    domain = options.get("company_domain")
    return f"https://{domain}.pipedrive.com" if domain else "https://app.pipedrive.com"


class PipedriveConnector(Connector):
    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        clock: Clock,
        exchange_log: ExchangeLog | None = None,
        transport: httpx.BaseTransport | None = None,
        context: ConnectorContext | None = None,
    ) -> None:
        self.system = settings.system
        self.session = PipedriveSession(settings, clock, exchange_log, transport, context)
        self.http = self.session.http
        self.web_url = web_url(settings.options)
        self.webhooks = Webhooks(self.session)
        self.fields = {
            name: FieldCatalog(spec.custom_fields_path, self.session.request, self.session.json)
            for name, spec in RECORD_TYPES.items()
        }
        # the company's users by id (owners' names), read once and again for an unknown id
        self._users: dict[int, Mapping[str, Any]] | None = None
        self._unknown_users: set[int] = set()
        self._users_lock = threading.Lock()

    # -- change signals (webhooks): only a faster poll, never the source of truth ----------

    def change_signal(self, payload: Any) -> str | None:
        """The record type a webhook notification says changed (None: not one we sync)."""
        notification = parse_notification(payload)
        return notification.record_type if notification else None

    def ensure_change_signals(
        self, url: str, record_types: Sequence[str], *, user: str, password: str
    ) -> list[str]:
        """Subscribe ``url`` to changes of ``record_types`` unless already subscribed;
        returns the record types newly subscribed."""
        existing = {
            (str(hook.get("subscription_url")), str(hook.get("event_object")))
            for hook in self.webhooks.subscriptions()
        }
        added = []
        for record_type in record_types:
            if (url, record_type) not in existing:
                self.webhooks.subscribe(
                    url, record_type, http_auth_user=user, http_auth_password=password
                )
                added.append(record_type)
        return added

    # -- contract -------------------------------------------------------------------------

    def record_types(self) -> Sequence[str]:
        return list(RECORD_TYPES)

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        spec = entity(record_type)
        state = Cursor.parse(cursor, "pipedrive")
        where = f"GET {spec.path}"
        pager = CursorPaginator(f"pipedrive: {where}", _next_cursor, position=state.page)
        path, params = pager.request(spec.path)
        params |= {
            "updated_since": state.since,
            "sort_by": "update_time",
            "sort_direction": "asc",
            "limit": max(1, min(limit, MAX_LIMIT)),
        }
        body = self._get(path, params)
        items = [require(spec, item, where) for item in _data_list(body)]
        records = self._records(spec, items)
        newest = max([state.high or "", *(str(i["update_time"]) for i in items)]) or None
        if pager.advance(body, len(items)):
            return Page(records, state.next_page(str(pager.position), newest).dump(), True)
        return Page(records, state.finished(newest).dump(), has_more=False)

    def get(self, record_type: str, external_id: str) -> Record:
        spec = entity(record_type)
        path = f"{spec.path}/{_numeric(external_id)}"
        return self._records(spec, [require(spec, _data_object(self._get(path), path), path)])[0]

    def find_by_canonical_id(
        self, record_type: str, id_field: IdField, canonical_id: str
    ) -> Record | None:
        spec = entity(record_type)
        if id_field == IdField.plain("id"):
            try:
                return self.get(record_type, canonical_id)
            except Permanent as exc:
                if exc.http_status == 404:
                    return None
                raise
        name = _custom_name(id_field)
        if not canonical_id:
            raise ConfigError(f"pipedrive: empty canonical ID for {id_field}")
        key = self.fields[record_type].key_for(name, create=False)
        if key is None:
            return None  # no such field yet, so no record can hold the ID
        params = {
            "term": canonical_id,
            "entity_type": spec.name,
            "field": key,
            "match": "exact",
            "limit": 10,
        }
        for hit in _data_list(self._get("/api/v2/itemSearch/field", params)):
            found = hit.get("item", hit) if isinstance(hit, Mapping) else None
            if not isinstance(found, Mapping) or "id" not in found:
                raise SchemaChanged("pipedrive: GET /api/v2/itemSearch/field: a hit has no 'id'")
            record = self.get(record_type, str(found["id"]))
            # The search index can lag or match loosely; the record itself is the authority.
            if str(record.fields.get(name)) == canonical_id:
                return record
        return None

    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,  # Pipedrive takes no idempotency key
    ) -> Record:
        spec = entity(record_type)
        stamped = {**fields, _custom_name(id_field): canonical_id}
        body = self._body(spec, stamped)
        path = spec.path
        response = self.session.request("POST", path, json_body=body)
        item = require(spec, _data_object(self.session.json(response), path), f"POST {path}")
        return self._records(spec, [item])[0]

    def update(
        self,
        record_type: str,
        external_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Record:
        spec = entity(record_type)
        path = f"{spec.path}/{_numeric(external_id)}"
        response = self.session.request("PATCH", path, json_body=self._body(spec, fields))
        item = require(spec, _data_object(self.session.json(response), path), f"PATCH {path}")
        return self._records(spec, [item])[0]

    def merge(self, record_type: str, keep_id: str, merge_id: str) -> Record:
        """``PUT /v1/<collection>/{merge_id}/merge`` with ``merge_with_id: keep_id``: v1's
        merge (v2 has none). The record in the path is removed; ``merge_with_id`` is kept and
        its values win where both have one."""
        spec = entity(record_type)
        keep, merged = _numeric(keep_id), _numeric(merge_id)
        if keep == merged:
            raise Permanent(f"pipedrive: cannot merge {record_type} {keep} with itself")
        path = f"/v1/{spec.path.rsplit('/', 1)[-1]}/{merged}/merge"
        try:
            response = self.session.request("PUT", path, json_body={"merge_with_id": keep})
            _data_object(self.session.json(response), f"PUT {path}")
        except Permanent as exc:
            # A resent PUT (its first answer lost) or a second click finds the merged record
            # gone: done already when the kept one is still there.
            if exc.http_status != 404 or not self._gone(record_type, merge_id):
                raise
        # v1 answers in its own item shape (deals in full, organizations with only the id):
        # read the kept record back through v2 so every caller sees one shape.
        return self.get(record_type, str(keep))

    def custom_field_names(self, record_type: str) -> set[str]:
        entity(record_type)  # an unknown record type says so
        return self.fields[record_type].names()

    def deep_link(self, record_type: str, external_id: str) -> str:
        return self.web_url + entity(record_type).deep_link.format(id=external_id)

    def close(self) -> None:
        self.session.close()

    # -- helpers --------------------------------------------------------------------------

    def _gone(self, record_type: str, external_id: str) -> bool:
        try:
            self.get(record_type, external_id)
        except Permanent as exc:
            if exc.http_status == 404:
                return True
            raise
        return False

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.session.json(self.session.request("GET", path, params=params))

    def _body(self, spec: RecordType, fields: Mapping[str, Any]) -> dict[str, Any]:
        body, custom = split_fields(spec, fields)
        if custom:
            catalog = self.fields[spec.name]
            body["custom_fields"] = {
                catalog.key_for(name, create=True, sample=value): value
                for name, value in custom.items()
            }
        return body

    def _records(self, spec: RecordType, items: list[Mapping[str, Any]]) -> list[Record]:
        seen_keys = {k for item in items for k in (item.get("custom_fields") or {})}
        names = self.fields[spec.name].resolve(seen_keys) if seen_keys else {}
        related = self._related(spec, items)
        records = []
        for item in items:
            fields = flatten(spec, item, related, names)
            ident = str(item["id"])
            records.append(
                Record(
                    record_type=spec.name,
                    external_id=ident,
                    fields=fields,
                    updated_at=parse_time(item.get("update_time")),
                    url=self.deep_link(spec.name, ident),
                    display_name=str(item.get(spec.display_field) or ""),
                )
            )
        return records

    def _related(self, spec: RecordType, items: list[Mapping[str, Any]]) -> Related:
        """Names of the persons and organizations a page points at: v2 items carry only ids,
        and ``ids=`` fetches up to 100 per call, so a page costs at most two extra calls."""
        wanted: dict[str, set[int]] = {"person": set(), "organization": set()}
        for item in items:
            if spec.name == "deal" and isinstance(item.get("person_id"), int):
                wanted["person"].add(item["person_id"])
            if spec.name in ("deal", "person") and isinstance(item.get("org_id"), int):
                wanted["organization"].add(item["org_id"])
        related: dict[str, dict[int, Mapping[str, Any]]] = {}
        if spec.name in ("deal", "person", "organization"):
            owners = {i["owner_id"] for i in items if isinstance(i.get("owner_id"), int)}
            related["user"] = self._users_for(owners)
        for kind, ids in wanted.items():
            related[kind] = {}
            ordered = sorted(ids)
            for start in range(0, len(ordered), IDS_PER_CALL):
                chunk = ordered[start : start + IDS_PER_CALL]
                path = RECORD_TYPES[kind].path
                params = {"ids": ",".join(map(str, chunk)), "limit": IDS_PER_CALL}
                for found in _data_list(self._get(path, params)):
                    if isinstance(found, Mapping) and isinstance(found.get("id"), int):
                        related[kind][found["id"]] = found
        return related

    def _users_for(self, ids: set[int]) -> dict[int, Mapping[str, Any]]:
        """The users among ``ids``: ``GET /v1/users`` once, again only for an id never seen
        (a user added since). A token that may not list users (OAuth without ``users:read``)
        leaves owners' names empty rather than failing the read."""
        with self._users_lock:
            fresh = ids - (self._users or {}).keys() - self._unknown_users
            if self._users is None or fresh:
                try:
                    listed = _data_list(self._get("/v1/users"))
                except Permanent:
                    listed = []
                self._users = {
                    u["id"]: u
                    for u in listed
                    if isinstance(u, Mapping) and isinstance(u.get("id"), int)
                }
                self._unknown_users |= ids - self._users.keys()
            return {i: self._users[i] for i in ids if i in self._users}


def _custom_name(id_field: IdField) -> str:
    if id_field.kind is not IdFieldKind.CUSTOM_FIELD:
        raise ConfigError(
            f"pipedrive keeps canonical IDs in a custom field: id_field must be "
            f"'custom_field:<name>' (or 'id' to find by Pipedrive's own id), not {str(id_field)!r}"
        )
    return id_field.name


def _numeric(external_id: str) -> int:
    try:
        return int(external_id)
    except (TypeError, ValueError) as exc:
        raise Permanent(f"pipedrive: {external_id!r} is not a Pipedrive id") from exc


def _data_list(body: Any) -> list[Any]:
    data = body.get("data") if isinstance(body, Mapping) else None
    if data is None and isinstance(body, Mapping) and "data" in body:
        return []
    if not isinstance(data, list):
        raise SchemaChanged("pipedrive: list response has no 'data' list")
    return data


def _data_object(body: Any, where: str) -> Any:
    if not isinstance(body, Mapping) or "data" not in body:
        raise SchemaChanged(f"pipedrive: {where}: response has no 'data'")
    return body["data"]


def _next_cursor(body: Any) -> str | None:
    extra = body.get("additional_data") if isinstance(body, Mapping) else None
    value = extra.get("next_cursor") if isinstance(extra, Mapping) else None
    return str(value) if value else None
