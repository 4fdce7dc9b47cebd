"""Rows two processes may add at once: the second insert leaves the first row standing
instead of failing its whole transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from sync_core.store.models import EntityRow, LinkRow
from sync_core.store.uow import SqlUnitOfWorkFactory

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def entity() -> EntityRow:
    return EntityRow(
        canonical_id="PD-1",
        entity="client",
        display_name="Acme Ltd",
        search_name="pd-1 | acme ltd",
        minted_by="pipedrive.deal",
        created_at=NOW,
        updated_at=NOW,
    )


def link(url: str) -> LinkRow:
    return LinkRow(
        canonical_id="PD-1",
        system="xero",
        record_type="contact",
        external_id="c-1",
        url=url,
        display_name="Acme Ltd",
        created_at=NOW,
        updated_at=NOW,
    )


def test_an_entity_and_link_another_process_added_first_are_kept(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    with uow_factory() as first:
        first.entities.add(entity())
        first.links.add(link("https://first"))
        first.commit()
    # The second process decided to add them before the first one's commit was visible.
    with uow_factory() as second:
        second.entities.add(entity())
        second.links.add(link("https://second"))
        second.commit()
    with uow_factory() as uow:
        assert uow.session is not None
        assert uow.session.scalar(select(func.count()).select_from(EntityRow)) == 1
        (kept,) = uow.session.scalars(select(LinkRow)).all()
        assert kept.url == "https://first"
