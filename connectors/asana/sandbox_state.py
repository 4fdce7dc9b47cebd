"""The Asana sandbox's memory: workspaces, teams, custom fields, projects and tasks, and how
they render as Asana's JSON. Thread-safe through one lock; time from the injected clock."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.clock import Clock

WEB_APP = "https://app.asana.com"
FIRST_GID = 1_204_000_000_000_001
TABLES = ("workspace", "team", "custom_field", "project", "task")


class NotFound(KeyError):
    pass


@dataclass
class AsanaState:
    clock: Clock
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _gids: itertools.count[int] = field(default_factory=lambda: itertools.count(FIRST_GID))

    def new_gid(self) -> str:
        return str(next(self._gids))

    def to_state(self) -> dict[str, Any]:
        """The workspace's records as JSON-ready data (``from_state`` takes it back)."""
        with self.lock:
            tables = {kind: copy.deepcopy(self.table(kind)) for kind in TABLES}
            gids = [int(gid) for table in tables.values() for gid in table]
            return {"tables": tables, "next_gid": max(gids, default=FIRST_GID - 1) + 1}

    def from_state(self, state: Mapping[str, Any]) -> None:
        with self.lock:
            for kind in TABLES:
                table = self.table(kind)
                table.clear()
                table.update(state["tables"].get(kind, {}))
            self._gids = itertools.count(int(state["next_gid"]))

    def now(self) -> str:
        # Asana writes times as UTC with milliseconds and a Z.
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{self.clock.now().microsecond // 1000:03d}Z"
        )

    def table(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            "project": self.projects,
            "task": self.tasks,
            "custom_field": self.custom_fields,
            "team": self.teams,
            "workspace": self.workspaces,
        }[kind]

    def lookup(self, kind: str, gid: str) -> dict[str, Any]:
        try:
            return self.table(kind)[gid]
        except KeyError:
            raise NotFound(f"{kind}: Not a recognized ID: {gid}") from None

    # --- writes ---------------------------------------------------------------------------

    def add(self, kind: str, **values: Any) -> dict[str, Any]:
        gid = self.new_gid()
        now = self.now()
        item = {"gid": gid, "created_at": now, "modified_at": now, "values": {}, **values}
        self.table(kind)[gid] = item
        return item

    def change(self, item: dict[str, Any], values: Mapping[str, Any]) -> None:
        item.update(values)
        item["modified_at"] = self.now()

    def custom_field_by_name(self, workspace: str, name: str) -> str | None:
        for gid, cf in self.custom_fields.items():
            if cf["workspace"] == workspace and cf["name"] == name:
                return gid
        return None

    def fields_on(self, item: dict[str, Any]) -> list[str]:
        """Custom fields a record may hold: a project's own, a task's from its projects."""
        if "settings" in item:
            return list(item["settings"])
        return [g for p in item.get("projects", []) for g in self.projects[p]["settings"]]

    # --- rendering ------------------------------------------------------------------------

    def compact(self, kind: str, gid: str) -> dict[str, Any]:
        return {"gid": gid, "resource_type": kind, "name": self.table(kind)[gid]["name"]}

    def render_custom_field(self, gid: str, value: Any = None) -> dict[str, Any]:
        cf = self.custom_fields[gid]
        out = dict(
            self.compact("custom_field", gid),
            type=cf["subtype"],
            resource_subtype=cf["subtype"],
            enabled=True,
        )
        if cf["subtype"] == "number":
            out["number_value"] = value
        else:
            out["text_value"] = value
        out["display_value"] = None if value is None else str(value)
        return out

    def render_project(self, gid: str) -> dict[str, Any]:
        p = self.projects[gid]
        team = self.teams[p["team"]]
        return {
            **self.compact("project", gid),
            **{k: p.get(k) for k in ("notes", "archived", "color", "due_on", "start_on")},
            "team": self.compact("team", p["team"]),
            "workspace": self.compact("workspace", team["workspace"]),
            "created_at": p["created_at"],
            "modified_at": p["modified_at"],
            "permalink_url": f"{WEB_APP}/1/{team['workspace']}/project/{gid}",
            "custom_fields": [
                self.render_custom_field(g, p["values"].get(g)) for g in p["settings"]
            ],
        }

    def render_task(self, gid: str) -> dict[str, Any]:
        t = self.tasks[gid]
        return {
            **self.compact("task", gid),
            **{k: t.get(k) for k in ("notes", "completed", "due_on")},
            "projects": [self.compact("project", p) for p in t["projects"]],
            "workspace": self.compact("workspace", t["workspace"]),
            "created_at": t["created_at"],
            "modified_at": t["modified_at"],
            "permalink_url": f"{WEB_APP}/1/{t['workspace']}/task/{gid}",
            "custom_fields": [
                self.render_custom_field(g, t["values"].get(g)) for g in self.fields_on(t)
            ],
        }

    def render_setting(self, project: str, cf_gid: str) -> dict[str, Any]:
        return {
            "gid": f"{project}{cf_gid[-4:]}",
            "resource_type": "custom_field_setting",
            "custom_field": self.render_custom_field(cf_gid),
            "project": self.compact("project", project),
            "parent": self.compact("project", project),
            "is_important": False,
        }
