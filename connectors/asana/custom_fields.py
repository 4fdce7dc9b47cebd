"""Custom fields by human name: the workspace's definitions looked up once, a missing field
(the canonical ID's or any other the map writes) created on first use, and fields attached to
a project before a value is set (Asana refuses values for fields that are not on the project).
Where the token may not create or attach a field, the error names the scope it lacks."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from connectors.base import (
    ConfigError,
    ConnectorError,
    IdField,
    IdFieldKind,
    Permanent,
    SchemaChanged,
)

from .api import AsanaApi

# The scopes Asana's spec names as required ("Required scope") for the two writes we make.
CREATE_SCOPE = "custom_fields:write"  # POST /custom_fields
ATTACH_SCOPE = "projects:write"  # POST /projects/{project_gid}/addCustomFieldSetting


def custom_field_name(id_field: IdField) -> str | None:
    """``custom_field:Pipedrive deal`` → ``Pipedrive deal``; a plain field → ``None``."""
    return id_field.name if id_field.kind is IdFieldKind.CUSTOM_FIELD else None


class CustomFields:
    def __init__(self, api: AsanaApi, workspace: str) -> None:
        self.api = api
        self.workspace = workspace
        self._by_name: dict[str, str] | None = None
        self._attached: dict[str, set[str]] = {}  # project gid -> custom field gids on it
        self._creating = threading.Lock()  # two threads must not create the same field twice

    def _definitions(self, refresh: bool = False) -> dict[str, str]:
        if self._by_name is None or refresh:
            by_name: dict[str, str] = {}
            path = f"/workspaces/{self.workspace}/custom_fields"
            for item in self.api.iterate(path, {"opt_fields": "name,resource_subtype"}):
                if "gid" not in item or "name" not in item:
                    raise SchemaChanged(f"asana: a custom field in {path} lacks 'gid' or 'name'")
                by_name.setdefault(item["name"], item["gid"])
            self._by_name = by_name
        return self._by_name

    def names(self) -> set[str]:
        """Every custom field's name in the workspace, freshly read."""
        return set(self._definitions(refresh=True))

    def find(self, name: str) -> str | None:
        # Someone may have created the field in Asana since we looked: re-read before saying no.
        return self._definitions().get(name) or self._definitions(refresh=True).get(name)

    def ensure(self, name: str) -> str:
        """The gid of the custom field ``name``, created in the workspace as a text field when
        missing (Asana keeps definitions per workspace; a project then takes it as a setting)."""
        gid = self.find(name)
        if gid is not None:
            return gid
        with self._creating:
            gid = self._definitions().get(name)
            if gid is not None:
                return gid
            try:
                created = self.api.data(
                    "POST",
                    "/custom_fields",
                    data={"name": name, "resource_subtype": "text", "workspace": self.workspace},
                )
            except Permanent as exc:
                if exc.http_status != 403:
                    raise
                raise _forbidden(
                    exc,
                    f"asana: no custom field named {name!r} in workspace {self.workspace}, and "
                    f"the token may not create one (POST /custom_fields needs the scope "
                    f"{CREATE_SCOPE}); create a text custom field {name!r} in Asana, or give "
                    "the token that scope",
                ) from exc
            gid = str(created["gid"])
            self._definitions()[name] = gid
            return gid

    def attach(self, project_gid: str, field_gids: list[str]) -> None:
        attached = self._attached.get(project_gid)
        if attached is None:
            path = f"/projects/{project_gid}/custom_field_settings"
            attached = {
                str(s["custom_field"]["gid"])
                for s in self.api.iterate(path, {"opt_fields": "custom_field"})
                if isinstance(s.get("custom_field"), Mapping)
            }
            self._attached[project_gid] = attached
        for gid in field_gids:
            if gid not in attached:
                try:
                    self.api.data(
                        "POST",
                        f"/projects/{project_gid}/addCustomFieldSetting",
                        data={"custom_field": gid},
                    )
                except ConnectorError as exc:
                    # The field may be on the project even so (an answer lost after the
                    # work was done): read the project's fields again next time.
                    self._attached.pop(project_gid, None)
                    if exc.http_status == 403:
                        raise _forbidden(
                            exc,
                            f"asana: the token may not add custom field {self._name_of(gid)!r} "
                            f"to project {project_gid} (addCustomFieldSetting needs the scope "
                            f"{ATTACH_SCOPE} and edit access to the project); add the field "
                            "to the project in Asana, or give the token that access",
                        ) from exc
                    raise
                attached.add(gid)

    def _name_of(self, gid: str) -> str:
        return next((n for n, g in self._definitions().items() if g == gid), gid)

    def values(self, fields: Mapping[str, Any]) -> dict[str, str]:
        """Custom field values keyed by gid, as Asana's write bodies take them; a field the
        workspace lacks is created first, as Pipedrive's connector does."""
        return {self.ensure(name): "" if v is None else str(v) for name, v in fields.items()}


def _forbidden(exc: ConnectorError, message: str) -> ConfigError:
    return ConfigError(
        message,
        http_status=exc.http_status,
        vendor_message=exc.vendor_message,
        exchange_id=exc.exchange_id,
    )
