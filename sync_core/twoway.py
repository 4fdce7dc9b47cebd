"""Two-way fields: the exception, run as two one-way legs with a loop guard and a conflict rule.

``between: [pipedrive.deal, xero.contact]`` with ``person_email <-> EmailAddress`` becomes the
legs ``NAME:pipedrive→xero`` (EmailAddress = person_email) and ``NAME:xero→pipedrive``. Each
leg plans like a one-way flow, plus:

- the loop guard: a change that is only the echo of what the other leg wrote is not sent back;
- the conflict rule, when both legs have an undelivered change for one record at once:
  ``last_write_wins`` (the newer change supersedes the older), ``source_wins`` (the first
  system of ``between`` wins), ``target_wins`` (the second wins), ``manual`` (both are held
  back as dead, with an alert, for a person to settle).

A conflict settled by a rule overwrites one side's edit. That lost edit is reported with both
values and the rule that decided: at once as an alert, or in a daily digest (the pair's
``report: alert | digest``); either way it is kept in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_core.map.model import Flow, IntegrationMap

LEG_SEPARATOR = ":"
LOST_EDIT_ACTION = "lost_edit"  # the audit log's name for an edit a conflict rule overwrote


@dataclass(frozen=True)
class LegInfo:
    flow: str  # the two-way flow's own name
    reverse: str  # the other leg's name
    conflict: str
    wins: bool  # this leg's side wins a conflict (source_wins/target_wins)
    pairs: tuple[tuple[str, str], ...]  # (field read here, field written there)
    here: str = ""  # the system.record_type this leg reads
    there: str = ""  # the system.record_type this leg writes
    report: str = "alert"  # how a lost edit is reported: alert | digest


@dataclass(frozen=True)
class LostEdit:
    """One side's edit overwritten by a conflict rule: what it said, what won, and why."""

    flow: str
    canonical_id: str
    loser: str  # system.record_type whose edit was lost
    winner: str
    rule: str
    fields: tuple[tuple[str, str, Any, Any], ...]  # (lost field, won field, lost, won value)

    @property
    def summary(self) -> str:
        values = "; ".join(
            f"{lost_field} {lost!r} lost to {won_field} {won!r}"
            for lost_field, won_field, lost, won in self.fields
        )
        return (
            f"{self.flow}: both sides changed {self.canonical_id}; the edit in {self.loser} "
            f"was overwritten ({values}): {self.winner} wins by {rule_text(self.rule)}"
        )

    def as_dict(self) -> dict[str, Any]:
        """For the audit row's JSON: values a vendor gave as dates or decimals become text."""
        data = {
            "canonical_id": self.canonical_id,
            "loser": self.loser,
            "winner": self.winner,
            "rule": self.rule,
            "fields": [list(f) for f in self.fields],
        }
        return dict(json.loads(json.dumps(data, default=str)))


def rule_text(rule: str) -> str:
    return {
        "last_write_wins": "the rule last_write_wins (the change seen last)",
        "source_wins": "the rule source_wins (the first system of between)",
        "target_wins": "the rule target_wins (the second system of between)",
    }.get(rule, f"the rule {rule}")


def lost_edit(
    leg: LegInfo,
    canonical_id: str,
    here_values: Mapping[str, Any],
    there_values: Mapping[str, Any],
    *,
    here_wins: bool,
) -> LostEdit | None:
    """The edit a conflict overwrites, from this leg's view: ``here_values`` are the fields
    read here (the record just read), ``there_values`` the other side's change as the other
    leg would have written it here (keyed by the fields read here). ``None`` when both sides
    said the same, so nothing was lost."""
    fields = []
    for read, written in leg.pairs:
        if read not in there_values or there_values[read] == here_values.get(read):
            continue
        here_value, there_value = here_values.get(read), there_values[read]
        if here_wins:
            fields.append((written, read, there_value, here_value))
        else:
            fields.append((read, written, here_value, there_value))
    if not fields:
        return None
    loser, winner = (leg.there, leg.here) if here_wins else (leg.here, leg.there)
    return LostEdit(leg.flow, canonical_id, loser, winner, leg.conflict, tuple(fields))


def leg_name(flow: Flow, forward: bool) -> str:
    assert flow.between is not None
    first, second = flow.between
    a, b = (first, second) if forward else (second, first)
    return f"{flow.name}{LEG_SEPARATOR}{a.system}→{b.system}"


def directed_flows(integration_map: IntegrationMap) -> tuple[list[Flow], dict[str, LegInfo]]:
    """Every flow as one-way flows: the one-way ones as they are, each two-way flow as two
    legs; and what each leg needs to know about its pair."""
    flows: list[Flow] = []
    legs: dict[str, LegInfo] = {}
    for flow in integration_map.flows:
        if not flow.two_way:
            flows.append(flow)
            continue
        assert flow.between is not None
        pairs = flow.two_way_fields()
        conflict = next((rule.conflict for _, _, rule in pairs if rule.conflict), None)
        report = next((rule.report for _, _, rule in pairs if rule.report), "alert")
        for forward in (True, False):
            source, target = flow.between if forward else reversed(flow.between)
            mapping = {
                (right if forward else left): "{{ " + (left if forward else right) + " }}"
                for left, right, _ in pairs
            }
            name = leg_name(flow, forward)
            flows.append(
                Flow.model_validate(
                    {
                        "name": name,
                        "phase": flow.phase,
                        "from": str(source),
                        "to": str(target),
                        "when": flow.when,
                        "schedule": flow.schedule,
                        "fields": mapping,
                        "description": f"one leg of the two-way flow {flow.name}",
                    }
                )
            )
            legs[name] = LegInfo(
                flow=flow.name,
                reverse=leg_name(flow, not forward),
                conflict=conflict or "last_write_wins",
                wins=(conflict == "source_wins" and forward)
                or (conflict == "target_wins" and not forward),
                pairs=tuple(
                    (left, right) if forward else (right, left) for left, right, _ in pairs
                ),
                here=str(source),
                there=str(target),
                report=report,
            )
    return flows, legs


def is_echo(
    leg: LegInfo, record_fields: Mapping[str, Any], reverse_payload: Mapping[str, Any]
) -> bool:
    """True when every field this leg reads holds exactly what the other leg last wrote."""
    return all(
        read in reverse_payload and reverse_payload[read] == record_fields.get(read)
        for read, _written in leg.pairs
    )
