"""Adopting a record and comparing a parallel period read vendors outside the engine's poll
loop; an exception a connector did not sort itself leaves there as a classified
ConnectorError too, never as a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Connector, IdField, Record, SchemaChanged, Transient
from sync_core.linking import adopt_record
from sync_core.map.model import RecordRef
from sync_core.parallel import MISSING, UNREADABLE, compare_phase
from tests.unit.engine.support import World, agency_map

CONTACT = RecordRef(system="xero", record_type="contact")


class Garbled:
    """A connector whose reads fail the way a parser meets a changed payload."""

    def __init__(self, inner: Connector, error: Exception) -> None:
        self.inner = inner
        self.system = inner.system
        self.error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get(self, record_type: str, external_id: str) -> Record:
        raise self.error

    def find_by_canonical_id(self, record_type: str, id_field: IdField, canonical_id: str) -> Any:
        raise self.error


def _adopt(world: World, connectors: dict[str, Any]) -> None:
    with world.uow_factory() as uow:
        adopt_record(
            uow,
            world.map,
            connectors,
            "PD-1",
            CONTACT,
            "hand-1",
            actor="U0ADMIN1",
            now=world.clock.now(),
        )


def _parallel_world() -> World:
    world = World(agency_map(phase_states={1: "parallel", 2: "planned"}))
    world.add_deal(1, "Acme Ltd", person_email="jane@acme.example")
    world.xero.add("contact", {"Name": "Acme Limited"}, external_id="hand-1")
    world.poll_deals()
    return world


def test_adopting_classifies_an_unexpected_exception_from_get() -> None:
    world = _parallel_world()
    connectors = {**world.sandboxes, "xero": Garbled(world.xero, KeyError("Contacts"))}

    with pytest.raises(SchemaChanged) as caught:
        _adopt(world, connectors)

    assert "reading xero.contact hand-1" in str(caught.value)
    assert "KeyError" in str(caught.value)
    # Nothing was stamped and no link was kept.
    assert "ContactNumber" not in world.xero.get("contact", "hand-1").fields
    assert [r for r in world.rows("links") if r.external_id == "hand-1"] == []


def test_adopting_passes_a_classified_error_as_it_is() -> None:
    world = _parallel_world()
    error = Transient("xero is down")
    connectors = {**world.sandboxes, "xero": Garbled(world.xero, error)}

    with pytest.raises(Transient) as caught:
        _adopt(world, connectors)
    assert caught.value is error


def test_comparing_a_phase_reports_an_unexpected_exception_as_unreadable() -> None:
    world = _parallel_world()
    connectors = {**world.sandboxes, "xero": Garbled(world.xero, ValueError("bad date"))}

    with world.uow_factory() as uow:
        report = compare_phase(uow, world.map, connectors, 1, now=world.clock.now())

    (comparison,) = report.comparisons
    assert comparison.outcome == UNREADABLE
    assert comparison.detail is not None
    assert comparison.detail.startswith("schema_changed: reading contact for PD-1")
    assert "ValueError: bad date" in comparison.detail


def test_comparing_without_faults_still_finds_the_missing_record() -> None:
    world = _parallel_world()
    with world.uow_factory() as uow:
        report = compare_phase(uow, world.map, world.sandboxes, 1, now=world.clock.now())
    assert [c.outcome for c in report.comparisons] == [MISSING]
