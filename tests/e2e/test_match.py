"""/match in Slack: the counts, and proposals reviewed with signed clicks on Accept, Reject and
Not sure (admins only), each decision audited and the message replaced by the next proposal."""

from __future__ import annotations

import pytest

from sync_core.matching.service import run_match
from sync_core.store.models import ActionRow, MatchDecisionRow
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.test_commands import ask
from tests.e2e.world import ADMIN, Bot


@pytest.fixture
def proposed(bot: Bot) -> Bot:
    """Two customers typed by hand into accounts, no email to tell them apart: for review."""
    bot.add_deal(42, "Acme Ltd", status="open")
    bot.add_deal(43, "Globex Corporation", status="open")
    bot.sandboxes["xero"].add("contact", {"Name": "Acme Limited"}, external_id="hand-1")
    bot.sandboxes["xero"].add("contact", {"Name": "Globex Corp."}, external_id="hand-2")
    with bot.uow_factory() as uow:
        run_match(uow, bot.map, bot.sandboxes, "client", now=bot.clock.now())
        uow.commit()
    return bot


def _proposal(bot: Bot, external_id: str) -> tuple[int, str]:
    """(id, status) of the proposal for the accounts record ``external_id``."""
    with bot.uow_factory() as uow:
        [row] = uow.matches.for_record("xero", "contact", external_id)
        return row.id, row.status


def test_status_counts_proposals_per_entity_and_system(proposed: Bot, slack: FakeSlack) -> None:
    answer = ask(proposed, slack, "/match", "status")
    assert "*client* in `xero.contact`: open 2" in answer.text


def test_review_is_for_admins(proposed: Bot, slack: FakeSlack) -> None:
    answer = ask(proposed, slack, "/match", "review", user="U0INTERN")
    assert "for the map's admins" in answer.text
    refused = [a for a in proposed.rows(ActionRow) if not a.allowed]
    assert [(a.actor, a.action) for a in refused] == [("slack:U0INTERN", "match review")]


def test_clicks_decide_each_proposal_in_place_and_are_audited(
    proposed: Bot, slack: FakeSlack
) -> None:
    acme, globex = _proposal(proposed, "hand-1")[0], _proposal(proposed, "hand-2")[0]
    first = ask(proposed, slack, "/match", "review", user=ADMIN)
    assert f"Proposal {acme}" in first.text and "Acme Limited" in first.text
    assert "name 1.00 after removing Ltd/Limited" in first.text
    assert "|Acme Limited>" in first.text and "|Acme Ltd>" in first.text  # linked records
    assert {"match_accept", "match_reject", "match_unsure"} <= set(
        e["action_id"]
        for b in first.body["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    )

    proposed.send.click("match_unsure", str(acme), user=ADMIN)
    second = slack.wait_call("response_url", 2)
    assert second.body["replace_original"] is True
    assert "left open (not sure)" in second.text and f"Proposal {globex}" in second.text

    proposed.send.click("match_reject", str(globex), user="U0INTERN")
    refusal = slack.wait_call("response_url", 3)
    assert "for the map's admins" in refusal.text
    assert _proposal(proposed, "hand-2")[1] == "open"

    proposed.send.click("match_accept", str(globex), user=ADMIN)
    third = slack.wait_call("response_url", 4)
    assert "Globex Corp.): accepted by <@U0ADMIN1>" in third.text
    assert f"Proposal {acme}" not in third.text  # the walk goes on past the last one

    assert _proposal(proposed, "hand-1")[1] == "open"
    assert _proposal(proposed, "hand-2")[1] == "accepted"
    decisions = [(d.proposal_id, d.decision, d.actor) for d in proposed.rows(MatchDecisionRow)]
    assert decisions == [
        (acme, "unsure", "slack:U0ADMIN1"),
        (globex, "accepted", "slack:U0ADMIN1"),
    ]
    audited = [(a.action, a.actor) for a in proposed.rows(ActionRow) if a.allowed]
    assert audited == [("match_unsure", "slack:U0ADMIN1"), ("match_accepted", "slack:U0ADMIN1")]


def test_unlink_in_slack_is_for_admins_and_undoes_the_link(bot: Bot, slack: FakeSlack) -> None:
    bot.add_deal(42, "Acme Ltd")
    bot.sync()
    [contact] = bot.sandboxes["xero"].records("contact")
    assert contact.fields["ContactNumber"] == "PD-42"

    refused = ask(bot, slack, "/match", "unlink PD-42 xero.contact wrong one", user="U0INTERN")
    assert "for the map's admins" in refused.text
    with bot.uow_factory() as uow:
        assert uow.links.find("PD-42", "xero", "contact") is not None

    done = ask(bot, slack, "/match", "unlink PD-42 xero.contact the wrong Acme", user=ADMIN)
    assert f"Unlinked PD-42 from xero.contact {contact.external_id}" in done.text
    with bot.uow_factory() as uow:
        assert uow.links.find("PD-42", "xero", "contact") is None
    assert not bot.sandboxes["xero"].get("contact", contact.external_id).fields.get("ContactNumber")
    audited = [(a.actor, a.action, a.reason, a.allowed) for a in bot.rows(ActionRow)]
    assert ("slack:U0INTERN", "match unlink", None, False) in audited
    assert ("slack:U0ADMIN1", "unlink", "the wrong Acme", True) in audited

    again = ask(bot, slack, "/match", "unlink PD-42 xero.contact twice", user=ADMIN)
    assert "PD-42 has no link in xero.contact" in again.text
    assert "Use `/match unlink" in ask(bot, slack, "/match", "unlink PD-42", user=ADMIN).text
