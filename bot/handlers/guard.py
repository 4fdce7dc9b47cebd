"""The admin check every admin-only handler makes, with the refusal logged."""

from __future__ import annotations

from bot.handlers.context import HandlerContext
from bot.handlers.results import Notice
from sync_core.operations import record_action


def refuse_unless_admin(ctx: HandlerContext, action: str, subject: str) -> Notice | None:
    """None when the actor may go on; otherwise a refusal, already in the audit log."""
    if ctx.admin:
        return None
    _log_refusal(ctx, action, subject)
    admins = ", ".join(ctx.map.admins) or "nobody"
    return Notice(
        f"Sorry, {action} is for the map's admins ({admins}). Your attempt was logged.",
        ok=False,
        refused=True,
    )


def refuse_unless_operator(ctx: HandlerContext, action: str, subject: str) -> Notice | None:
    """Retry and Ignore on alerts: the map's admins and its alert ``operators``."""
    if ctx.operator:
        return None
    _log_refusal(ctx, action, subject)
    allowed = ", ".join([*ctx.map.admins, *ctx.map.alerts.operators]) or "nobody"
    return Notice(
        f"Sorry, {action} is for the map's admins and operators ({allowed}). "
        "Your attempt was logged.",
        ok=False,
        refused=True,
    )


def _log_refusal(ctx: HandlerContext, action: str, subject: str) -> None:
    with ctx.uow_factory() as uow:
        record_action(
            uow,
            actor=ctx.actor.label,
            action=action,
            subject=subject,
            now=ctx.clock.now(),
            allowed=False,
        )
        uow.commit()
