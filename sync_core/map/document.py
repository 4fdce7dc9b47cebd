"""The map as the document a team agrees on, and the arrows of its picture.

This is the domain half of ``handoff map render``: what the document says and which arrows
the picture draws in the current state (today's hand copying beside what already runs) and in
the target state (every flow). Writing it as Markdown, SVG, PNG or HTML is the shell's job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from sync_core.map.model import (
    Entity,
    Flow,
    IntegrationMap,
    Phase,
    PhaseState,
    RecordRef,
    format_duration,
)
from sync_core.map.summary import draw_flow, record_types_used

# More two-way arrows than this share of all arrows makes the picture warn: two-way fields
# need a conflict rule each and are where duplicates and lost edits come from.
TWO_WAY_SHARE = 0.25


class View(StrEnum):
    """Which state a picture shows."""

    CURRENT = "current"
    TARGET = "target"
    BOTH = "both"


class ArrowKind(StrEnum):
    ONE_WAY = "one-way"
    TWO_WAY = "two-way"
    MANUAL = "manual"  # people copying by hand today


@dataclass(frozen=True)
class Arrow:
    """One arrow between two systems' boxes."""

    source: RecordRef
    target: RecordRef
    kind: ArrowKind
    label: str
    phase: int
    state: PhaseState
    # the canonical ID format this arrow stamps into the target (``PD-{id}``), if it does
    carries_id: str | None = None


@dataclass(frozen=True)
class Owner:
    record: str
    fields: list[str] | None  # None: every field no other line owns
    until: str | None
    when: str | None


@dataclass(frozen=True)
class EntityDoc:
    name: str
    description: str | None
    display_name: str | None
    minted_by: str
    id_format: str
    owners: list[Owner]
    copies: dict[str, str]  # record type -> the field that keeps the canonical ID
    parent: str | None


@dataclass(frozen=True)
class SystemDoc:
    name: str
    connector: str
    record_types: list[str]
    custom_fields: dict[str, list[str]]
    mints: list[str]  # "client PD-{id} (deal)"


@dataclass(frozen=True)
class FlowDoc:
    name: str
    phase: int
    state: PhaseState
    direction: str
    drawn: str
    fields: list[tuple[str, str]]  # (target field, source template) or (a <-> b, rule)
    when: str | None
    schedule: str
    link_back: str | None
    drift: str | None
    description: str | None


@dataclass(frozen=True)
class ManualCopyDoc:
    who: str
    source: str
    target: str
    fields: list[str]
    when: str | None


@dataclass(frozen=True)
class PhaseDoc:
    id: int
    name: str
    state: PhaseState
    parallel_days: int
    manual_step: str | None
    manual_copies: list[ManualCopyDoc]
    flows: list[str]


@dataclass(frozen=True)
class MapDocument:
    """Everything the map says, in the order a reader needs it."""

    name: str
    admins: list[str]
    alert_channel: str
    alert_mention: str | None
    operators: list[str]
    systems: list[SystemDoc]
    entities: list[EntityDoc]
    flows: list[FlowDoc]
    phases: list[PhaseDoc]
    arrows: dict[View, list[Arrow]] = field(default_factory=dict)

    def two_way_warning(self, view: View) -> str | None:
        """A sentence when more than a quarter of the view's arrows are two-way."""
        arrows = self.arrows_of(view)
        two_way = sum(1 for arrow in arrows if arrow.kind is ArrowKind.TWO_WAY)
        if arrows and two_way / len(arrows) > TWO_WAY_SHARE:
            return (
                f"{two_way} of {len(arrows)} arrows are two-way: each needs a conflict rule; "
                "prefer one-way flows from the source of truth"
            )
        return None

    def arrows_of(self, view: View) -> list[Arrow]:
        if view is View.BOTH:
            return [*self.arrows[View.CURRENT], *self.arrows[View.TARGET]]
        return self.arrows[view]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["arrows"] = {
            view.value: [
                {**asdict(a), "source": str(a.source), "target": str(a.target)} for a in arrows
            ]
            for view, arrows in self.arrows.items()
        }
        return data


def build_document(integration_map: IntegrationMap) -> MapDocument:
    """The document and the picture's arrows of ``integration_map``."""
    states = {phase.id: phase.state for phase in integration_map.phases}
    used = record_types_used(integration_map)
    return MapDocument(
        name=integration_map.name,
        admins=list(integration_map.admins),
        alert_channel=integration_map.alerts.channel,
        alert_mention=integration_map.alerts.mention,
        operators=list(integration_map.alerts.operators),
        systems=[
            SystemDoc(
                name=name,
                connector=system.connector,
                record_types=used.get(name, []),
                custom_fields={k: list(v) for k, v in system.custom_fields.items()},
                mints=[
                    f"{entity_name} {entity.canonical_id.format} "
                    f"({entity.canonical_id.minted_by.record_type})"
                    for entity_name, entity in integration_map.entities.items()
                    if entity.canonical_id.minted_by.system == name
                ],
            )
            for name, system in integration_map.systems.items()
        ],
        entities=[_entity(name, entity) for name, entity in integration_map.entities.items()],
        flows=[
            _flow(flow, states.get(flow.phase, PhaseState.PLANNED))
            for flow in integration_map.flows
        ],
        phases=[_phase(phase, integration_map) for phase in integration_map.phases],
        arrows={
            View.CURRENT: current_arrows(integration_map),
            View.TARGET: target_arrows(integration_map),
        },
    )


