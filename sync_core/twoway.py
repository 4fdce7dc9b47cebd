"""Two-way fields: the exception, run as two one-way legs with a loop guard and a conflict rule.

``between: [pipedrive.deal, xero.contact]`` with ``person_email <-> EmailAddress`` becomes the
legs ``NAME:pipedrive→xero`` (EmailAddress = person_email) and ``NAME:xero→pipedrive``. Each
leg plans like a one-way flow, plus:

- the loop guard: a change that is only the echo of what the other leg wrote is not sent back;
- the conflict rule, when both legs have an undelivered change for one record at once:
  ``last_write_wins`` (the newer change supersedes the older), ``source_wins`` (the first
  system of ``between`` wins), ``target_wins`` (the second wins), ``manual`` (both are held
  back as dead, with an alert, for a person to settle).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_core.map.model import Flow, IntegrationMap

LEG_SEPARATOR = ":"


@dataclass(frozen=True)
class LegInfo:
    flow: str  # the two-way flow's own name
    reverse: str  # the other leg's name
    conflict: str
    wins: bool  # this leg's side wins a conflict (source_wins/target_wins)
    pairs: tuple[tuple[str, str], ...]  # (field read here, field written there)


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
