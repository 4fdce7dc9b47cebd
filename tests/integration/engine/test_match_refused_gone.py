"""`handoff match` on the store, after apply refused a proposal (its record carried another
canonical ID): while the record is there the proposal waits for a person; once the record is
deleted, the next full read goes without it and the proposal goes stale, the reason in its
history. A read resumed after a crash does not know every record it set aside, so it leaves
the proposal to a person until a read in full."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Connector, Page
from connectors.clock import FrozenClock
from connectors.sandbox import SandboxConnector
from sync_core.matching.apply import apply_accepted
from sync_core.matching.resumable import match_entity
from sync_core.store.models import ActionRow, MatchDecisionRow, MatchProposalRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.integration.engine.golive_support import rows
from tests.unit.engine.support import agency_map


class Crash(BaseException):
    """The process dies (nothing catches it)."""


class DiesOnce:
    """Wraps a connector: dies at the ``dies_at``-th page of contacts listed."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.system = inner.system
        self.pages = 0
        self.dies_at: int | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_changed(self, record_type: str, cursor: str | None, *, limit: int = 100) -> Page:
        self.pages += 1
        if self.pages == self.dies_at:
            self.dies_at = None
            raise Crash()
        return self.inner.list_changed(record_type, cursor, limit=limit)


class Setting:
    def __init__(self, uow_factory: SqlUnitOfWorkFactory) -> None:
        self.uow_factory = uow_factory
        self.clock = FrozenClock()
        self.map = agency_map(phase_states={1: "parallel", 2: "parallel"})
        self.sandboxes = {
            n: SandboxConnector(n, n, self.clock) for n in ("pipedrive", "xero", "asana")
        }
        self.xero = DiesOnce(self.sandboxes["xero"])
        self.connectors: dict[str, Any] = {**self.sandboxes, "xero": self.xero}
        for deal, name, email in (
            (100, "Acme Ltd", "jane@acme.com"),
            (101, "Initech", "bill@initech.com"),
        ):
            fields = {"id": deal, "title": "Website", "status": "won", "org_name": name}
            self.sandboxes["pipedrive"].add(
                "deal", {**fields, "person_email": email}, external_id=str(deal)
            )
        self.sandboxes["xero"].add("contact", {"Name": "Stark Inc"})  # read before Acme's
        self.acme = self.sandboxes["xero"].add(
            "contact", {"Name": "Acme Limited", "EmailAddress": "accounts@acme.com"}
        )

    def match(self, page_size: int = 100) -> None:
        self.clock.sleep(60)
        match_entity(
            self.uow_factory,
            self.map,
            self.connectors,
            "client",
            clock=self.clock.now,
            page_size=page_size,
        )

    def refused(self) -> MatchProposalRow:
        """Acme's contact matched and accepted, then given another ID by hand: refused."""
        self.match()
        self.sandboxes["xero"].update("contact", self.acme.external_id, {"ContactNumber": "XC-1"})
        report = apply_accepted(
            self.uow_factory,
            self.map,
            self.connectors,
            "client",
            actor="U0ADMIN1",
            clock=self.clock.now,
        )
        assert len(report.refused) == 1
        return self.proposal()

    def proposal(self) -> MatchProposalRow:
        [row] = [
            r
            for r in rows(self.uow_factory, MatchProposalRow)
            if r.external_id == self.acme.external_id
        ]
        return row

    def history(self, proposal_id: int) -> list[tuple[str, str, str | None]]:
        decisions = sorted(rows(self.uow_factory, MatchDecisionRow), key=lambda d: d.id)
        return [(d.decision, d.actor, d.reason) for d in decisions if d.proposal_id == proposal_id]


@pytest.fixture
def setting(uow_factory: SqlUnitOfWorkFactory) -> Setting:
    return Setting(uow_factory)


def test_a_refused_proposal_stays_a_persons_while_its_record_is_there(setting: Setting) -> None:
    refused = setting.refused()
    setting.match()  # the record carries XC-1: set aside, not proposed
    row = setting.proposal()
    assert (row.id, row.status, row.band) == (refused.id, "open", "review")
    assert [d for d, _, _ in setting.history(row.id)] == ["accepted", "conflict"]


def test_a_refused_proposal_whose_record_is_deleted_goes_stale(setting: Setting) -> None:
    refused = setting.refused()
    setting.sandboxes["xero"].store.remove("contact", setting.acme.external_id)

    setting.match()

    row = setting.proposal()
    assert (row.id, row.status) == (refused.id, "stale")
    reason = f"xero.contact {setting.acme.external_id} is gone: not among the records read"
    assert setting.history(row.id)[-1] == ("stale", "handoff:match", reason)
    actions = sorted(rows(setting.uow_factory, ActionRow), key=lambda a: a.id)
    assert (actions[-1].action, actions[-1].subject, actions[-1].reason) == (
        "match_stale",
        "PD-100",
        reason,
    )


def test_a_resumed_read_leaves_it_open_until_a_read_in_full(setting: Setting) -> None:
    refused = setting.refused()
    setting.sandboxes["xero"].store.remove("contact", setting.acme.external_id)
    setting.sandboxes["xero"].add("contact", {"Name": "Wayne Corp"})  # a second page

    # killed on the second page of contacts: the next run resumes, and does not know which
    # records the first page set aside
    setting.xero.pages, setting.xero.dies_at = 0, 2
    with pytest.raises(Crash):
        setting.match(page_size=1)
    setting.match(page_size=1)
    assert setting.proposal().status == "open"

    setting.match(page_size=1)  # read in full: the record is known to be gone
    row = setting.proposal()
    assert (row.id, row.status) == (refused.id, "stale")
