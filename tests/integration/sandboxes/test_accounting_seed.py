"""``seed: accounting``: an accounting-first business on the built-in sandboxes (customers in
Xero first, a sparse CRM typed by hand). Its example map passes ``handoff check`` and syncs;
the first live sync makes no second copy of a customer sales typed already, because the
reconciliation proposes the pairs and the go-live gate holds the phase until they are settled."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.bootstrap import Runtime, build_runtime
from bot.settings import Settings
from connectors.clock import FrozenClock
from sync_core.alerts import CollectingSink
from sync_core.matching.apply import apply_accepted
from sync_core.matching.normalise import business_name
from sync_core.matching.service import decide, run_match
from sync_core.phases import PhaseError, promote
from sync_core.store.models import MatchStatus
from tests.conftest import REPO_ROOT
from tests.integration.engine.test_cli import handoff

ACCOUNTING = REPO_ROOT / "examples" / "accounting.yaml"


def _runtime(database_url: str, clock: FrozenClock | None = None) -> Runtime:
    settings = Settings.from_env({}, map_path=ACCOUNTING, database_url=database_url)
    clock = clock or FrozenClock()
    return build_runtime(settings, alert_sink=CollectingSink(), clock=clock, env={})


def _organizations(rt: Runtime) -> list[dict[str, object]]:
    crm = rt.sandboxes["pipedrive"].demo.sandbox
    return list(crm.records("organization"))


def test_the_example_map_passes_check(database_url: str) -> None:
    checked = handoff(database_url, "check", str(ACCOUNTING))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the map is valid" in checked.stdout


def test_the_seed_fills_accounts_first_and_the_crm_sparsely(database_url: str) -> None:
    assert handoff(database_url, "db", "upgrade").returncode == 0
    rt = _runtime(database_url)
    try:
        contacts = rt.sandboxes["xero"].demo.sandbox.contacts()
        assert len(contacts) == 10 and not any(c.get("ContactNumber") for c in contacts)
        names = sorted(str(o["name"]) for o in _organizations(rt))
        assert names == ["Contoso", "Fabrikam Incorporated", "Northwind Traders Ltd"]
        # The map's company names the CRM's deep links, not the demo's.
        assert (
            rt.connectors["pipedrive"]
            .deep_link("organization", "1")
            .startswith("https://northwind.pipedrive.com/")
        )
    finally:
        rt.close()


def test_reconciled_then_promoted_the_first_live_sync_duplicates_nobody(
    database_url: str,
) -> None:
    assert handoff(database_url, "db", "upgrade").returncode == 0
    clock = FrozenClock()
    rt = _runtime(database_url, clock)
    try:
        report = rt.engine.sync_once()  # the parallel period: shadow writes only
        assert report is not None
        assert len(_organizations(rt)) == 3

        with rt.uow_factory() as uow:
            matched = run_match(uow, rt.map, rt.connectors, "client", now=rt.clock.now())
            uow.commit()
            proposals = {p.name: (p.source_name, p.status) for p in matched.proposals}
        # A name alone waits for a person (it scores at most 0.9).
        assert proposals == {
            "Northwind Traders Ltd": ("Northwind Traders Limited", "open"),
            "Fabrikam Incorporated": ("Fabrikam Inc", "open"),
            "Contoso": ("Contoso Pty Ltd", "open"),
        }

        clock.advance(timedelta(days=8))  # the parallel period has lasted its 7 days
        with rt.uow_factory() as uow, pytest.raises(PhaseError) as refused:
            promote(uow, rt.map, 1, actor="test", reason="cutover", now=rt.clock.now())
        assert "no_unreviewed_matches" in str(refused.value)
        assert "pipedrive.organization (3)" in str(refused.value)

        with rt.uow_factory() as uow:
            for row in matched.proposals:
                if row.status == MatchStatus.OPEN.value:
                    decide(uow, row.id, "accept", actor="test", now=rt.clock.now())
            uow.commit()
        applied = apply_accepted(
            rt.uow_factory, rt.map, rt.connectors, "client", actor="test", clock=rt.clock.now
        )
        assert len(applied.applied) == 3 and not applied.failed

        with rt.uow_factory() as uow:
            promote(uow, rt.map, 1, actor="test", reason="cutover", now=rt.clock.now())
            uow.commit()
        rt.engine.sync_once()

        organizations = _organizations(rt)
        assert len(organizations) == 10  # the 3 typed by hand, adopted, and 7 new
        same = Counter(getattr(business_name(str(o["name"])), "key", "") for o in organizations)
        assert set(same.values()) == {1}
        marked = [o for o in organizations if o.get("custom_fields")]
        assert len(marked) == 10  # each carries its customer's canonical ID
    finally:
        rt.close()
