"""Failure: the 1/5/30 minute schedule, Retry-After, dead events, alerts and their grouping."""

from __future__ import annotations

from datetime import timedelta

from sync_core.store.models import EventStatus
from tests.unit.engine.support import TO_XERO, World, agency_map


def test_retries_at_one_five_and_thirty_minutes_then_dead_and_alerted() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    world.xero.fault("server_error", times=10)
    start = world.clock.now()

    world.engine.drain()  # the Asana project and its link back go through; Xero fails
    (event,) = world.events(TO_XERO)
    waits = []
    for _ in range(3):
        assert event.status == EventStatus.RETRYING.value
        assert event.next_attempt_at is not None
        waits.append(event.next_attempt_at - world.clock.now())
        # A second early nothing is due; at the exact time it is.
        world.clock.set(event.next_attempt_at - timedelta(seconds=1))
        assert world.engine.deliver_due().claimed == 0
        world.clock.set(event.next_attempt_at)
        assert world.engine.deliver_due().claimed == 1
        (event,) = world.events(TO_XERO)

    assert waits == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30)]
    assert world.clock.now() - start == timedelta(minutes=36)
    assert event.status == EventStatus.DEAD.value
    assert event.attempts == 4
    assert event.next_attempt_at is None
    outcomes = [a.outcome for a in world.rows("attempts") if a.event_id == event.id]
    assert outcomes == ["failed", "failed", "failed", "dead"]
    (notice,) = world.sink.notices
    assert notice.change == "raised" and notice.event_ids == (event.id,)
    assert notice.channel == "#integration-alerts"
    (alert,) = world.rows("alerts")
    assert (alert.event_id, alert.state, alert.group_key) == (event.id, "open", "xero:transient")


def test_a_retry_after_longer_than_the_schedule_is_honoured() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    world.xero.fault("rate_limit", times=1, retry_after=600)

    world.engine.drain()

    (event,) = world.events(TO_XERO)
    assert event.status == EventStatus.RETRYING.value
    assert event.last_error_kind == "rate_limited"
    assert event.next_attempt_at == world.clock.now() + timedelta(minutes=10)
    world.clock.advance(timedelta(minutes=9))
    assert world.engine.deliver_due().claimed == 0
    world.clock.advance(timedelta(minutes=1))
    assert world.engine.deliver_due().delivered == 1


def test_a_retry_after_shorter_than_the_schedule_waits_the_schedule() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.poll_deals()
    world.xero.fault("rate_limit", times=1, retry_after=5)

    world.engine.deliver_due()

    (event,) = world.events(TO_XERO)
    assert event.next_attempt_at == world.clock.now() + timedelta(minutes=1)


def test_a_permanent_error_is_dead_and_alerted_at_once() -> None:
    world = World(agency_map())
    # Xero refuses a contact without a name, whatever the retry.
    world.add_deal(100, "")
    world.poll_deals()

    report = world.engine.deliver_due()

    assert report.dead == 1
    (event,) = world.events(TO_XERO)
    assert event.status == EventStatus.DEAD.value
    assert event.attempts == 1
    assert event.last_error_kind == "permanent"
    assert event.last_http_status == 400
    assert "Name is required" in (event.last_error_message or "")
    assert [n.event_ids for n in world.sink.notices] == [(event.id,)]
    assert len(world.rows("alerts")) == 1
    assert world.xero.records("contact") == []


def test_a_schema_change_while_reading_alerts() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.crm.fault("renamed_field", times=1)

    report = world.poll_deals()

    assert report.error is not None and report.error.startswith("schema_changed")
    assert report.records == 0
    (notice,) = world.sink.notices
    assert notice.group_key == "poll:pipedrive.deal:schema_changed"
    (alert,) = world.rows("alerts")
    assert alert.event_id is None and alert.state == "open"
    # Nothing was read, so the cursor did not move: the next poll reads the deal.
    assert world.poll_deals().outcomes == {"queued": 2}


def test_a_transient_read_failure_does_not_alert() -> None:
    world = World(agency_map())
    world.add_deal(100, "Acme Ltd")
    world.crm.fault("server_error", times=1)

    report = world.poll_deals()

    assert report.error is not None and report.error.startswith("transient")
    assert world.sink.notices == []
    assert world.rows("alerts") == []


def test_dead_events_with_one_cause_share_one_alert_with_a_count() -> None:
    world = World(agency_map())
    for deal_id, org in ((100, "Acme Ltd"), (101, "Globex"), (102, "Initech")):
        world.add_deal(deal_id, org)
    world.poll_deals()
    world.xero.fault("malformed_json", times=3)

    report = world.engine.deliver_due()

    assert report.dead == 3
    dead = sorted(e.id for e in world.events(TO_XERO))
    (alert,) = world.rows("alerts")
    assert alert.count == 3
    assert alert.grouped
    assert alert.group_key == "xero:schema_changed"
    assert alert.summary.startswith("3 events to xero failed")
    assert [n.change for n in world.sink.notices] == ["raised", "grouped", "grouped"]
    assert world.sink.notices[-1].event_ids == tuple(dead)
    assert world.sink.notices[-1].count == 3


def test_a_source_that_reads_again_closes_its_alert() -> None:
    world = World(agency_map())
    world.add_deal(1, "Acme Ltd")
    world.crm.fault("renamed_field", times=1)
    assert world.poll_deals().error is not None
    (alert,) = [a for a in world.rows("alerts") if a.event_id is None]
    assert alert.state == "open"

    report = world.poll_deals()
    assert report.error is None
    (alert,) = [a for a in world.rows("alerts") if a.event_id is None]
    assert alert.state == "resolved"
    assert [n.change for n in world.sink.notices] == ["raised", "resolved"]
