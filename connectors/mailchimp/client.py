"""The Mailchimp connector: audience members (read and upsert by canonical ID) and audiences
(read-only, for discovery), over the Marketing API 3.0.

Change detection reads ``GET /lists/{list_id}/members`` in ascending ``last_changed`` order and
pages by that key (see :mod:`.changes`), so a member that changes while a sweep is under way
cannot shift another one out of it. Large upserts (a backfill) go through batch operations; a
few go one call each, which answers in a second instead of a poll.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from connectors.base import (
    ConfigError,
    Connector,
    ConnectorSettings,
    IdField,
    Page,
    Permanent,
    Record,
    SchemaChanged,
    UpsertItem,
    UpsertResult,
)
from connectors.clock import Clock
from connectors.http import ExchangeLog
from connectors.paging import Cursor

from .audience import MAX_COUNT, CanonicalIndex, MergeFields
from .changes import OVERLAP, ChangeCursor
from .records import (
    DEFAULT_STATUS,
    RECORD_TYPES,
    MemberWrite,
    RecordType,
    flatten_audience,
    flatten_member,
    iso,
    member_write,
    merge_tag,
    parse_time,
    record_type,
    require,
    subscriber_hash,
    with_tags,
)
from .session import MailchimpSession
from .upsert import upsert_batched
from .webhooks import MEMBER_EVENTS, SECRET_PARAM, Webhooks, parse_notification, secret_url

BATCH_THRESHOLD = 20  # fewer items than this go one call each


class MailchimpConnector(Connector):
    batch_size = 500  # operations per batch (batched upsert)

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        clock: Clock,
        exchange_log: ExchangeLog | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.system = settings.system or "mailchimp"
        self.clock = clock
        self.session = MailchimpSession(settings, clock, exchange_log, transport)
        self.list_id = str(settings.options.get("list_id") or "")
        self.batch_threshold = int(settings.options.get("batch_threshold", BATCH_THRESHOLD))
        self.status_if_new = str(settings.options.get("status_if_new", DEFAULT_STATUS))
        dc = self.session.credentials.data_centre or "us1"
        self.web_url = f"https://{dc}.admin.mailchimp.com"
        self._web_ids: dict[str, str] = {}
        self._merge_fields: MergeFields | None = None
        self._indexes: dict[str, CanonicalIndex] = {}
        self.webhooks = Webhooks(self.call, f"/lists/{self.list_id}")

    # -- plumbing -------------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.session.call(method, path, **kwargs)

    @property
    def members_path(self) -> str:
        if not self.list_id:
            raise ConfigError(f"{self.system}: the 'list_id' option (the audience) is not set")
        return f"/lists/{self.list_id}/members"

    @property
    def merge_fields(self) -> MergeFields:
        if self._merge_fields is None:
            self._merge_fields = MergeFields(self.call, self.members_path)
        return self._merge_fields

    def index(self, tag: str) -> CanonicalIndex:
        if tag not in self._indexes:
            self._indexes[tag] = CanonicalIndex(self.call, self.members_path, tag, self.clock)
        return self._indexes[tag]

    def member_path(self, member_hash: str) -> str:
        return f"{self.members_path}/{member_hash}"

    def member_record(self, item: Any, where: str) -> Record:
        spec = RECORD_TYPES["member"]
        member = require(spec, item, where)
        ident = str(member["id"])
        if "last_changed" not in member:
            raise SchemaChanged(f"mailchimp: {where}: member has no 'last_changed'")
        if member.get("web_id") is not None:
            self._web_ids[ident] = str(member["web_id"])
        for index in self._indexes.values():
            value = (member.get("merge_fields") or {}).get(index.tag)
            index.note(str(value) if value not in (None, "") else None, ident)
        return Record(
            record_type="member",
            external_id=ident,
            fields=flatten_member(member),
            updated_at=parse_time(member.get("last_changed")),
            url=self.deep_link("member", ident),
            display_name=str(member.get("full_name") or member.get("email_address") or ""),
        )

    def _audience_record(self, item: Any, where: str) -> Record:
        audience = require(RECORD_TYPES["audience"], item, where)
        ident = str(audience["id"])
        if audience.get("web_id") is not None:
            self._web_ids[ident] = str(audience["web_id"])
        return Record(
            record_type="audience",
            external_id=ident,
            fields=flatten_audience(audience),
            updated_at=parse_time(audience.get("date_created")),
            url=self.deep_link("audience", ident),
            display_name=str(audience.get("name") or ""),
        )

    # -- change signals (webhooks): only a faster poll, never the source of truth ----------

    signal_secret_param = SECRET_PARAM  # the receiver checks this query parameter, not auth

    def change_signal(self, payload: Any) -> str | None:
        """The record type a notification says changed: ``member`` for a member event of this
        audience, else None."""
        notification = parse_notification(payload if isinstance(payload, Mapping) else {})
        if notification is None or notification.event not in MEMBER_EVENTS:
            return None
        if notification.list_id not in (None, self.list_id):
            return None
        return "member"

    def ensure_change_signals(
        self, url: str, record_types: Sequence[str], *, user: str, password: str
    ) -> list[str]:
        """Subscribe ``url`` (with the password as its secret) to the audience's member
        changes unless already subscribed; returns the record types newly subscribed."""
        if "member" not in record_types or not password:
            return []
        target = secret_url(url, password)
        self.session.extra_secrets.extend([password, target.rpartition("=")[2]])
        if any(str(h.get("url")) == target for h in self.webhooks.subscriptions()):
            return []
        self.webhooks.subscribe(target)
        return ["member"]

    # -- reading --------------------------------------------------------------------------

    def record_types(self) -> Sequence[str]:
        return list(RECORD_TYPES)

    def _window_end(self, *, full_read: bool) -> str:
        """Where a sweep's window ends. A sweep goes up to the start of this second (times are
        whole seconds, and a window must end in the past so no member can move into it
        mid-sweep); what changes in this second is the next sweep's. A full read (no cursor:
        matching, discovery, a first poll) has no next sweep to wait for, so it waits for
        this second to end and reads it too."""
        now = self.clock.now()
        if not full_read:
            return iso(now)
        end = now.replace(microsecond=0) + OVERLAP
        self.clock.sleep((end - now).total_seconds())
        return iso(end)

    def list_changed(self, record_type_name: str, cursor: str | None, *, limit: int = 100) -> Page:
        spec = record_type(record_type_name)
        count = max(1, min(limit, MAX_COUNT))
        if spec.name == "audience":
            return self._audiences(cursor, count)
        state = ChangeCursor.decode(cursor)
        state.open_window(self._window_end(full_read=cursor is None))
        where = f"GET {self.members_path}"
        body = self.call("GET", self.members_path, params=state.params(count))
        items = _array(body, "members", where)
        total = body.get("total_items")
        if not isinstance(total, int):
            raise SchemaChanged(f"mailchimp: {where}: response has no 'total_items' count")
        records = [self.member_record(i, where) for i in items]
        fresh = state.take(records, total, full=len(items) >= count)
        return Page(fresh, state.encode(), has_more=state.open)

    def _audiences(self, cursor: str | None, count: int) -> Page:
        offset = _offset(cursor)
        body = self.call("GET", "/lists", params={"count": count, "offset": offset})
        items = _array(body, "lists", "GET /lists")
        records = [self._audience_record(i, "GET /lists") for i in items]
        total = body.get("total_items")
        more = bool(items) and isinstance(total, int) and offset + len(items) < total
        following = Cursor(page=str(offset + len(items))) if more else Cursor()
        return Page(records, following.dump(), more)

    def audiences(self) -> list[Record]:
        """Every audience of the account (to find the ``list_id`` a map should name)."""
        found: list[Record] = []
        cursor: str | None = None
        while True:
            page = self._audiences(cursor, MAX_COUNT)
            found.extend(page.records)
            if not page.has_more:
                return found
            cursor = page.cursor

    def get(self, record_type_name: str, external_id: str) -> Record:
        spec = record_type(record_type_name)
        if spec.name == "audience":
            path = f"/lists/{external_id}"
            return self._audience_record(self.call("GET", path), f"GET {path}")
        path = self.member_path(external_id)
        return self.member_record(self.call("GET", path), f"GET {path}")

    def find_by_canonical_id(
        self, record_type_name: str, id_field: IdField, canonical_id: str
    ) -> Record | None:
        self._writable(record_type(record_type_name))
        tag = merge_tag(id_field)
        if not self.merge_fields.exists(tag):
            return None  # no such merge field yet, so no member can hold the ID
        index = self.index(tag)
        if canonical_id not in index.by_cid:
            index.refresh()
        member_hash = index.by_cid.get(canonical_id)
        if member_hash is None:
            return None
        try:
            record = self.get("member", member_hash)
        except Permanent as exc:
            if exc.http_status != 404:
                raise
            index.forget(member_hash)
            return None
        # The index is a hint; the member itself is the authority.
        return record if str(record.fields.get(tag) or "") == canonical_id else None

    # -- writing --------------------------------------------------------------------------

    def create(
        self,
        record_type_name: str,
        fields: Mapping[str, Any],
        *,
        id_field: IdField,
        canonical_id: str,
        idempotency_key: str | None = None,  # Mailchimp takes none; PUT by address is safe
    ) -> Record:
        self._writable(record_type(record_type_name))
        tag = merge_tag(id_field)
        self.merge_fields.ensure(tag)
        write = member_write({**fields, tag: canonical_id})
        if not write.email:
            raise ConfigError(f"{self.system}: a new member needs email_address")
        member_hash = subscriber_hash(write.email)
        self._claimable(tag, member_hash, canonical_id)
        record = self.member_record(
            self.call("PUT", self.member_path(member_hash), json_body=self.put_body(write)),
            "PUT member",
        )
        self.created_early(record.external_id)
        return self._tagged(record, write)

    def update(
        self,
        record_type_name: str,
        external_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Record:
        self._writable(record_type(record_type_name))
        write = member_write(fields)
        for tag in write.body.get("merge_fields") or {}:
            # stamping a canonical ID into a member typed in before Handoff (``handoff match
            # apply``) may be the audience's first use of that merge field, as in create
            self.merge_fields.ensure(tag)
        method, body = self.update_call(external_id, write)
        if body:
            path = self.member_path(external_id)
            record = self.member_record(self.call(method, path, json_body=body), f"{method} member")
        else:
            record = self.get("member", external_id)
        return self._tagged(record, write)

    def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        """A few items one call each; a backfill through batch operations."""
        if len(items) < self.batch_threshold:
            return super().upsert_many(items)
        return upsert_batched(self, items)

    # -- helpers shared with the batched upsert ------------------------------------------------

    def put_body(self, write: MemberWrite) -> dict[str, Any]:
        body = dict(write.body)
        body["status_if_new"] = body.get("status", self.status_if_new)
        return body

    def update_call(self, member_hash: str, write: MemberWrite) -> tuple[str, dict[str, Any]]:
        """PUT when the email still addresses this member; PATCH when it changes (or is not
        given: PUT needs it)."""
        if write.email and subscriber_hash(write.email) == member_hash:
            return "PUT", self.put_body(write)
        return "PATCH", dict(write.body)

    def _claimable(self, tag: str, member_hash: str, canonical_id: str) -> None:
        """A member already at this address that holds another canonical ID is someone else:
        writing would take it over."""
        index = self.index(tag)
        if member_hash not in index.by_hash:
            try:
                self.get("member", member_hash)
            except Permanent as exc:
                if exc.http_status == 404:
                    return
                raise
        held = index.by_hash.get(member_hash)
        if held and held != canonical_id:
            raise Permanent(
                f"{self.system}: the email address belongs to the member holding {held}",
                http_status=409,
            )

    def _tagged(self, record: Record, write: MemberWrite) -> Record:
        body = write.tag_body()
        if body is None:
            return record
        self.call("POST", f"{self.member_path(record.external_id)}/tags", json_body=body)
        return with_tags(record, write)

    @staticmethod
    def _writable(spec: RecordType) -> None:
        if not spec.writable:
            raise ConfigError(f"mailchimp: {spec.name} is read-only")

    def deep_link(self, record_type_name: str, external_id: str) -> str:
        """The declared page of a record whose ``web_id`` was read; else its audience's."""
        fields = {"web_id": self._web_ids.get(external_id)}
        path = record_type(record_type_name).link(external_id, fields=fields)
        if path is None:
            audience = external_id if record_type_name == "audience" else self.list_id
            path = f"/lists/members?id={self._web_ids.get(audience) or audience}"
        return self.web_url + path

    def close(self) -> None:
        self.session.close()


def _offset(cursor: str | None) -> int:
    """The audiences' place in the list (``{"offset": n}`` cursors of earlier versions read as
    the kit's ``page``)."""
    page = Cursor.parse(cursor, "mailchimp").page
    if page is None:
        return 0
    if not page.isdigit():
        raise ConfigError(f"mailchimp: unreadable change cursor {cursor!r:.80}")
    return int(page)


def _array(body: Any, key: str, where: str) -> list[Any]:
    items = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise SchemaChanged(f"mailchimp: {where}: response has no {key!r} list")
    return items
