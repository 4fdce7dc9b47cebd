"""The engine on the real store: the demo map end to end, and claiming with leases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import Runtime, build_runtime
from bot.settings import Settings
from connectors.clock import FrozenClock
from sync_core.alerts import CollectingSink
from sync_core.queries import where
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.conftest import REPO_ROOT
from tests.integration.engine.test_workers import seed_events

AGENCY = REPO_ROOT / "examples" / "agency.yaml"


@pytest.fixture
def runtime(database_url: str, clock: FrozenClock) -> Iterator[Runtime]:
    settings = Settings.from_env({}, map_path=AGENCY, database_url=database_url)
    rt = build_runtime(settings, alert_sink=CollectingSink(), clock=clock)
    yield rt
    rt.close()


def test_the_demo_map_syncs_acme_into_every_system(runtime: Runtime) -> None:
    report = runtime.engine.sync_once()

    assert not report.failed
    assert report.delivery.dead == 0
    assert report.delivery.delivered > 0
    with runtime.uow_factory() as uow:
        result = where(uow, runtime.map, "acme")
        (view,) = result.matches
        counts = uow.events.count_by_status()
    records = {r.system: r for r in view.records}
    assert set(records) == {"pipedrive", "xero", "asana", "mailchimp"}
    # Xero holds Acme's contact and the won deal's draft invoice.
    assert sorted(r.record_type for r in view.records if r.system == "xero") == [
        "contact",
        "invoice",
    ]
    # The deal minted the canonical ID; the copies carry it.
    assert view.canonical_id == f"PD-{records['pipedrive'].external_id}"
    assert all(r.url for r in records.values())
    # Phase 1 starts live: Acme's accounts contact is the one typed by hand ("Acme Limited"),
    # linked at first start and written to as the flow says, not a second one beside it.
    contact = next(r for r in view.records if r.record_type == "contact")
    xero = runtime.sandboxes["xero"].demo.sandbox
    acme = [c["ContactID"] for c in xero.contacts() if c["Name"].startswith("Acme")]
    assert acme == [contact.external_id]
    assert {e.flow: e.status for e in view.latest_events} == {
        "won-deal-to-xero-contact": "delivered",
        "won-deal-to-draft-invoice": "delivered",
        "won-deal-to-asana-project": "delivered",
        "won-deal-to-newsletter-tag": "delivered",
        # Acme's project was made by hand and linked at first start, not created: its address
        # is still written back into the deal, at the flow's first delivery to it.
        "won-deal-to-asana-project:link-back": "delivered",
    }
    deal = runtime.connectors["pipedrive"].get("deal", records["pipedrive"].external_id)
    project = next(r for r in view.records if r.system == "asana")
    assert deal is not None and deal.fields["Asana project"] == project.url
    assert counts == {"delivered": report.delivery.delivered}

    # A second pass reads the link-backs and finds nothing to do.
    again = runtime.engine.sync_once()
    assert again.delivery.claimed == 0
    assert set(again.polls[0].outcomes) <= {"unchanged", "filtered"}


def test_a_second_runtime_on_the_same_store_sees_what_the_first_synced(
    runtime: Runtime, database_url: str, clock: FrozenClock
) -> None:
    runtime.engine.sync_once()
    with runtime.uow_factory() as uow:
        (acme,) = where(uow, runtime.map, "acme").matches
    settings = Settings.from_env({}, map_path=Path(AGENCY), database_url=database_url)
    other = build_runtime(settings, alert_sink=CollectingSink(), clock=clock)
    try:
        with other.uow_factory() as uow:
            (view,) = where(uow, other.map, acme.canonical_id.lower()).matches
            # deal, Xero contact and draft invoice, project, member
            assert len(view.records) == 5
    finally:
        other.close()


def test_claim_due_leases_events_until_the_lease_expires(
    uow_factory: SqlUnitOfWorkFactory, clock: FrozenClock
) -> None:
    seed_events(uow_factory, 5)
    with uow_factory() as uow:
        first = [e.id for e in uow.events.history(limit=10)]
    now = clock.now() + timedelta(days=3650)  # long after the seeded events fell due
    lease = now + timedelta(minutes=10)

    with uow_factory() as uow:
        taken = [e.id for e in uow.events.claim_due(now, lease, "a", 3)]
        uow.commit()
    with uow_factory() as uow:
        rest = [e.id for e in uow.events.claim_due(now, lease, "b", 10)]
        uow.commit()
    with uow_factory() as uow:
        none = list(uow.events.claim_due(now + timedelta(minutes=9), lease, "c", 10))
        uow.commit()

    assert taken == sorted(first)[:3]
    assert rest == sorted(first)[3:]
    assert none == []
    with uow_factory() as uow:
        owners = {e.id: (e.lease_owner, e.lease_until) for e in uow.events.history(limit=10)}
    assert {owner for owner, _ in owners.values()} == {"a", "b"}
    assert {until for _, until in owners.values()} == {lease}

    later = lease + timedelta(seconds=1)
    with uow_factory() as uow:
        again = [e.id for e in uow.events.claim_due(later, later + timedelta(minutes=10), "c", 10)]
        uow.commit()
    assert again == sorted(first)


def test_claim_due_skips_events_not_due_and_finished_ones(
    uow_factory: SqlUnitOfWorkFactory, clock: FrozenClock
) -> None:
    seed_events(uow_factory, 3)
    far = clock.now() + timedelta(days=3650)
    with uow_factory() as uow:
        one, two, three = sorted(uow.events.history(limit=10), key=lambda e: e.id)
        one.status = "delivered"
        two.next_attempt_at = far + timedelta(minutes=5)
        two.status = "retrying"
        uow.commit()
        expected = [three.id]
    with uow_factory() as uow:
        taken = [e.id for e in uow.events.claim_due(far, far + timedelta(minutes=1), "a", 10)]
        uow.commit()
    assert taken == expected
