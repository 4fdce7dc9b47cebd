"""Custom-field definitions: Pipedrive addresses a custom field by a generated 40-hex key; maps
and records speak its human name. Definitions come from the v1 ``/<entity>Fields`` endpoints
(v2 has none), are cached per record type, and a missing field is created on first write.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.base import SchemaChanged
from connectors.paging import OffsetPaginator, iterate

CUSTOM_KEY = re.compile(r"^[0-9a-f]{40}$")
VARCHAR_MAX = 255  # longer text needs the "text" type (documented field type limits)
PAGE = 100

Request = Callable[..., httpx.Response]
Decode = Callable[[httpx.Response], Any]


class FieldCatalog:
    """Human name ⇄ key of the custom fields of one record type."""

    def __init__(self, fields_path: str, request: Request, decode: Decode) -> None:
        self.path = f"/v1/{fields_path}"
        self._request = request
        self._decode = decode
        self._by_name: dict[str, str] | None = None
        self._by_key: dict[str, str] = {}
        self._unresolved: set[str] = set()  # keys still unknown after a fresh load
        self._lock = threading.Lock()

    def key_for(self, name: str, *, create: bool, sample: Any = None) -> str | None:
        """The key of custom field ``name``; reloads once before deciding it is missing (someone
        may have added it in the web app), then creates it when ``create``."""
        with self._lock:
            if self._by_name is None:
                self._load()
            key = self._lookup(name)
            if key is None:
                self._load()
                key = self._lookup(name)
            if key is None and create:
                key = self._create(name, sample)
            return key

    def names(self) -> set[str]:
        """Every custom field's human name, freshly read."""
        with self._lock:
            self._load()
            assert self._by_name is not None
            return set(self._by_name)

    def resolve(self, keys: set[str]) -> Mapping[str, str]:
        """key → human name for ``keys``; reloads once when an item carries a key we have never
        seen (a field added in the web app), but not again for a key that stayed unknown."""
        with self._lock:
            if self._by_name is None or keys - self._by_key.keys() - self._unresolved:
                self._load()
                self._unresolved |= keys - self._by_key.keys()
            return {k: self._by_key[k] for k in keys if k in self._by_key}

    # -------------------------------------------------------------------------------------

    def _lookup(self, name: str) -> str | None:
        assert self._by_name is not None
        exact = self._by_name.get(name)
        if exact is not None:
            return exact
        folded = name.casefold()
        return next((k for n, k in self._by_name.items() if n.casefold() == folded), None)

    def _load(self) -> None:
        by_name: dict[str, str] = {}
        where = f"pipedrive: GET {self.path}"
        pager = OffsetPaginator(where, lambda body, _count: _more_items(body), param="start")
        for field in iterate(pager, self.path, self._page):
            if not isinstance(field, Mapping) or "key" not in field or "name" not in field:
                raise SchemaChanged(f"{where}: a field has no 'key'/'name'")
            if CUSTOM_KEY.match(str(field["key"])):
                by_name.setdefault(str(field["name"]), str(field["key"]))
        self._by_name = by_name
        self._by_key = {key: name for name, key in by_name.items()}

    def _page(self, path: str, params: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        body = self._decode(self._request("GET", path, params={**params, "limit": PAGE}))
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, list):
            raise SchemaChanged(f"pipedrive: GET {path}: response has no 'data' list")
        return body, data

    def _create(self, name: str, sample: Any) -> str:
        field_type = "text" if isinstance(sample, str) and len(sample) > VARCHAR_MAX else "varchar"
        response = self._request(
            "POST", self.path, json_body={"name": name, "field_type": field_type}
        )
        body = self._decode(response)
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping) or not data.get("key"):
            raise SchemaChanged(f"pipedrive: POST {self.path}: response has no field 'key'")
        key = str(data["key"])
        assert self._by_name is not None
        self._by_name[name] = key
        self._by_key[key] = name
        return key


def _more_items(body: Mapping[str, Any]) -> bool:
    """v1 lists say so in ``additional_data.pagination`` (the published example) or directly in
    ``additional_data`` (the published schema); accept either."""
    extra = body.get("additional_data")
    if not isinstance(extra, Mapping):
        return False
    pagination = extra.get("pagination")
    source = pagination if isinstance(pagination, Mapping) else extra
    return bool(source.get("more_items_in_collection"))
