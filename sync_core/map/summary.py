"""The map as plain data for people: what ``handoff check`` draws and ``--json`` prints.

Credentials appear as the names of their environment variables, never as values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync_core.map.model import ENV_PREFIX, Flow, IntegrationMap, RecordRef, format_duration
from sync_core.map.problems import Problem

ONE_WAY_ARROW = "──▶"
TWO_WAY_ARROW = "◀──▶"


def summarize(integration_map: IntegrationMap, problems: Sequence[Problem] = ()) -> dict[str, Any]:
    """Systems, entities, phases and flows of the map, plus ``problems`` as dicts."""
    return {
        "name": integration_map.name,
        "version": integration_map.version,
        "admins": list(integration_map.admins),
        "alerts": _alerts(integration_map),
        "systems": _systems(integration_map),
        "entities": _entities(integration_map),
        "phases": [
            {
                "id": phase.id,
                "name": phase.name,
                "state": phase.state.value,
                "parallel_days": phase.parallel_days,
                "manual_step": phase.manual_step,
            }
            for phase in integration_map.phases
        ],
        "flows": [_flow(flow) for flow in integration_map.flows],
        "problems": [problem.as_dict() for problem in problems],
    }


def draw_flow(flow: Flow) -> str:
    """``pipedrive.deal ──▶ xero.contact``; a two-way flow gets ``◀──▶``."""
    if flow.between is not None:
        left, right = flow.between
        return f"{left} {TWO_WAY_ARROW} {right}"
    return f"{flow.source} {ONE_WAY_ARROW} {flow.target}"


def _alerts(integration_map: IntegrationMap) -> dict[str, Any]:
    alerts = integration_map.alerts
    return {
        "channel": alerts.channel,
        "retry": [format_duration(delay) for delay in alerts.retry],
        "escalate_after": format_duration(alerts.escalate_after) if alerts.escalate_after else None,
        "mention": alerts.mention,
    }


def record_types_used(integration_map: IntegrationMap) -> dict[str, list[str]]:
    """Per system, the record types the map's flows, entities and manual copies name."""
    refs: list[RecordRef] = []
    for flow in integration_map.flows:
        refs.extend(flow.between or (flow.source, flow.target))  # type: ignore[arg-type]
    for entity in integration_map.entities.values():
        refs.append(entity.canonical_id.minted_by)
        refs.extend(line.system for line in entity.source_of_truth)
        refs.extend(_parse_refs(entity.copies))
        if entity.parent is not None:
            refs.append(entity.parent.record)
    for phase in integration_map.phases:
        for copy in phase.manual_copies:
            refs.extend((copy.source, copy.target))
    used: dict[str, list[str]] = {}
    for ref in refs:
        if ref is not None and ref.record_type not in used.setdefault(ref.system, []):
            used[ref.system].append(ref.record_type)
    return used


def _parse_refs(keys: Sequence[str] | dict[str, Any]) -> list[RecordRef]:
    refs = []
    for key in keys:
        try:
            refs.append(RecordRef.parse(key))
        except ValueError:
            continue  # the validator reports it; a summary still draws the rest
    return refs


def _systems(integration_map: IntegrationMap) -> dict[str, Any]:
    used = record_types_used(integration_map)
    systems = {}
    for name, system in integration_map.systems.items():
        credentials = {
            # An inline value is shown as missing, never printed: it may be the secret.
            key: value[len(ENV_PREFIX) :] if value.startswith(ENV_PREFIX) else None
            for key, value in system.auth.items()
        }
        systems[name] = {
            "connector": system.connector,
            "emulates": system.options.get("emulates") if system.connector == "sandbox" else None,
            "record_types": used.get(name, []),
            "credentials": credentials,
            "custom_fields": {k: list(v) for k, v in system.custom_fields.items()},
        }
    return systems


def _entities(integration_map: IntegrationMap) -> dict[str, Any]:
    entities = {}
    for name, entity in integration_map.entities.items():
        entities[name] = {
            "description": entity.description,
            "canonical_id": {
                "minted_by": str(entity.canonical_id.minted_by),
                "format": entity.canonical_id.format,
            },
            "source_of_truth": [
                {
                    "system": str(line.system),
                    "fields": list(line.fields) if line.fields is not None else None,
                    "until": line.until,
                    "when": line.when,
                }
                for line in entity.source_of_truth
            ],
            "copies": {key: str(copy.id_field) for key, copy in entity.copies.items()},
            "parent": (
                {
                    "entity": entity.parent.entity,
                    "via": entity.parent.via,
                    "record": str(entity.parent.record),
                }
                if entity.parent is not None
                else None
            ),
        }
    return entities


def _flow(flow: Flow) -> dict[str, Any]:
    return {
        "name": flow.name,
        "phase": flow.phase,
        "direction": "two-way" if flow.two_way else "one-way",
        "drawn": draw_flow(flow),
        "from": str(flow.source) if flow.source else None,
        "to": str(flow.target) if flow.target else None,
        "between": [str(ref) for ref in flow.between] if flow.between else None,
        "when": flow.when,
        "schedule": f"every {format_duration(flow.schedule)}",
        "fields": dict(flow.fields),
        "link_back": (
            {"field": flow.link_back.field, "value": flow.link_back.value}
            if flow.link_back
            else None
        ),
        "drift": None if flow.two_way else flow.drift,
        "description": flow.description,
    }


__all__ = ["ONE_WAY_ARROW", "TWO_WAY_ARROW", "draw_flow", "record_types_used", "summarize"]
