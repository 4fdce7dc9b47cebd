"""Two runs reading one source: the one whose page another run already planned stops."""

from __future__ import annotations

from typing import Any

from connectors.base import Page
from connectors.sandbox import SandboxConnector
from tests.unit.engine.support import DEAL, World, agency_map


class AnotherRunOvertakes:
    """Pipedrive, read while another run plans the same page and moves the cursor on."""

    def __init__(self, inner: SandboxConnector) -> None:
        self.inner = inner
        self.on_read: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        page = self.inner.list_changed(record_type, cursor, limit=limit)
        if self.on_read is not None:
            self.on_read(page)
        return page


def test_a_page_another_run_planned_is_left_to_it() -> None:
    world = World(agency_map(), wrap={"pipedrive": AnotherRunOvertakes})
    world.add_deal(100, "Acme Ltd")
    pipedrive = world.engine.connectors["pipedrive"]
    assert isinstance(pipedrive, AnotherRunOvertakes)

    def overtake(page: Page) -> None:
        with world.uow_factory() as uow:
            uow.cursors.put(DEAL.system, DEAL.record_type, page.cursor, world.clock.now())
            uow.commit()

    pipedrive.on_read = overtake
    report = world.poll_deals()

    assert report.held_elsewhere
    assert report.outcomes == {} and world.events() == []  # planned by the other run, not here
    with world.uow_factory() as uow:
        assert uow.cursors.get(DEAL.system, DEAL.record_type) is not None

    pipedrive.on_read = None
    world.add_deal(101, "Initech")
    report = world.poll_deals()
    assert not report.held_elsewhere and report.outcomes == {"queued": 2}
