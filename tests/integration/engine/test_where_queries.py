"""``/where`` fetches a pick list in a constant number of statements, and a miss's suggestions
in a number bounded whatever the query's length, on the real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine as DbEngine
from sqlalchemy import insert

from sync_core.map.loader import load_map
from sync_core.map.model import IntegrationMap
from sync_core.queries import where
from sync_core.store.models import EntityRow, EventRow, LinkRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT
from tests.support.statements import recorded

START = datetime(2026, 1, 1, tzinfo=UTC)
FLOWS = (
    ("won-deal-to-xero-contact", "xero", "contact"),
    ("won-deal-to-asana-project", "asana", "project"),
)


def agency() -> IntegrationMap:
    return load_map(REPO_ROOT / "examples" / "agency.yaml").require_valid()


def seed(db: DbEngine, prefix: str, count: int) -> None:
    """``count`` customers named "<prefix> n", two links and two events per flow each."""
    entities, links, events = [], [], []
    for n in range(count):
        cid, name = f"{prefix.upper()}-{n}", f"{prefix} {n}"
        entities.append(
            {"canonical_id": cid, "entity": "client", "display_name": name,
             "search_name": name.lower(), "minted_by": "pipedrive.deal",
             "created_at": START, "updated_at": START}
        )  # fmt: skip
        for system, record_type in (("pipedrive", "deal"), ("xero", "contact")):
            links.append(
                {"canonical_id": cid, "system": system, "record_type": record_type,
                 "external_id": f"{cid}-{system}", "url": None, "display_name": name,
                 "created_at": START, "updated_at": START}
            )  # fmt: skip
        for k, (flow, system, record_type) in enumerate(FLOWS * 2):
            at = START + timedelta(minutes=k)
            events.append(_event(cid, flow, system, record_type, at, f"{cid}-{k}"))
    with db.begin() as connection:
        connection.execute(insert(EntityRow), entities)
        connection.execute(insert(LinkRow), links)
        connection.execute(insert(EventRow), events)


def _event(
    cid: str, flow: str, system: str, record_type: str, at: datetime, key: str
) -> dict[str, Any]:
    return {
        "flow": flow, "phase": 1, "mode": "live", "canonical_id": cid,
        "source_system": "pipedrive", "source_record_type": "deal",
        "source_external_id": f"{cid}-pipedrive", "target_system": system,
        "target_record_type": record_type, "target_external_id": f"{cid}-{system}",
        "target_canonical_id": cid, "id_field": "ContactNumber", "payload": {"k": key},
        "payload_hash": key, "status": "delivered", "attempts": 1,
        "created_at": at, "updated_at": at, "delivered_at": at,
    }  # fmt: skip


def selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_a_pick_list_takes_as_many_statements_for_eight_customers_as_for_two(
    db: DbEngine,
) -> None:
    seed(db, "Twofold", 2)
    seed(db, "Eightfold", 8)
    uow_factory, integration_map = SqlUnitOfWorkFactory(db), agency()
    counts = {}
    for query, size in (("twofold", 2), ("eightfold", 8)):
        with uow_factory() as uow, recorded(db) as statements:
            result = where(uow, integration_map, query, limit=8)
        assert len(result.matches) == size
        for view in result.matches:  # each view is complete: links and newest event per flow
            assert {r.system for r in view.records} == {"pipedrive", "xero"}
            assert [e.flow for e in view.latest_events] == sorted(f for f, _, _ in FLOWS)
            newest = {
                flow: START + timedelta(minutes=2 + k) for k, (flow, _, _) in enumerate(FLOWS)
            }
            assert {e.flow: e.at for e in view.latest_events} == newest
        counts[size] = len(selects(statements))
    # canonical ID, a system's own id, name; then links and newest events for all at once
    assert counts[2] == counts[8] <= 6


def test_suggestions_for_a_miss_take_a_bounded_number_of_statements(db: DbEngine) -> None:
    seed(db, "Globex", 3)
    uow_factory, integration_map = SqlUnitOfWorkFactory(db), agency()
    counts = []
    for query in ("globx", "globx quarry ltd", " ".join(f"word{n}x" for n in range(40))):
        with uow_factory() as uow, recorded(db) as statements:
            result = where(uow, integration_map, query)
        assert result.matches == []
        counts.append(len(selects(statements)))
        if query.startswith("globx"):
            assert result.suggestions and result.suggestions[0].startswith("Globex")
    assert max(counts) <= 2 + 2 * 2  # the search itself, then two words at most
