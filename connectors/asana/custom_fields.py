"""Custom fields by human name: the workspace's definitions looked up once, the canonical-ID
field created on first use, and fields attached to a project before a value is set (Asana
refuses values for fields that are not on the project)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import ConfigError, ConnectorError, SchemaChanged

from .api import AsanaApi

ID_FIELD_PREFIX = "custom_field:"


def custom_field_name(id_field: str) -> str | None:
    """``custom_field:Pipedrive deal`` → ``Pipedrive deal``; a plain field → ``None``."""
    if id_field.startswith(ID_FIELD_PREFIX):
        return id_field[len(ID_FIELD_PREFIX) :].strip()
    return None


class CustomFields:
    def __init__(self, api: AsanaApi, workspace: str) -> None:
        self.api = api
        self.workspace = workspace
        self._by_name: dict[str, str] | None = None
        self._attached: dict[str, set[str]] = {}  # project gid -> custom field gids on it

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

    def find(self, name: str) -> str | None:
        # Someone may have created the field in Asana since we looked: re-read before saying no.
        return self._definitions().get(name) or self._definitions(refresh=True).get(name)

    def require(self, name: str) -> str:
        gid = self.find(name)
        if gid is None:
            raise ConfigError(
                f"asana: no custom field named {name!r} in workspace {self.workspace}; "
                "create it in Asana or remove it from the map"
            )
        return gid

    def ensure(self, name: str) -> str:
        """The gid of the text field ``name``, created in the workspace when missing."""
        gid = self.find(name)
        if gid is not None:
            return gid
        created = self.api.data(
            "POST",
            "/custom_fields",
            data={"name": name, "resource_subtype": "text", "workspace": self.workspace},
        )
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
                except ConnectorError:
                    # The field may be on the project even so (an answer lost after the
                    # work was done): read the project's fields again next time.
                    self._attached.pop(project_gid, None)
                    raise
                attached.add(gid)

    def values(self, fields: Mapping[str, Any]) -> dict[str, str]:
        """Custom field values keyed by gid, as Asana's write bodies take them."""
        return {self.require(name): "" if v is None else str(v) for name, v in fields.items()}
