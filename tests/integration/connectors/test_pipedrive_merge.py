"""Merging two Pipedrive records (``PUT /v1/<collection>/{id}/merge``): the one in the path is
removed, ``merge_with_id`` is kept with its own values first; every exchange held to the
published v1/v2 specifications (fixtures from ``test_pipedrive.py``)."""

# The fixtures are imported from test_pipedrive.py; pytest injects them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import pytest

from connectors.base import Permanent
from connectors.capabilities import Merge
from connectors.clock import FrozenClock
from connectors.pipedrive import PipedriveConnector
from connectors.pipedrive.sandbox import PipedriveSandbox
from tests.integration.connectors.test_pipedrive import (  # noqa: F401 - fixtures
    clock,
    harness,
    pd,
    sandbox,
    served,
)


def test_the_connector_can_merge(pd: PipedriveConnector) -> None:
    assert isinstance(pd, Merge)


def test_merging_an_organization_keeps_one_and_removes_the_other(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, clock: FrozenClock
) -> None:
    kept = sandbox.add_organization("Acme Ltd", custom={"Xero contact": "XC-1"})
    clock.advance(60)
    typed = sandbox.add_organization("Acme Limited", address="1 High St")
    person = sandbox.add_person("Jane", email="jane@acme.test", org_id=typed["id"])
    deal = sandbox.add_deal("Website", org_id=typed["id"], person_id=person["id"])

    record = pd.merge("organization", str(kept["id"]), str(typed["id"]))

    assert record.external_id == str(kept["id"])
    assert record.fields["name"] == "Acme Ltd"  # the kept one's value wins
    assert record.fields["Xero contact"] == "XC-1"
    assert record.fields["address"] == "1 High St"  # its empty field takes the other's
    assert [o["id"] for o in sandbox.records("organization")] == [kept["id"]]
    with pytest.raises(Permanent) as gone:
        pd.get("organization", str(typed["id"]))
    assert gone.value.http_status == 404
    # What pointed at the removed organization now points at the kept one.
    assert pd.get("person", str(person["id"])).fields["org_id"] == kept["id"]
    assert pd.get("deal", str(deal["id"])).fields["org_name"] == "Acme Ltd"
    puts = [(m, p) for m, p, _ in sandbox.log if m == "PUT"]
    assert puts == [("PUT", f"/v1/organizations/{typed['id']}/merge")]


@pytest.mark.parametrize("record_type", ["person", "deal"])
def test_persons_and_deals_merge_too(
    pd: PipedriveConnector, sandbox: PipedriveSandbox, record_type: str
) -> None:
    if record_type == "person":
        kept, typed = sandbox.add_person("Jane Doe"), sandbox.add_person("Jane D.", phone="+44 1")
    else:
        kept, typed = sandbox.add_deal("Website"), sandbox.add_deal("Website (copy)", value=900)
    record = pd.merge(record_type, str(kept["id"]), str(typed["id"]))
    assert record.external_id == str(kept["id"])
    assert [r["id"] for r in sandbox.records(record_type)] == [kept["id"]]
    if record_type == "person":
        assert record.fields["phone"] == "+44 1"
    else:
        assert record.fields["value"] == 0 and record.fields["title"] == "Website"


def test_a_second_merge_of_the_same_pair_changes_nothing(
    pd: PipedriveConnector, sandbox: PipedriveSandbox
) -> None:
    kept, typed = sandbox.add_organization("Acme Ltd"), sandbox.add_organization("Acme Limited")
    pd.merge("organization", str(kept["id"]), str(typed["id"]))
    again = pd.merge("organization", str(kept["id"]), str(typed["id"]))  # a double click
    assert again.external_id == str(kept["id"])
    assert [o["id"] for o in sandbox.records("organization")] == [kept["id"]]


def test_merging_into_a_missing_record_or_itself_is_refused(
    pd: PipedriveConnector, sandbox: PipedriveSandbox
) -> None:
    typed = sandbox.add_organization("Acme Limited")
    with pytest.raises(Permanent) as missing:
        pd.merge("organization", "999", str(typed["id"]))
    assert missing.value.http_status == 404
    with pytest.raises(Permanent):
        pd.merge("organization", str(typed["id"]), str(typed["id"]))
    assert [o["id"] for o in sandbox.records("organization")] == [typed["id"]]
