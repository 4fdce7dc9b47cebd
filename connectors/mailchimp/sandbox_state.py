"""The Mailchimp sandbox's memory: audiences, their merge fields and members, in the API's
shapes, so the HTTP layer only filters, pages and serialises them."""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from connectors.clock import Clock

from .records import TAG_PATTERN, WRITE_STATUSES, iso, parse_time, subscriber_hash

DEFAULT_MERGE_FIELDS = (("FNAME", "First Name"), ("LNAME", "Last Name"))


class Invalid(Exception):
    """A request the sandbox refuses, with Mailchimp's problem ``title`` and ``status``."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


class SandboxState:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.lists: dict[str, dict[str, Any]] = {}
        self.merge_fields: dict[str, list[dict[str, Any]]] = {}
        self.members: dict[str, dict[str, dict[str, Any]]] = {}
        self._next_web_id = 1000
        # Told of each member written: (list_id, member now, member before or None).
        self.on_change: Callable[[str, dict[str, Any], dict[str, Any] | None], None] | None = None

    # -- audiences and merge fields ----------------------------------------------------------

    def add_list(self, name: str) -> dict[str, Any]:
        with self.lock:
            list_id = hashlib.md5(f"list:{name}".encode(), usedforsecurity=False).hexdigest()[:10]
            self.lists[list_id] = {
                "id": list_id,
                "web_id": self._web_id(),
                "name": name,
                "date_created": iso(self.clock.now()),
            }
            self.merge_fields[list_id] = []
            self.members[list_id] = {}
            for tag, label in DEFAULT_MERGE_FIELDS:
                self.add_merge_field(list_id, {"tag": tag, "name": label, "type": "text"})
            return self.audience(list_id)

    def audience(self, list_id: str) -> dict[str, Any]:
        with self.lock:
            audience = self._list(list_id)
            return {**audience, "stats": {"member_count": len(self.members[list_id])}}

    def add_merge_field(self, list_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            fields = self.merge_fields[self._list(list_id)["id"]]
            name = str(body.get("name") or "")
            if not name or body.get("type") not in ("text", "number", "date", "phone", "url"):
                raise Invalid(400, "Invalid Resource", "name and a known type are required")
            tag = str(body.get("tag") or f"MERGE{len(fields) + 1}")
            if not TAG_PATTERN.match(tag):
                raise Invalid(400, "Invalid Resource", f"invalid merge tag {tag!r}")
            if any(f["tag"] == tag for f in fields):
                raise Invalid(400, "Invalid Resource", f"merge tag {tag} already exists")
            field = {
                "merge_id": len(fields) + 1,
                "tag": tag,
                "name": name,
                "type": body["type"],
                "required": False,
                "public": bool(body.get("public", False)),
                "list_id": list_id,
            }
            fields.append(field)
            return field

    def tags_of(self, list_id: str) -> set[str]:
        with self.lock:
            return {f["tag"] for f in self.merge_fields[self._list(list_id)["id"]]}

    # -- members -----------------------------------------------------------------------------

    def put_member(
        self, list_id: str, member_hash: str, body: Mapping[str, Any], *, put: bool
    ) -> dict[str, Any]:
        """PUT (add or update; ``status_if_new`` for a new one) or PATCH (update only)."""
        with self.lock:
            members = self.members[self._list(list_id)["id"]]
            current = members.get(member_hash)
            email = body.get("email_address")
            if put:
                if not email or not body.get("status_if_new"):
                    raise Invalid(400, "Invalid Resource", "email_address and status_if_new")
                if subscriber_hash(str(email)) != member_hash:
                    raise Invalid(400, "Invalid Resource", "email does not match the hash")
            elif current is None:
                raise Invalid(404, "Resource Not Found", "The requested resource was not found")
            unknown = set(body.get("merge_fields") or {}) - self.tags_of(list_id)
            if unknown:
                raise Invalid(400, "Invalid Resource", f"unknown merge fields: {sorted(unknown)}")
            status = body.get("status") or (body.get("status_if_new") if current is None else None)
            if status is not None and status not in WRITE_STATUSES:
                raise Invalid(400, "Invalid Resource", f"invalid status {status!r}")
            member = copy.deepcopy(current) if current else self._new_member(list_id)
            if email:
                member["email_address"] = str(email).strip()
            if status:
                member["status"] = status
            member["merge_fields"].update(body.get("merge_fields") or {})
            stored = self._store(list_id, member, previous_hash=member_hash if current else None)
            if self.on_change is not None:
                self.on_change(list_id, copy.deepcopy(stored), copy.deepcopy(current))
            return stored

    def seed_member(
        self,
        list_id: str,
        email: str,
        merge_fields: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        status: str = "subscribed",
    ) -> dict[str, Any]:
        body = {"email_address": email, "status_if_new": status, "merge_fields": merge_fields}
        member = self.put_member(list_id, subscriber_hash(email), body, put=True)
        if tags:
            self.set_tags(list_id, member["id"], [{"name": t, "status": "active"} for t in tags])
        return self.member(list_id, member["id"]) or member

    def set_tags(self, list_id: str, member_hash: str, tags: list[Any]) -> None:
        with self.lock:
            member = self.members[self._list(list_id)["id"]].get(member_hash)
            if member is None:
                raise Invalid(404, "Resource Not Found", "The requested resource was not found")
            names = {t["name"] for t in member["tags"]}
            for tag in tags:
                if not isinstance(tag, Mapping) or not tag.get("name"):
                    raise Invalid(400, "Invalid Resource", "each tag needs a name")
                if tag.get("status") == "inactive":
                    names.discard(str(tag["name"]))
                else:
                    names.add(str(tag["name"]))
            member["tags"] = [{"id": _tag_id(n), "name": n} for n in sorted(names)]
            member["tags_count"] = len(names)
            member["last_changed"] = iso(self.clock.now())

    def member(self, list_id: str, member_hash: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.members[self._list(list_id)["id"]].get(member_hash)
            return copy.deepcopy(found) if found else None

    def changed(self, list_id: str, since: str | None, before: str | None) -> list[dict[str, Any]]:
        """Members in the audience's insertion order, filtered by ``last_changed``."""
        low, high = parse_time(since), parse_time(before)
        with self.lock:
            chosen = []
            for member in self.members[self._list(list_id)["id"]].values():
                changed = parse_time(member["last_changed"])
                if low and changed and changed <= low:
                    continue
                if high and changed and changed >= high:
                    continue
                chosen.append(copy.deepcopy(member))
            return chosen

    # -- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(
                {
                    "lists": self.lists,
                    "merge_fields": self.merge_fields,
                    "members": self.members,
                    "next_web_id": self._next_web_id,
                }
            )

    def from_state(self, state: Mapping[str, Any]) -> None:
        with self.lock:
            self.lists = copy.deepcopy(dict(state["lists"]))
            self.merge_fields = copy.deepcopy(dict(state["merge_fields"]))
            self.members = copy.deepcopy(dict(state["members"]))
            self._next_web_id = int(state["next_web_id"])

    # -------------------------------------------------------------------------------------

    def _list(self, list_id: str) -> dict[str, Any]:
        audience = self.lists.get(list_id)
        if audience is None:
            raise Invalid(404, "Resource Not Found", "The requested resource was not found")
        return audience

    def _web_id(self) -> int:
        self._next_web_id += 1
        return self._next_web_id

    def _new_member(self, list_id: str) -> dict[str, Any]:
        now = iso(self.clock.now())
        web_id = self._web_id()
        return {
            "id": "",
            "email_address": "",
            "unique_email_id": hashlib.md5(
                f"u{web_id}".encode(), usedforsecurity=False
            ).hexdigest()[:10],
            "contact_id": hashlib.md5(f"c{web_id}".encode(), usedforsecurity=False).hexdigest(),
            "full_name": "",
            "web_id": web_id,
            "email_type": "html",
            "status": "subscribed",
            "merge_fields": {tag: "" for tag in sorted(self.tags_of(list_id))},
            "tags_count": 0,
            "tags": [],
            "timestamp_opt": now,
            "last_changed": now,
            "list_id": list_id,
        }

    def _store(
        self, list_id: str, member: dict[str, Any], previous_hash: str | None
    ) -> dict[str, Any]:
        members = self.members[list_id]
        new_hash = subscriber_hash(member["email_address"])
        if previous_hash and new_hash != previous_hash:
            if new_hash in members:
                raise Invalid(400, "Member Exists", f"{member['email_address']} is a member")
            del members[previous_hash]
        member["id"] = new_hash
        merge = member["merge_fields"]
        member["full_name"] = " ".join(
            str(merge.get(k)) for k in ("FNAME", "LNAME") if merge.get(k)
        )
        member["last_changed"] = iso(self.clock.now())
        members[new_hash] = member
        return copy.deepcopy(member)


def _tag_id(name: str) -> int:
    return int(hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()[:6], 16)
