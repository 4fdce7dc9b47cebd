"""A page of new customers whose canonical IDs are short codes (``C-{code}``) is planned as
a whole: the codes claimed while planning are seen by the page's lookups, which used to add
a second link for each minting record, fail the page's flush and plan it record by record."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.engine import BENCH_MAP
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.alerts import CollectingSink
from sync_core.engine import Engine as SyncEngine
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.store.db import make_engine
from sync_core.store.models import EntityRow, LinkRow
from sync_core.store.uow import SqlUnitOfWorkFactory

DEAL = RecordRef(system="crm", record_type="deal")


def test_a_page_of_new_short_codes_is_planned_as_a_whole(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = copy.deepcopy(BENCH_MAP)
    for entity in data["entities"].values():
        if entity["canonical_id"]["minted_by"] == "crm.deal":
            entity["canonical_id"]["format"] = "C-{code}"
    clock = FrozenClock()
    crm = SandboxConnector("crm", "pipedrive", clock)
    for index in range(10):
        crm.add(
            "deal",
            {"id": 100 + index, "status": "won", "org_name": f"Customer {index} Ltd"},
            external_id=str(100 + index),
        )
    db = make_engine(database_url)
    try:
        engine = SyncEngine(
            IntegrationMap.model_validate(data),
            SqlUnitOfWorkFactory(db),
            {"crm": crm, "books": SandboxConnector("books", "xero", clock)},
            clock,
            CollectingSink(),
            worker_id="test",
            page_size=100,
        )
        engine.prepare()
        planned: list[bool] = []
        plan = engine._plan_page_in_one

        def spy(*args: Any, whole: bool, **kwargs: Any) -> Any:
            planned.append(whole)
            return plan(*args, whole=whole, **kwargs)

        monkeypatch.setattr(engine, "_plan_page_in_one", spy)
        report = engine.poll(DEAL)

        assert report.error is None and report.outcomes["queued"] == 10
        assert planned == [True]  # never again record by record
        with db.connect() as connection:
            entities = connection.scalars(select(EntityRow.canonical_id)).all()
            links = connection.scalar(select(func.count()).select_from(LinkRow))
        assert len(entities) == 10 and all(e.startswith("C-") for e in entities)
        assert links == 10
    finally:
        db.dispose()
