"""A project is never doubled: not when the stamp after the create fails, not when the
create's answer is lost after Asana made the project (the client never re-sends a POST)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.asana import AsanaConnector, build
from connectors.asana.marker import MARK
from connectors.asana.sandbox import AsanaSandbox
from connectors.base import ConnectorSettings, IdField, Transient, UpsertItem
from connectors.clock import FrozenClock
from connectors.http import ExchangeLog
from connectors.registry import ConnectorContext
from connectors.serving import ServedApp, serve_wsgi

TOKEN = "asana-test-token"
ID_FIELD = IdField.parse("custom_field:Pipedrive deal")


@dataclass
class World:
    clock: FrozenClock
    sandbox: AsanaSandbox
    served: ServedApp
    log_path: Path
    workspace: str
    team: str

    def connector(self) -> AsanaConnector:
        """A fresh client, as a new process after a crash would build it."""
        settings = ConnectorSettings(
            system="asana",
            connector="asana",
            credentials={"token": TOKEN},
            options={"workspace": self.workspace, "team": self.team, "timeout": 0.3},
            base_url=self.served.url,
        )
        return build(settings, ConnectorContext(self.clock, ExchangeLog(self.log_path, self.clock)))

    def projects(self) -> list[dict[str, object]]:
        with self.sandbox.state.lock:
            return [dict(p) for p in self.sandbox.state.projects.values()]

    def posts(self, suffix: str) -> int:
        return sum(1 for m, p in self.sandbox.requests if m == "POST" and p.endswith(suffix))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = FrozenClock()
    sandbox = AsanaSandbox(clock, tokens=[TOKEN])
    workspace = sandbox.add_workspace("Acme")
    team = sandbox.add_team(workspace, "Delivery")
    served = serve_wsgi(sandbox.wsgi_app)
    try:
        yield World(clock, sandbox, served, tmp_path / "http.jsonl", workspace, team)
    finally:
        served.shutdown()


def item(notes: str | None = "Deal value 900 EUR") -> UpsertItem:
    fields = (
        {"name": "Acme – Website"} if notes is None else {"name": "Acme – Website", "notes": notes}
    )
    return UpsertItem("project", ID_FIELD, "PD-7", fields, "handoff-event-1")


def upsert(world: World, one: UpsertItem) -> Exception | None:
    connector = world.connector()
    try:
        return connector.upsert_many([one])[0].error
    finally:
        connector.close()


def assert_one_stamped_project(world: World, notes: str) -> None:
    projects = world.projects()
    assert len(projects) == 1, [p["name"] for p in projects]
    (gid,) = [str(p["gid"]) for p in projects]
    assert world.sandbox.value("project", gid, "Pipedrive deal") == "PD-7"
    assert projects[0]["notes"] == notes  # the mark is gone once the ID is stamped


@pytest.mark.parametrize("failing", ["/addCustomFieldSetting", "/projects/"])
@pytest.mark.parametrize("notes", ["Deal value 900 EUR", None])
def test_a_project_whose_stamp_failed_is_adopted_not_doubled(
    world: World, failing: str, notes: str | None
) -> None:
    # The first call makes the project; the call after it fails (attaching the field, or
    # the PUT that stamps the ID), and the process gives up as if killed there.
    world.sandbox.faults.add("server_error", times=10, path=failing)
    error = upsert(world, item(notes))
    assert isinstance(error, Transient)
    (half_made,) = world.projects()
    assert str(half_made["notes"]).endswith(MARK + "PD-7")  # the first call carried the ID

    world.sandbox.faults.clear()
    assert upsert(world, item(notes)) is None
    assert_one_stamped_project(world, notes or "")
    assert world.posts("/projects") == 1


@pytest.mark.parametrize("kind", ["timeout_after_write", "reset_after_write"])
def test_a_create_whose_answer_was_lost_is_not_sent_again(world: World, kind: str) -> None:
    """Asana made the project but its answer never came: the POST is not re-sent blindly;
    the attempt fails as transient and the retry finds the project by its mark."""
    world.sandbox.faults.add(kind, path=f"/teams/{world.team}/projects", method="POST", delay=1.0)
    error = upsert(world, item())
    assert isinstance(error, Transient)
    assert len(world.projects()) == 1
    assert world.posts(f"/teams/{world.team}/projects") == 1

    assert upsert(world, item()) is None
    assert_one_stamped_project(world, "Deal value 900 EUR")
    assert world.posts(f"/teams/{world.team}/projects") == 1


def test_a_read_whose_answer_was_lost_is_sent_again(world: World) -> None:
    world.sandbox.add_project(world.team, "Old board")
    path = f"/teams/{world.team}/projects"
    world.sandbox.faults.add("timeout_after_write", path=path, method="GET", delay=1.0)
    connector = world.connector()
    try:
        assert [r.display_name for r in connector.list_changed("project", None).records] == [
            "Old board"
        ]
    finally:
        connector.close()
    assert "timeout_after_write" in world.sandbox.faults.fired


def test_a_field_attached_although_its_answer_was_lost_is_not_attached_twice(
    world: World,
) -> None:
    """The same client retries: it must read the project's fields again rather than trust
    what it remembered, or Asana refuses the second attach as a duplicate."""
    world.sandbox.faults.add("reset_after_write", path="/addCustomFieldSetting", delay=0)
    connector = world.connector()
    try:
        assert isinstance(connector.upsert_many([item()])[0].error, Transient)
        assert connector.upsert_many([item()])[0].error is None
    finally:
        connector.close()
    assert_one_stamped_project(world, "Deal value 900 EUR")
