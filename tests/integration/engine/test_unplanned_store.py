"""Records a flow cannot plan, on the real store: each flow's planning runs in a savepoint, so
a failure undoes only that flow's writes, and a Retry that fails again keeps the event dead."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.store.models import EventRow, EventStatus
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.unit.engine.support import DEAL, TO_ASANA, TO_XERO, agency_map


def _map(name: str) -> IntegrationMap:
    def edit(data: dict[str, Any]) -> None:
        next(f for f in data["flows"] if f["name"] == TO_XERO)["fields"]["Name"] = name

    return agency_map(edit=edit)


def _engine(
    integration_map: IntegrationMap,
    uow_factory: SqlUnitOfWorkFactory,
    clock: FrozenClock,
    sandboxes: dict[str, SandboxConnector],
) -> Engine:
    engine = Engine(integration_map, uow_factory, sandboxes, clock, CollectingSink(), worker_id="w")
    engine.prepare()
    return engine


def _events(uow_factory: SqlUnitOfWorkFactory, flow: str) -> list[EventRow]:
    with uow_factory() as uow:
        assert uow.session is not None
        rows = list(
            uow.session.scalars(select(EventRow).where(EventRow.flow == flow).order_by(EventRow.id))
        )
        uow.session.expunge_all()  # keep what was read after the session closes
        return rows


def test_mapping_failures_on_the_store_die_retry_and_die_again(
    uow_factory: SqlUnitOfWorkFactory, clock: FrozenClock
) -> None:
    sandboxes = {n: SandboxConnector(n, n, clock) for n in ("pipedrive", "xero", "asana")}
    for deal_id, org in ((100, "Acme Ltd"), (101, "Globex")):
        sandboxes["pipedrive"].add(
            "deal",
            {"id": deal_id, "title": "Site", "value": 10, "status": "won", "org_name": org},
            external_id=str(deal_id),
        )
    broken = _engine(_map("{{ value / 0 }}"), uow_factory, clock, sandboxes)

    report = broken.poll(DEAL)

    assert report.error is None and report.dead == 2
    assert [e.status for e in _events(uow_factory, TO_ASANA)] == ["pending", "pending"]
    dead = _events(uow_factory, TO_XERO)
    assert [(e.status, e.last_error_kind) for e in dead] == [("dead", "mapping")] * 2

    still_broken = _engine(_map('{{ value + "x" }}'), uow_factory, clock, sandboxes)
    assert still_broken.retry_dead() == 0
    again = _events(uow_factory, TO_XERO)
    assert [e.id for e in again] == [e.id for e in dead]
    assert {e.status for e in again} == {EventStatus.DEAD.value}
    assert {e.payload["expression"] for e in again} == {'{{ value + "x" }}'}
    assert all("TypeError" in (e.last_error_message or "") for e in again)
    with uow_factory() as uow:
        (alert,) = uow.alerts.open_alerts()
        assert alert.count == 2

    fixed = _engine(_map("{{ org_name }}"), uow_factory, clock, sandboxes)
    assert fixed.retry_dead() == 2
    assert fixed.drain().dead == 0
    names = sorted(r.fields["Name"] for r in sandboxes["xero"].records("contact"))
    assert names == ["Acme Ltd", "Globex"]
