"""The first-start alert of a phase held for review closes when the phase is promoted (from
Slack or the CLI) or when the review it waited for is done, audited and redrawn in place; a
phase whose review is done and that nobody promoted says so in `/phase status`."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from bot.handlers.alerts import AlertView
from bot.handlers.context import Actor, HandlerContext
from bot.handlers.match import decide_proposal
from bot.handlers.phase import PhaseChanged, PhaseStatusView, change_phase, phase_command
from bot.views.alert import alert_message
from bot.views.rollout import phase_status_message
from sync_core.alert_detail import alert_detail
from sync_core.alerts import CollectingSink
from sync_core.store.models import ActionRow, AlertOutboxRow, AlertRow
from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.integration.engine.golive_support import KEY, PHASE, Vendors, held_for_review, rows
from tests.integration.engine.test_cli import handoff
from tests.unit.engine.support import _agency_dict

ADMIN = Actor(user_id="U0ADMIN1")


def _held(uow_factory: SqlUnitOfWorkFactory) -> tuple[Vendors, HandlerContext]:
    vendors = held_for_review()
    engine = vendors.engine(uow_factory, CollectingSink(), "worker")
    engine.prepare()
    (alert,) = [a for a in rows(uow_factory, AlertRow) if a.group_key == KEY]
    assert alert.state == "open"
    ctx = HandlerContext(vendors.map, uow_factory, engine, vendors.clock, actor=ADMIN)
    return vendors, ctx


def _alert(uow_factory: SqlUnitOfWorkFactory) -> AlertRow:
    (alert,) = [a for a in rows(uow_factory, AlertRow) if a.group_key == KEY]
    return alert


def _redrawn(uow_factory: SqlUnitOfWorkFactory, alert_id: int) -> list[str]:
    return [r.kind for r in rows(uow_factory, AlertOutboxRow) if r.alert_id == alert_id]


def _resolutions(uow_factory: SqlUnitOfWorkFactory, alert_id: int) -> list[tuple[str, str]]:
    return [
        (a.actor, a.reason or "")
        for a in rows(uow_factory, ActionRow)
        if a.action == "resolve_alert" and a.subject == f"alert:{alert_id}"
    ]


def _drawn(uow_factory: SqlUnitOfWorkFactory, alert_id: int) -> tuple[str, list[str]]:
    """The alert's message as the sender draws it: its first block's text, and its buttons."""
    with uow_factory() as uow:
        detail = alert_detail(uow, alert_id)
    assert detail is not None
    blocks = alert_message(AlertView(detail))["blocks"]
    buttons = [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return blocks[0]["text"]["text"], buttons


def _status_line(ctx: HandlerContext) -> str:
    view = phase_command(ctx, "status")
    assert isinstance(view, PhaseStatusView)
    (status,) = [p for p in view.phases if p.id == PHASE]
    (line,) = [
        b["text"]["text"]
        for b in phase_status_message(view)["blocks"]
        if f"Phase {PHASE}:" in b.get("text", {}).get("text", "")
    ]
    assert (status.review or "") in line
    return line


def test_promoting_a_held_phase_resolves_its_first_start_alert(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    _, ctx = _held(uow_factory)
    assert "held for review: 1 probable match(es)" in _status_line(ctx)

    changed = change_phase(ctx, "promote", PHASE, "sales checked Stark by phone", override=True)

    assert isinstance(changed, PhaseChanged) and changed.change.to_state == "live"
    alert = _alert(uow_factory)
    assert alert.state == "resolved" and alert.resolved_at is not None
    assert "Promoted to live by slack:U0ADMIN1 (gates overridden: no_unreviewed_matches)" in (
        alert.summary
    )
    assert _resolutions(uow_factory, alert.id) == [
        ("slack:U0ADMIN1", alert.summary.split("\n")[-1])
    ]
    assert _redrawn(uow_factory, alert.id) == ["update"]  # the message, redrawn in place
    assert "ready to promote" not in _status_line(ctx)


def test_promoting_a_held_phase_from_the_cli_resolves_its_first_start_alert(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    _held(uow_factory)
    data = copy.deepcopy(_agency_dict())
    for phase in data["phases"]:
        if phase["id"] in (2, 3):
            phase["state"] = "planned"
    map_path = tmp_path / "integration.yaml"
    map_path.write_text(yaml.safe_dump(data))

    promoted = handoff(
        database_url,
        "phase",
        "promote",
        "1",
        "-r",
        "Stark checked",
        "--override",
        "-c",
        str(map_path),
    )

    assert promoted.returncode == 0, promoted.stderr
    assert "parallel → live" in promoted.stdout
    alert = _alert(uow_factory)
    assert alert.state == "resolved"
    assert "Promoted to live by cli:" in alert.summary and "Stark checked" in alert.summary
    (resolution,) = _resolutions(uow_factory, alert.id)
    assert resolution[0].startswith("cli:")
    assert _redrawn(uow_factory, alert.id) == ["update"]


def test_rejecting_the_last_open_proposal_resolves_the_alert_and_status_says_ready(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    _, ctx = _held(uow_factory)
    with uow_factory() as uow:
        (stark,) = uow.matches.for_entity("client", ["open"])
        proposal = stark.id

    text, buttons = _drawn(uow_factory, _alert(uow_factory).id)
    assert text.startswith("*:hourglass_flowing_sand: Phase held at its first start*")
    assert buttons == ["Ignore"]

    decide_proposal(ctx, proposal, "reject")

    alert = _alert(uow_factory)
    assert alert.state == "resolved"
    text, buttons = _drawn(uow_factory, alert.id)
    assert text.startswith("*:white_check_mark: Phase no longer held*\nReview done")
    assert buttons == []
    assert "Review done (last decision by slack:U0ADMIN1)" in alert.summary
    assert "handoff phase promote 1" in alert.summary
    assert [actor for actor, _ in _resolutions(uow_factory, alert.id)] == ["slack:U0ADMIN1"]
    assert _redrawn(uow_factory, alert.id) == ["update"]
    assert "review done: ready to promote: `/phase promote 1`" in _status_line(ctx)

    # promoting later resolves nothing twice, and needs no override any more
    changed = change_phase(ctx, "promote", PHASE, "review done")
    assert isinstance(changed, PhaseChanged) and changed.change.overridden == []
    assert len(_resolutions(uow_factory, alert.id)) == 1
    assert "ready to promote" not in _status_line(ctx)


def test_a_decision_that_leaves_proposals_open_keeps_the_alert_open(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    _, ctx = _held(uow_factory)
    with uow_factory() as uow:
        (stark,) = uow.matches.for_entity("client", ["open"])
        proposal = stark.id

    decide_proposal(ctx, proposal, "unsure")  # said out loud, still open
    assert _alert(uow_factory).state == "open"
    decide_proposal(ctx, proposal, "accept")  # accepted, not linked yet: still held
    assert _alert(uow_factory).state == "open"
    assert "held for review" in _status_line(ctx)
