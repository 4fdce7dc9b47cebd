"""Each slash command, signed, into the real Bolt app; answers arrive on the response_url."""

from __future__ import annotations

import time

import pytest

from tests.e2e.fake_slack import Call, FakeSlack
from tests.e2e.world import ADMIN, TO_XERO, Bot


@pytest.fixture
def synced(bot: Bot) -> Bot:
    bot.add_deal(42, "Acme Ltd")
    bot.add_deal(43, "Globex")
    bot.add_deal(44, "Acme Rockets")
    bot.sync()
    return bot


def ask(bot: Bot, slack: FakeSlack, command: str, text: str = "", user: str = "U0USER1") -> Call:
    before = len(slack.of("response_url"))
    started = time.monotonic()
    response = bot.send.command(command, text, user=user)
    assert response.status_code == 200
    assert time.monotonic() - started < 3  # the ack
    return slack.wait_call("response_url", before + 1)


def test_where_shows_the_customer_in_every_system(synced: Bot, slack: FakeSlack) -> None:
    answer = ask(synced, slack, "/where", "globex")

    assert answer.body["response_type"] == "ephemeral"
    text = answer.text
    assert "PD-43" in text and "Globex" in text
    assert "Source of truth" in text
    for system in ("pipedrive.deal", "xero.contact", "asana.project"):
        assert system in text
    assert "https://go.xero.com/Contacts/View/" in text  # a link to the record
    assert TO_XERO in text and "delivered" in text
    buttons = [
        e["action_id"]
        for b in answer.body["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["where_history", "where_retry_failed"]


def test_where_with_several_matches_gives_a_pick_list(synced: Bot, slack: FakeSlack) -> None:
    answer = ask(synced, slack, "/where", "acme")

    assert "2 customers match" in answer.text
    picks = [b["accessory"]["value"] for b in answer.body["blocks"] if "accessory" in b]
    assert sorted(picks) == ["PD-42", "PD-44"]

    synced.send.click("where_pick", "PD-44")
    shown = slack.wait_call("response_url", 2)
    assert "Acme Rockets" in shown.text and "xero.contact" in shown.text


def test_where_with_no_match_suggests_close_names(synced: Bot, slack: FakeSlack) -> None:
    answer = ask(synced, slack, "/where", "globx")

    assert "No customer matches" in answer.text
    assert "Globex" in answer.text


def test_where_share_posts_in_the_channel(synced: Bot, slack: FakeSlack) -> None:
    answer = ask(synced, slack, "/where", "PD-43 share")
    assert answer.body["response_type"] == "in_channel"


def test_audit_lists_events_newest_first_with_more(synced: Bot, slack: FakeSlack) -> None:
    for deal in range(50, 53):
        synced.add_deal(deal, f"Customer {deal}")
    synced.sync()
    answer = ask(synced, slack, "/audit", "")

    ids = [
        int(b["elements"][0]["text"].split("`")[1])
        for b in answer.body["blocks"]
        if b["type"] == "context"
    ]
    assert ids == sorted(ids, reverse=True) and len(ids) == 10
    (more,) = [e for b in answer.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert more["action_id"] == "audit_more"

    synced.send.click("audit_more", more["value"])
    page2 = slack.wait_call("response_url", 2)
    ids2 = [
        int(b["elements"][0]["text"].split("`")[1])
        for b in page2.body["blocks"]
        if b["type"] == "context"
    ]
    assert ids2 and max(ids2) < min(ids)


def test_audit_filters_by_customer_system_status_and_since(synced: Bot, slack: FakeSlack) -> None:
    answer = ask(synced, slack, "/audit", "globex xero delivered 7d")

    assert "system xero" in answer.text and "status delivered" in answer.text
    assert "PD-43" in answer.text and "PD-42" not in answer.text
    assert "asana.project" not in answer.text


def test_where_history_button_shows_the_audit(synced: Bot, slack: FakeSlack) -> None:
    synced.send.click("where_history", "PD-42")
    answer = slack.wait_call("response_url")
    assert "Audit: PD-42" in answer.text and TO_XERO in answer.text


def test_phase_status(synced: Bot, slack: FakeSlack) -> None:
    answer = ask(synced, slack, "/phase", "status")

    text = answer.text
    assert "Phase 1: Deal won → invoice contact" in text and "live" in text
    assert "Phase 3" in text and "day 0 of 3 in parallel" in text
    assert "failures in 7 days: 0" in text


def test_sync_status_and_run(synced: Bot, slack: FakeSlack) -> None:
    status = ask(synced, slack, "/sync", "status")
    assert TO_XERO in status.text and "backlog 0" in status.text

    synced.add_deal(45, "Initech")
    ran = ask(synced, slack, "/sync", f"run {TO_XERO}", user=ADMIN)
    assert "Ran won-deal-to-xero-contact" in ran.text
    # one record read, planned once per flow: per flow the outcomes add up to the records read
    assert "read 4 record(s) from pipedrive.deal, each planned for 2 flow(s)" in ran.text
    assert f"{TO_XERO}: queued 1 + unchanged 3 = 4" in ran.text


def test_sync_pause_and_resume_by_an_admin(synced: Bot, slack: FakeSlack) -> None:
    paused = ask(synced, slack, "/sync", f"pause {TO_XERO}", user=ADMIN)
    assert "paused" in paused.text
    with synced.uow_factory() as uow:
        row = uow.flow_states.get(TO_XERO)
        assert row is not None and row.paused and row.paused_by == f"slack:{ADMIN}"

    # A paused flow plans nothing for new deals.
    synced.add_deal(46, "Umbrella")
    synced.sync()
    assert not [e for e in synced.events(TO_XERO) if e.canonical_id == "PD-46"]

    resumed = ask(synced, slack, "/sync", f"resume {TO_XERO}", user=ADMIN)
    assert "resumed" in resumed.text
    with synced.uow_factory() as uow:
        actions = [(a.action, a.allowed) for a in uow.actions.recent()]
    assert ("pause", True) in actions and ("resume", True) in actions


def test_sync_pause_by_a_non_admin_is_refused_and_logged(synced: Bot, slack: FakeSlack) -> None:
    answer = ask(synced, slack, "/sync", f"pause {TO_XERO}")

    assert "for the map's admins" in answer.text
    with synced.uow_factory() as uow:
        refusals = [(a.allowed, a.actor) for a in uow.actions.recent()]
        assert refusals == [(False, "slack:U0USER1")]
        state = uow.flow_states.get(TO_XERO)
        assert state is None or not state.paused


def test_handoff_help_lists_every_command_from_its_docstring(bot: Bot, slack: FakeSlack) -> None:
    answer = ask(bot, slack, "/handoff", "help")

    for usage in (
        "/where QUERY",
        "/audit QUERY [system] [status] [since]",
        "/phase status",
        "/phase promote N",
        "/sync pause FLOW",
        "/handoff help",
    ):
        assert usage in answer.text


def test_a_failing_button_still_answers_the_person_who_clicked(
    synced: Bot, slack: FakeSlack
) -> None:
    before = len(slack.of("response_url"))
    synced.send.click("alert_retry", "not-an-alert-id")
    answer = slack.wait_call("response_url", before + 1)
    assert "did not work" in answer.text
    assert answer.body["response_type"] == "ephemeral"
