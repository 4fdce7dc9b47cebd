"""Link, Merge and Not a duplicate on a probable-duplicate alert: a record typed by hand
after cutover, settled by an admin, audited, and the alert updated in place."""

from __future__ import annotations

import threading

from bot.handlers.alerts import AlertView
from bot.handlers.context import HandlerContext
from bot.handlers.guard import refuse_unless_admin
from bot.handlers.results import Notice
from bot.views.blocks import who
from connectors.base import ConnectorError
from sync_core.alert_detail import alert_detail
from sync_core.alerts import AlertState, settle_alert
from sync_core.linking import LinkError, adopt_record
from sync_core.map.model import RecordRef
from sync_core.matching.decisions import record_decision
from sync_core.matching.hand_typed import proposal_of
from sync_core.matching.merging import MergeError, merge_typed
from sync_core.matching.service import MatchError, decide
from sync_core.store.models import MatchStatus

DECISIONS = ("link", "merge", "not_duplicate")
# the status each decision leaves the proposal in, and those a proposal can be settled from
OUTCOMES = {
    "link": MatchStatus.APPLIED,
    "merge": MatchStatus.MERGED,
    "not_duplicate": MatchStatus.REJECTED,
}
UNSETTLED = (MatchStatus.OPEN.value, MatchStatus.ACCEPTED.value, MatchStatus.STALE.value)

# One settlement at a time in this process: a double click waits for the first and finds the
# alert settled. Across processes the store's conditional update decides (see ``_settle``).
_settling = threading.Lock()


def settle_duplicate(ctx: HandlerContext, alert_id: int, decision: str) -> AlertView | Notice:
    """``link`` adopts the typed record as the same customer (the canonical ID stamped into
    it); ``merge`` merges it into the customer's own record of that type, in the vendor;
    ``not_duplicate`` rejects the match so the record is never alerted again."""
    refused = refuse_unless_admin(ctx, f"duplicate {decision}", f"alert:{alert_id}")
    if refused is not None:
        return refused
    with _settling:
        return _settle(ctx, alert_id, decision)


def _settle(ctx: HandlerContext, alert_id: int, decision: str) -> AlertView | Notice:
    now = ctx.clock.now()
    with ctx.uow_factory() as uow:
        alert = uow.alerts.get(alert_id)
        proposal_id = proposal_of(alert.group_key) if alert else None
        row = uow.matches.get(proposal_id) if proposal_id is not None else None
        if alert is None or row is None:
            return Notice(f"No probable-duplicate alert {alert_id}.", ok=False)
        settled_already = Notice(f"Alert {alert_id} is settled already.", ok=False)
        if alert.state not in (AlertState.OPEN, AlertState.ACKNOWLEDGED):
            return settled_already
        outcome_status = OUTCOMES.get(decision)
        if outcome_status is None:
            return Notice(f"{decision!r} is not a choice ({', '.join(DECISIONS)}).", ok=False)
        # Another process (a second `serve`) may be settling the same proposal: the store
        # lets exactly one move it on; this transaction holds it until it commits or rolls
        # back (a vendor write that fails undoes the claim with everything else).
        if row.status not in UNSETTLED or not uow.matches.settle(
            row.id, row.status, outcome_status.value
        ):
            return settled_already
        record = f"{row.ref} {row.external_id}"
        if decision == "link":
            try:
                adopt_record(
                    uow,
                    ctx.map,
                    ctx.engine.connectors,
                    row.canonical_id,
                    RecordRef(system=row.system, record_type=row.record_type),
                    row.external_id,
                    actor=ctx.actor.label,
                    now=now,
                )
            except (LinkError, ConnectorError) as exc:
                return Notice(f"Could not link {record} to {row.canonical_id}: {exc}", ok=False)
            row.status = MatchStatus.APPLIED.value
            row.decided_by = ctx.actor.label
            row.decided_at = row.applied_at = row.updated_at = now
            record_decision(uow, row, "applied", ctx.actor.label, "typed by hand", now)
            state = AlertState.RESOLVED
            outcome = f"Linked to {row.canonical_id} by {who(ctx.actor)}: one customer."
        elif decision == "merge":
            try:
                merged = merge_typed(
                    uow, ctx.engine.connectors, row, actor=ctx.actor.label, now=now
                )
            except (MergeError, ConnectorError) as exc:
                return Notice(f"Could not merge {record}: {exc}", ok=False)
            state = AlertState.RESOLVED
            outcome = (
                f"Merged into {merged.ref} {merged.kept_id} ({merged.canonical_id}) by "
                f"{who(ctx.actor)}: one customer, {record} is gone."
            )
        elif decision == "not_duplicate":
            try:
                decide(uow, row.id, "reject", actor=ctx.actor.label, now=now, reason=None)
            except MatchError as exc:
                return Notice(str(exc), ok=False)
            state = AlertState.IGNORED
            outcome = f"Not a duplicate, said {who(ctx.actor)}: it will not be alerted again."
        else:
            return Notice(f"{decision!r} is not a choice ({', '.join(DECISIONS)}).", ok=False)
        settle_alert(uow, alert, state=state, outcome=outcome, now=now)
        uow.commit()
        detail = alert_detail(uow, alert_id)
    assert detail is not None
    return AlertView(detail)