def target_arrows(integration_map: IntegrationMap) -> list[Arrow]:
    """Every flow: a solid arrow per one-way flow, a double arrow per two-way field pair."""
    states = {phase.id: phase.state for phase in integration_map.phases}
    arrows: list[Arrow] = []
    for flow in integration_map.flows:
        state = states.get(flow.phase, PhaseState.PLANNED)
        arrows.extend(_flow_arrows(integration_map, flow, state))
    return arrows


def current_arrows(integration_map: IntegrationMap) -> list[Arrow]:
    """Today: the flows of live and parallel phases, and the hand copying of every phase not
    live yet (a parallel phase runs beside the people it will replace)."""
    states = {phase.id: phase.state for phase in integration_map.phases}
    arrows: list[Arrow] = []
    for flow in integration_map.flows:
        state = states.get(flow.phase, PhaseState.PLANNED)
        if state is not PhaseState.PLANNED:
            arrows.extend(_flow_arrows(integration_map, flow, state))
    for phase in integration_map.phases:
        if phase.state is PhaseState.LIVE:
            continue
        for copy in phase.manual_copies:
            fields = f": {', '.join(copy.fields)}" if copy.fields else ""
            arrows.append(
                Arrow(
                    source=copy.source,
                    target=copy.target,
                    kind=ArrowKind.MANUAL,
                    label=f"{copy.who} by hand{fields}",
                    phase=phase.id,
                    state=phase.state,
                )
            )
    return arrows


def _flow_arrows(integration_map: IntegrationMap, flow: Flow, state: PhaseState) -> list[Arrow]:
    if flow.between is not None:
        left, right = flow.between
        return [
            Arrow(
                source=left,
                target=right,
                kind=ArrowKind.TWO_WAY,
                label=f"{flow.name}: {a} ⇄ {b}",
                phase=flow.phase,
                state=state,
            )
            for a, b, _rule in flow.two_way_fields()
        ]
    assert flow.source is not None and flow.target is not None
    return [
        Arrow(
            source=flow.source,
            target=flow.target,
            kind=ArrowKind.ONE_WAY,
            label=flow.name,
            phase=flow.phase,
            state=state,
            carries_id=_carried_id(integration_map, flow.source, flow.target),
        )
    ]


def _carried_id(
    integration_map: IntegrationMap, source: RecordRef, target: RecordRef
) -> str | None:
    """The canonical ID a flow stamps into its target: both ends hold the same entity and the
    target keeps it as a copy."""
    for entity in integration_map.entities.values():
        if source in entity.record_refs() and target in entity.copy_refs():
            return entity.canonical_id.format
    return None


def _entity(name: str, entity: Entity) -> EntityDoc:
    parent = entity.parent
    return EntityDoc(
        name=name,
        description=entity.description,
        display_name=entity.display_name,
        minted_by=str(entity.canonical_id.minted_by),
        id_format=entity.canonical_id.format,
        owners=[
            Owner(
                record=str(line.system),
                fields=list(line.fields) if line.fields is not None else None,
                until=line.until,
                when=line.when,
            )
            for line in entity.source_of_truth
        ],
        copies={key: str(copy.id_field) for key, copy in entity.copies.items()},
        parent=f"{parent.entity} via {parent.via} ({parent.record})" if parent else None,
    )


def _flow(flow: Flow, state: PhaseState) -> FlowDoc:
    fields: list[tuple[str, str]]
    if flow.two_way:
        fields = [
            (f"{a} ⇄ {b}", rule.conflict or "no rule") for a, b, rule in flow.two_way_fields()
        ]
    else:
        fields = [(target, _text(value)) for target, value in flow.fields.items()]
    link = flow.link_back
    return FlowDoc(
        name=flow.name,
        phase=flow.phase,
        state=state,
        direction="two-way" if flow.two_way else "one-way",
        drawn=draw_flow(flow),
        fields=fields,
        when=flow.when,
        schedule=f"every {format_duration(flow.schedule)}",
        link_back=f"{flow.source}.{link.field} ← {link.value}" if link else None,
        drift=None if flow.two_way else flow.drift,
        description=flow.description,
    )


def _phase(phase: Phase, integration_map: IntegrationMap) -> PhaseDoc:
    return PhaseDoc(
        id=phase.id,
        name=phase.name,
        state=phase.state,
        parallel_days=phase.parallel_days,
        manual_step=phase.manual_step,
        manual_copies=[
            ManualCopyDoc(
                who=copy.who,
                source=str(copy.source),
                target=str(copy.target),
                fields=list(copy.fields),
                when=copy.when,
            )
            for copy in phase.manual_copies
        ],
        flows=[flow.name for flow in integration_map.flows if flow.phase == phase.id],
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
