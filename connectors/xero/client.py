"""The Xero Accounting API client: Contacts and Invoices under ``/api.xro/2.0``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from connectors.base import (
    AuthExpired,
    ConfigError,
    Connector,
    ConnectorError,
    IdField,
    Page,
    Permanent,
    Record,
    SchemaChanged,
    UpsertItem,
    UpsertResult,
)
from connectors.clock import Clock
from connectors.http import ExchangeLog, VendorHttp
from connectors.oauth import RefreshTokenAuth
from connectors.paging import Cursor, PagePaginator, iterate

from . import scopes
from .dates import iso, parse_xero_date
from .limits import RemainingWatch, tenant_limiter
from .resources import RECORD_TYPES, RecordType, flatten
from .upsert import BATCH_SIZE, upsert_batched

API_PATH = "/api.xro/2.0"
DEFAULT_BASE_URL = "https://api.xero.com" + API_PATH
WEB_APP = "https://go.xero.com"
# A GET page holds 100 by default and at most 1,000 with ``pageSize``.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
IDEMPOTENCY_KEY_MAX = 128

T = TypeVar("T")


def api_base_url(base_url: str | None) -> str:
    """The API root; a bare host (a sandbox's URL) gets Xero's base path appended."""
    if not base_url:
        return DEFAULT_BASE_URL
    base = base_url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def _error_message(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    messages = [
        str(err.get("Message"))
        for element in body.get("Elements") or []
        if isinstance(element, Mapping)
        for err in element.get("ValidationErrors") or []
        if isinstance(err, Mapping)
    ]
    for key in ("Message", "Detail", "Title", "error_description", "error"):
        if body.get(key):
            messages.insert(0, str(body[key]))
            break
    return "; ".join(messages) or None


def _batch_key(verb: str, keys: Sequence[str]) -> str:
    if len(keys) == 1 and len(keys[0]) <= IDEMPOTENCY_KEY_MAX:
        return keys[0]
    return hashlib.sha256("\n".join([verb, *keys]).encode()).hexdigest()


def _more(size: int) -> Callable[[Any, int, int], bool]:
    """Whether a page is not the last: Xero's ``pagination.pageCount`` when it sends one, else
    a full page."""

    def more(body: Any, count: int, page: int) -> bool:
        pagination = body.get("pagination") if isinstance(body, Mapping) else None
        if isinstance(pagination, Mapping) and isinstance(pagination.get("pageCount"), int):
            return page < int(pagination["pageCount"])
        return count >= size

    return more


SINCE_OVERLAP = timedelta(seconds=1)


def _overlap(high: str | None) -> str | None:
    """The next If-Modified-Since, a second before the newest change seen: a record changed
    in the same instant as that one is read again rather than missed (an unchanged record
    makes no new event)."""
    if high is None:
        return None
    return iso(datetime.fromisoformat(high.replace("Z", "+00:00")) - SINCE_OVERLAP)


class XeroConnector(Connector):
    system = "xero"
    batch_size = BATCH_SIZE

    def __init__(
        self,
        *,
        auth_factory: Callable[[VendorHttp], RefreshTokenAuth],
        tenant_id: str,
        clock: Clock,
        base_url: str | None = None,
        token_url: str,
        exchange_log: ExchangeLog | None = None,
        transport: httpx.BaseTransport | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: float = 30.0,
        short_code: str | None = None,
        system: str = "xero",
    ) -> None:
        self.system = system
        self.clock = clock
        self.tenant_id = tenant_id
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self.short_code = short_code
        token = urlsplit(token_url)
        self.identity = VendorHttp(
            f"{system}-identity",
            f"{token.scheme}://{token.netloc}",
            clock=clock,
            exchange_log=exchange_log,
            error_message=_error_message,
            secrets=lambda: [*self.auth.secrets(), self.tenant_id],
            timeout=timeout,
            transport=transport,
        )
        self.auth = auth_factory(self.identity)
        self.limiter = tenant_limiter(clock)
        self.remaining = RemainingWatch(self.limiter, clock)
        self.http = VendorHttp(
            system,
            api_base_url(base_url),
            clock=clock,
            limiter=self.limiter,
            exchange_log=exchange_log,
            auth=self._authorize,
            on_response=self.remaining,
            error_message=_error_message,
            secrets=lambda: [*self.auth.secrets(), self.tenant_id],
            timeout=timeout,
            transport=transport,
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _authorize(self, request: httpx.Request) -> None:
        self.auth.apply(request)
        request.headers["xero-tenant-id"] = self.tenant_id

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call as JSON; a 401 refreshes the token once and tries again."""
        token = self.auth.tokens.access_token
        try:
            response = self.http.request(method, path, **kwargs)
        except AuthExpired:
            self.auth.force_refresh(token)
            # A second 401 raises AuthExpired again: refreshed once, never in a loop.
            response = self.http.request(method, path, **kwargs)
        body = self.http.json(response)
        if not isinstance(body, Mapping):
            raise SchemaChanged(f"xero: {method} {path} did not answer a JSON object")
        return body

    def resource_for(self, record_type: str) -> RecordType:
        resource = RECORD_TYPES.get(record_type)
        if resource is None:
            raise ConfigError(
                f"xero: unknown record type {record_type!r}; known: {', '.join(RECORD_TYPES)}"
            )
        return resource

    def _elements(self, resource: RecordType, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        elements = body.get(resource.body_key)
        if not isinstance(elements, list):
            raise SchemaChanged(
                f"xero: response has no {resource.body_key!r} array "
                f"(keys: {', '.join(sorted(body)) or 'none'})"
            )
        return elements

    def _record(self, resource: RecordType, element: Mapping[str, Any]) -> Record:
        external_id = element.get(resource.id_field)
        if not external_id:
            raise SchemaChanged(
                f"xero: {resource.name} element lacks {resource.id_field!r} "
                f"(keys: {', '.join(sorted(element))})"
            )
        if "UpdatedDateUTC" not in element:
            raise SchemaChanged(f"xero: {resource.name} element lacks 'UpdatedDateUTC'")
        display = element.get(resource.display_field)
        return Record(
            record_type=resource.name,
            external_id=str(external_id),
            fields=flatten(resource, element),
            updated_at=parse_xero_date(element["UpdatedDateUTC"]),
            url=self.deep_link(resource.name, str(external_id)),
            display_name=str(display) if display is not None else None,
        )

    @staticmethod
    def plain_field(id_field: IdField) -> str:
        if not id_field.is_plain:
            raise ConfigError(
                "xero: contacts and invoices have no custom fields in the API; "
                "keep the canonical ID in a plain field such as ContactNumber"
            )
        return id_field.name

    @staticmethod
    def _where(id_field: str, values: Sequence[str]) -> str:
        for value in values:
            if '"' in value or "\\" in value:
                raise ConfigError(f"xero: canonical ID {value!r} cannot go into a where filter")
        return " OR ".join(f'{id_field}=="{value}"' for value in values)

    # -- reading -----------------------------------------------------------------------------

    def record_types(self) -> Sequence[str]:
        return list(RECORD_TYPES)

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        """Pages of records modified after ``since`` (If-Modified-Since), oldest first.

        The cursor keeps ``since`` fixed while paging so a page boundary never moves under
        us; the newest ``UpdatedDateUTC`` seen becomes the next ``since`` once paging ends.
        """
        resource = self.resource_for(record_type)
        state = Cursor.parse(cursor, "xero")
        size = state.size or max(1, min(limit, MAX_PAGE_SIZE))
        pager = PagePaginator(f"xero: GET {resource.path}", _more(size), position=state.page)
        path, params = pager.request(resource.path)
        params |= {"pageSize": size, "order": "UpdatedDateUTC ASC", "includeArchived": "true"}
        headers = {"If-Modified-Since": state.since} if state.since else None
        body = self._call("GET", path, params=params, headers=headers)
        records = [self._record(resource, e) for e in self._elements(resource, body)]
        high = state.high
        for record in records:
            stamp = iso(record.updated_at)
            if stamp and (high is None or stamp > high):
                high = stamp
        if pager.advance(body, len(records)):
            following = Cursor(since=state.since, page=pager.position, high=high, size=size)
            return Page(records=records, cursor=following.dump(), has_more=True)
        return Page(records=records, cursor=state.finished(_overlap(high)).dump(), has_more=False)

    def get(self, record_type: str, external_id: str) -> Record:
        resource = self.resource_for(record_type)
        body = self._call("GET", f"{resource.path}/{quote(external_id)}")
        elements = self._elements(resource, body)
        if not elements:
            raise Permanent(f"xero: {record_type} {external_id} not found", http_status=404)
        return self._record(resource, elements[0])

    def get_many(self, record_type: str, external_ids: Sequence[str]) -> dict[str, Record]:
        """The records of ``external_ids`` that exist, by id: one GET with Xero's ``IDs``
        filter (comma-separated ContactIDs or InvoiceIDs) per 50 ids."""
        resource = self.resource_for(record_type)
        asked = {ident.lower(): ident for ident in external_ids}
        for ident in asked:
            if "," in ident or not ident.strip():
                raise ConfigError(f"xero: {ident!r} is not a {resource.name} id")
        found: dict[str, Record] = {}
        ids = list(asked)
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ",".join(ids[start : start + BATCH_SIZE])
            for element in self._listed(resource, {"IDs": chunk}):
                record = self._record(resource, element)
                given = asked.get(record.external_id.lower())
                if given is not None:
                    found[given] = record
        return found

    def _listed(
        self, resource: RecordType, filters: Mapping[str, str]
    ) -> Iterator[Mapping[str, Any]]:
        """Every element a filtered GET of ``resource`` lists, archived ones too, page by page."""

        def fetch(path: str, params: Mapping[str, Any]) -> tuple[Any, list[Mapping[str, Any]]]:
            query = {**params, **filters, "pageSize": DEFAULT_PAGE_SIZE}
            body = self._call("GET", path, params={**query, "includeArchived": "true"})
            return body, self._elements(resource, body)

        pager = PagePaginator(f"xero: GET {resource.path}", _more(DEFAULT_PAGE_SIZE))
        return iterate(pager, resource.path, fetch)

    def find_many(
        self, resource: RecordType, id_field: str, values: Sequence[str]
    ) -> dict[str, Record]:
        found: dict[str, Record] = {}
        for element in self._listed(resource, {"where": self._where(id_field, values)}):
            value = element.get(id_field)
            if value is not None and str(value) in values:
                found.setdefault(str(value), self._record(resource, element))
        return found

    def find_by_canonical_id(
        self, record_type: str, id_field: IdField, canonical_id: str
    ) -> Record | None:
        resource = self.resource_for(record_type)
        field = self.plain_field(id_field)
        return self.find_many(resource, field, [canonical_id]).get(canonical_id)

    # -- writing -----------------------------------------------------------------------------

    def payload(self, resource: RecordType, fields: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - resource.writable)
        if unknown:
            raise ConfigError(f"xero: {resource.name} fields not writable: {', '.join(unknown)}")
        return dict(fields)

    def write_batch(
        self, resource: RecordType, verb: str, payloads: list[dict[str, Any]], keys: Sequence[str]
    ) -> list[Record | ConnectorError]:
        """One batched PUT (create) or POST (update); one record or error per payload.

        ``summarizeErrors=false`` makes Xero answer 200 with each element's own
        ValidationErrors instead of failing the whole batch for one bad element.
        """
        body = self._call(
            verb,
            resource.path,
            params={"summarizeErrors": "false"},
            json_body={resource.body_key: payloads},
            headers={"Idempotency-Key": _batch_key(verb, keys)},
        )
        elements = self._elements(resource, body)
        if len(elements) != len(payloads):
            raise SchemaChanged(
                f"xero: {verb} {resource.path} answered {len(elements)} elements "
                f"for {len(payloads)} sent"
            )
        results: list[Record | ConnectorError] = []
        for element in elements:
            errors = [
                str(e.get("Message"))
                for e in element.get("ValidationErrors") or []
                if isinstance(e, Mapping)
            ]
            if errors or element.get("HasValidationErrors") is True:
                message = "; ".join(errors) or "validation failed"
                results.append(
                    Permanent(
                        f"xero: {resource.name} rejected",
                        http_status=400,
                        vendor_message=message,
                        exchange_id=self.http.last_exchange_id,
                    )
                )
            else:
                results.append(self._record(resource, element))
        return results

    @staticmethod
    def _one(result: Record | ConnectorError) -> Record:
        if isinstance(result, ConnectorError):
            raise result
        return result

    def create(
        self,
        record_type: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,
    ) -> Record:
        resource = self.resource_for(record_type)
        payload = self.payload(resource, fields)
        payload[self.plain_field(id_field)] = canonical_id
        key = idempotency_key or f"create:{record_type}:{canonical_id}"
        return self._one(self.write_batch(resource, "PUT", [payload], [key])[0])

    def update(
        self,
        record_type: str,
        external_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Record:
        resource = self.resource_for(record_type)
        payload = {resource.id_field: external_id, **self.payload(resource, fields)}
        key = idempotency_key or f"update:{record_type}:{external_id}"
        return self._one(self.write_batch(resource, "POST", [payload], [key])[0])

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        """Batches of 50: one ``where`` query finds the existing records of a batch (ORed
        canonical IDs), then one PUT creates the new ones and one POST updates the rest."""
        return upsert_batched(self, items)

    # -- links and lifecycle -----------------------------------------------------------------

    def deep_link(self, record_type: str, external_id: str) -> str:
        path = self.resource_for(record_type).deep_link.format(id=external_id)
        if self.short_code:
            # Xero's deep-link form that also selects the organisation.
            return (
                f"{WEB_APP}/organisationlogin/default.aspx?shortcode={quote(self.short_code)}"
                f"&redirecturl={path}"
            )
        return WEB_APP + path

    def missing_scopes(self, reads: Set[str], writes: Set[str]) -> list[str] | None:
        """What the token lacks, from the scopes the token endpoint said it granted (it says
        so on every refresh; None before this process refreshed)."""
        granted = self.auth.granted_scopes
        return None if granted is None else scopes.missing_scopes(granted, reads, writes)

    def close(self) -> None:
        self.http.close()
        self.identity.close()
