"""Merge on a probable-duplicate alert, where the vendor merges records: an organization
typed by hand into the CRM after cutover, for a customer whose organization Handoff made
already, is merged into that one (signed clicks); audited, the alert updated in place, a
second click harmless. Where the customer has no record of that type yet, Merge is not
offered (Link is the answer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.store.models import ActionRow, MatchProposalRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.test_alerts import alert_buttons
from tests.e2e.world import ADMIN, Bot

ACCOUNTING = Path(__file__).resolve().parents[2] / "examples" / "accounting.yaml"
ORGANIZATION = RecordRef(system="pipedrive", record_type="organization")


def accounting_live() -> IntegrationMap:
    """The accounting-first example with its phase live (the customers reconciled)."""
    data = yaml.safe_load(ACCOUNTING.read_text())
    data["phases"][0]["state"] = "live"
    return IntegrationMap.model_validate(data)


@pytest.fixture
def crm_bot(slack: FakeSlack, uow_factory: SqlUnitOfWorkFactory) -> Iterator[Bot]:
    world = Bot(accounting_live(), uow_factory, slack)
    yield world
    world.close()


def organizations(bot: Bot) -> dict[str, dict[str, object]]:
    return {
        r.external_id: dict(r.fields) for r in bot.sandboxes["pipedrive"].records("organization")
    }


def test_merge_folds_the_typed_organization_into_the_customers_own(
    crm_bot: Bot, slack: FakeSlack
) -> None:
    bot = crm_bot
    bot.sandboxes["xero"].add(
        "contact", {"Name": "Acme Ltd", "ContactStatus": "ACTIVE"}, external_id="xc-1"
    )
    bot.sync()
    [(kept_id, kept)] = organizations(bot).items()
    canonical_id = str(kept["Xero contact"])
    assert canonical_id.startswith("C-")

    bot.sandboxes["pipedrive"].add(
        "organization", {"name": "Acme Limited", "address": "1 High St"}, external_id="hand-1"
    )
    bot.engine.check_drift(ORGANIZATION)
    posted = slack.wait_call("chat.postMessage")
    assert "probable duplicate typed by hand: 'Acme Limited' in pipedrive.organization" in (
        posted.text
    )
    assert f"Merge folds it into {kept_id}" in posted.text
    buttons = alert_buttons(posted)
    assert set(buttons) == {"duplicate_link", "duplicate_merge", "duplicate_not_duplicate"}
    assert "*Merge* folds it into the customer's own pipedrive.organization" in str(posted.body)

    bot.send.click("duplicate_merge", buttons["duplicate_merge"], user="U0INTERN")
    assert "for the map's admins" in slack.wait_call("response_url", 1).text
    assert "hand-1" in organizations(bot)

    bot.send.click("duplicate_merge", buttons["duplicate_merge"], user=ADMIN)
    updated = slack.wait_call("chat.update")
    assert "Duplicate merged" in updated.text
    assert f"Merged into pipedrive.organization {kept_id} ({canonical_id}) by <@U0ADMIN1>" in str(
        updated.body
    )
    assert not alert_buttons(updated)
    after = organizations(bot)
    assert list(after) == [kept_id]  # the typed one is gone, the customer's own remains
    assert after[kept_id]["name"] == "Acme Ltd" and after[kept_id]["address"] == "1 High St"
    assert after[kept_id]["Xero contact"] == canonical_id
    [proposal] = bot.rows(MatchProposalRow)
    assert (proposal.external_id, proposal.status) == ("hand-1", "merged")
    [alert] = bot.alerts()
    assert alert.state == "resolved"
    audited = [(a.actor, a.action, a.allowed) for a in bot.rows(ActionRow)]
    assert ("slack:U0INTERN", "duplicate merge", False) in audited
    assert ("slack:U0ADMIN1", "merge", True) in audited
    assert ("slack:U0ADMIN1", "match_merged", True) in audited

    # A second click on the old message changes nothing.
    bot.send.click("duplicate_merge", buttons["duplicate_merge"], user=ADMIN)
    assert "settled already" in slack.wait_call("response_url", 3).text
    assert list(organizations(bot)) == [kept_id]
    assert [a.action for a in bot.rows(ActionRow)].count("merge") == 1

    # The contact changes: the next sync updates the kept organization, no second one.
    bot.sandboxes["xero"].edit("contact", "xc-1", Name="Acme Ltd.")
    bot.sync()
    assert list(organizations(bot)) == [kept_id]


def test_no_merge_without_a_record_of_the_customers_own_to_merge_into(
    crm_bot: Bot, slack: FakeSlack
) -> None:
    bot = crm_bot
    # Archived in accounts: a known customer, but no organization made for it.
    bot.sandboxes["xero"].add(
        "contact", {"Name": "Globex Corporation", "ContactStatus": "ARCHIVED"}, external_id="xc-2"
    )
    bot.sync()
    assert organizations(bot) == {}
    bot.sandboxes["pipedrive"].add("organization", {"name": "Globex Corp."}, external_id="h-2")
    bot.engine.check_drift(ORGANIZATION)
    posted = slack.wait_call("chat.postMessage")
    assert "'Globex Corp.' in pipedrive.organization" in posted.text
    assert set(alert_buttons(posted)) == {"duplicate_link", "duplicate_not_duplicate"}
