"""Block Kit for /match: the counts per entity and system, and one proposal to decide."""

from __future__ import annotations

from typing import Any

from bot.handlers.match import MatchReviewView, MatchStatusView
from bot.views import ids
from bot.views.blocks import Block, actions, button, context, escape, fields, message, section

# which decision each button makes (Slack's listener and the console twin read this)
DECISION_OF = {ids.MATCH_ACCEPT: "accept", ids.MATCH_REJECT: "reject", ids.MATCH_UNSURE: "unsure"}


def match_status_message(view: MatchStatusView) -> dict[str, Any]:
    if not view.counts:
        return message(
            "No match proposals",
            [section("No match proposals yet: `handoff match ENTITY` reconciles an entity.")],
        )
    per_ref: dict[tuple[str, str], list[str]] = {}
    for (entity, ref, status), count in sorted(view.counts.items()):
        per_ref.setdefault((entity, ref), []).append(f"{status} {count}")
    lines = [f"*{escape(e)}* in `{escape(r)}`: {', '.join(s)}" for (e, r), s in per_ref.items()]
    return message("Match proposals", [section("*Match proposals*\n" + "\n".join(lines))])


def match_review_message(view: MatchReviewView) -> dict[str, Any]:
    by = f" by <@{view.decided_by}>" if view.decided_by else ""
    blocks: list[Block] = [context(escape(line) + by) for line in view.decided]
    card = view.proposal
    if card is None:
        blocks.append(section("No open proposals left. `handoff match apply` links the accepted."))
        return message("No open proposals", blocks)
    blocks += [
        section(
            f"*Proposal {card.id}* ({view.remaining} open) · {escape(card.entity)} "
            f"{escape(card.canonical_id)} · score *{card.score:.2f}*"
        ),
        fields(
            f"*{escape(card.source)}*\n{_linked(card.source_name, card.source_url)}",
            f"*{escape(card.record)}*\n{_linked(card.name, card.url)}",
        ),
        context(escape(card.reasons)),
        actions(
            button("Accept", ids.MATCH_ACCEPT, str(card.id), style="primary"),
            button("Reject", ids.MATCH_REJECT, str(card.id), style="danger"),
            button("Not sure", ids.MATCH_UNSURE, str(card.id)),
            block_id=f"match_{card.id}",
        ),
    ]
    text = f"Is {card.source_name} the same customer as {card.name}?"
    return message(text, blocks)


def _linked(name: str, url: str | None) -> str:
    return f"<{url}|{escape(name)}>" if url else escape(name)
