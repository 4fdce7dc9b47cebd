"""Cross-reference rules of an integration map, each with a short id and a line number.

The models check each block's shape; this module checks that the blocks agree with each other
and with the connectors' record catalogs: that every reference names something that exists,
that each field has one owner and one writer, that every copy can carry the canonical ID.
Rule ids are listed in ``RULES`` and documented in docs/map.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from connectors.base import IdFieldKind
from sync_core.map.model import (
    CODE_LENGTHS,
    CODE_TOKEN,
    ENV_PREFIX,
    FieldRule,
    Flow,
    IntegrationMap,
    RecordRef,
)
from sync_core.map.problems import LineMap, Path, Problem, Severity
from sync_core.map.references import Catalogs, References, default_catalogs, did_you_mean

RULES: dict[str, str] = {
    "unknown-connector": "a system's connector has no record catalog",
    "unknown-system": "a record reference names a system the map does not declare",
    "unknown-record-type": "a record reference names a record type its connector does not have",
    "unknown-field": "an expression or field list reads a field the record type does not have",
    "unknown-target-field": "a flow writes a field the target record type does not have",
    "read-only-target-field": "a flow writes a field the connector cannot write",
    "custom-fields-unsupported": "custom fields declared on a record type that has none",
    "no-source-of-truth": "an entity names no source of truth",
    "two-owners": "two source-of-truth lines own the same field",
    "no-canonical-id-field": "a record type receives or owns an entity but keeps no canonical ID",
    "bad-id-field": "a copy keeps the canonical ID in a field it cannot write",
    "canonical-id-format": "the canonical ID format does not contain {id} exactly once",
    "writes-into-source-of-truth": "a one-way flow overwrites the field's source of truth",
    "two-flows-one-field": "two flows write the same target field",
    "two-way-no-conflict-rule": "a two-way field pair has no (valid) conflict rule",
    "bad-conflict-report": "a two-way field pair's report is neither alert nor digest",
    "bad-two-way-field": "a field mapping uses the wrong form for the flow's direction",
    "undeclared-phase": "a flow names a phase the map does not declare",
    "inline-credential": "an auth value is not an env:NAME reference",
    "duplicate-flow-name": "two flows share a name",
    "duplicate-phase-id": "two phases share an id",
    "unknown-parent-entity": "an entity's parent names no entity",
    "bad-parent-record": "an entity's parent record is not a record type of the parent entity",
    "child-without-id-field": "a flow writes a child entity's record, which has no parent.id_field",
    "bad-expression": "a template or condition does not parse",
    "expression-limit": "an expression's constants go over the size or step limit",
    "bad-match-key": "an entity's match key names a record type that does not hold the entity",
    "source-without-entity": "a flow reads a record type that belongs to no entity",
    "too-many-two-way": "more than a quarter of the flows are two-way (warning)",
    "empty-phase": "a phase has no flows (warning)",
    "created-in-later-phase": "a flow writes into records a later phase's flow creates (warning)",
}


def validate(
    integration_map: IntegrationMap, lines: LineMap, catalogs: Catalogs | None = None
) -> list[Problem]:
    """Every cross-reference problem of ``integration_map``, in file order, against the
    connectors' ``catalogs`` (default: the vendor packages the registry finds)."""
    checker = _Checker(integration_map, lines, catalogs or default_catalogs())
    checker.run()
    return sorted(checker.problems, key=lambda p: (p.line, p.rule))


@dataclass
class _Checker(References):
    # record type -> entity holding it, built without trusting unparsed copy keys
    holders: dict[RecordRef, str] = field(default_factory=dict)
    # (record type, field) -> where each flow writes it
    writers: dict[tuple[RecordRef, str], list[tuple[str, Path]]] = field(default_factory=dict)

    def run(self) -> None:
        self._systems()
        self._index_entities()
        for name in self.map.entities:
            self._entity(name)
        self._phases()
        self._flows()
        self._one_writer_per_field()
        self._two_way_share()
        self._phase_order()

    # ---- systems ---------------------------------------------------------------------------

    def _systems(self) -> None:
        for name, system in self.map.systems.items():
            base: Path = ("systems", name)
            if not self.catalogs.catalog_for(system.connector, system.options):
                known = ", ".join(sorted({*self.catalogs.names(), "sandbox"}))
                what = system.connector
                if system.connector == "sandbox":
                    emulates = system.options.get("emulates")
                    what = (
                        f"sandbox emulating {emulates!r}"
                        if emulates
                        else "sandbox without options.emulates"
                    )
                self.err(
                    "unknown-connector",
                    f"systems.{name}: no record catalog for connector {what} (known: {known})",
                    (*base, "connector"),
                )
            for key, value in system.auth.items():
                env_name = value[len(ENV_PREFIX) :] if value.startswith(ENV_PREFIX) else ""
                if not env_name.strip():
                    # The value itself is never echoed: it may be the secret.
                    self.err(
                        "inline-credential",
                        f"systems.{name}.auth.{key} must be an env:NAME reference, not a value "
                        "written into the map",
                        (*base, "auth", key),
                    )
            for record_type in system.custom_fields:
                ref = RecordRef(system=name, record_type=record_type)
                path = (*base, "custom_fields", record_type)
                spec = self.spec(ref, path)
                if spec is not None and not spec.supports_custom_fields:
                    self.err("custom-fields-unsupported", f"{ref} has no custom fields", path)

    # ---- entities --------------------------------------------------------------------------

    def _index_entities(self) -> None:
        for name, entity in self.map.entities.items():
            self.holders.setdefault(entity.canonical_id.minted_by, name)
            for key in entity.copies:
                try:
                    self.holders.setdefault(RecordRef.parse(key), name)
                except ValueError as exc:
                    self.err("invalid-value", str(exc), ("entities", name, "copies", key))

    def _entity(self, name: str) -> None:
        entity = self.map.entities[name]
        base: Path = ("entities", name)
        minted_by = entity.canonical_id.minted_by
        self.spec(minted_by, (*base, "canonical_id", "minted_by"))
        self._canonical_format(name)
        self._copies(name)
        self._ownership(name)
        self._parent(name)
        self._match(name)

    def _canonical_format(self, name: str) -> None:
        """``{id}`` (the minting record's id) or ``{code}``/``{code:N}`` (a short code of N
        characters, 4 to 12), exactly one of them, once."""
        spec = self.map.entities[name].canonical_id
        fmt = spec.format
        codes = CODE_TOKEN.findall(fmt)
        path: Path = ("entities", name, "canonical_id", "format")
        if fmt.count("{id}") + len(codes) != 1:
            self.err(
                "canonical-id-format",
                f"entities.{name}.canonical_id.format {fmt!r} must contain {{id}} or {{code}} "
                "exactly once, e.g. 'PD-{id}' or 'C-{code}'",
                path,
            )
        elif codes and spec.code_length not in CODE_LENGTHS:
            self.err(
                "canonical-id-format",
                f"entities.{name}.canonical_id.format {fmt!r}: a short code has "
                f"{CODE_LENGTHS.start} to {CODE_LENGTHS.stop - 1} characters, e.g. 'C-{{code:6}}'",
                path,
            )

    def _copies(self, name: str) -> None:
        entity = self.map.entities[name]
        for key, copy in entity.copies.items():
            path: Path = ("entities", name, "copies", key)
            try:
                ref = RecordRef.parse(key)
            except ValueError:
                continue  # reported while indexing
            spec = self.spec(ref, path)
            if spec is None:
                continue
            id_field = copy.id_field
            if id_field.kind is IdFieldKind.CUSTOM_FIELD:
                if not spec.supports_custom_fields:
                    self.err("bad-id-field", f"{ref} has no custom fields", (*path, "id_field"))
            elif id_field.is_plain and id_field.name not in spec.writable | self.custom(ref):
                hint = did_you_mean(id_field.name, set(spec.writable))
                self.err(
                    "bad-id-field",
                    f"{ref} cannot keep the canonical ID in {id_field.name!r}: not a writable "
                    f"field{hint}",
                    (*path, "id_field"),
                )

    def _ownership(self, name: str) -> None:
        entity = self.map.entities[name]
        base: Path = ("entities", name, "source_of_truth")
        if not entity.source_of_truth:
            self.err(
                "no-source-of-truth",
                f"entities.{name} names no source of truth: say which system owns it",
                ("entities", name),
            )
            return
        owners: dict[str, int] = {}
        whole_owner: int | None = None
        for index, line in enumerate(entity.source_of_truth):
            path: Path = (*base, index)
            spec = self.spec(line.system, (*path, "system"))
            if spec is not None and self.holders.get(line.system) != name:
                self.err(
                    "no-canonical-id-field",
                    f"{line.system} owns {name} fields but keeps no {name} canonical ID: add "
                    f"it under entities.{name}.copies",
                    (*path, "system"),
                )
            allowed = self.readable(line.system, spec) if spec else set()
            for key in ("until", "when"):
                condition = getattr(line, key)
                if condition is not None:
                    names = self.condition_names(condition, (*path, key))
                    if spec is not None:
                        self.check_names(names, line.system, allowed, (*path, key))
            for position, owned in enumerate(line.fields or []):
                field_path: Path = (*path, "fields", position)
                if spec is not None and owned not in allowed:
                    hint = did_you_mean(owned, allowed)
                    self.err(
                        "unknown-field",
                        f"{line.system} has no field {owned!r}{hint}",
                        field_path,
                    )
                if owned in owners:
                    self.err(
                        "two-owners",
                        f"{name}.{owned} is already owned by source_of_truth[{owners[owned]}]",
                        field_path,
                    )
                else:
                    owners[owned] = index
            if line.fields is None and line.until is None and line.when is None:
                if whole_owner is not None:
                    self.err(
                        "two-owners",
                        f"source_of_truth[{whole_owner}] already owns every other field of "
                        f"{name} unconditionally; give this line fields, until or when",
                        path,
                    )
                else:
                    whole_owner = index

    def _parent(self, name: str) -> None:
        parent = self.map.entities[name].parent
        if parent is None:
            return
        base: Path = ("entities", name, "parent")
        target = self.map.entities.get(parent.entity)
        if target is None:
            known = ", ".join(sorted(self.map.entities))
            self.err(
                "unknown-parent-entity",
                f"entities.{name}.parent: no entity {parent.entity!r} (entities: {known})",
                (*base, "entity"),
            )
        elif parent.entity == name:
            self.err("unknown-parent-entity", f"{name} cannot be its own parent", (*base, "entity"))
        record_known = self.spec(parent.record, (*base, "record")) is not None
        if record_known and target is not None and self.holders.get(parent.record) != parent.entity:
            self.err(
                "bad-parent-record",
                f"{parent.record} does not hold {parent.entity}: use its minting record "
                "or one of its copies",
                (*base, "record"),
            )
        child = self.map.entities[name].canonical_id.minted_by
        names = self.template_names(parent.via, (*base, "via"))
        child_spec = self.quiet_spec(child)
        if child_spec is not None:
            self.check_names(names, child, self.readable(child, child_spec), (*base, "via"))

    def _match(self, name: str) -> None:
        entity = self.map.entities[name]
        holders = [str(entity.canonical_id.minted_by), *entity.copies]
        for key, per_ref in entity.match.keys.items():
            for ref_text, template in per_ref.items():
                path: Path = ("entities", name, "match", "keys", key, ref_text)
                if ref_text not in holders:
                    self.err(
                        "bad-match-key",
                        f"entities.{name}.match.keys.{key}: {ref_text} does not hold {name} "
                        f"(its record types: {', '.join(holders)})",
                        path,
                    )
                    continue
                ref = RecordRef.parse(ref_text)
                names = self.template_names(template, path)
                spec = self.quiet_spec(ref)
                if spec is not None:
                    self.check_names(names, ref, self.readable(ref, spec), path)

    # ---- phases ----------------------------------------------------------------------------

    def _phases(self) -> None:
        seen: set[int] = set()
        used = {flow.phase for flow in self.map.flows}
        for index, phase in enumerate(self.map.phases):
            if phase.id in seen:
                self.err(
                    "duplicate-phase-id",
                    f"phase id {phase.id} is used twice",
                    ("phases", index, "id"),
                )
            seen.add(phase.id)
            for copy_index, copy in enumerate(phase.manual_copies):
                path: Path = ("phases", index, "manual_copies", copy_index)
                self.spec(copy.source, (*path, "from"))
                self.spec(copy.target, (*path, "to"))
            if phase.id not in used:
                self.warn(
                    "empty-phase",
                    f"phase {phase.id} ({phase.name}) has no flows",
                    ("phases", index),
                )

    # ---- flows -----------------------------------------------------------------------------

    def _flows(self) -> None:
        names: set[str] = set()
        phase_ids = {phase.id for phase in self.map.phases}
        for index, flow in enumerate(self.map.flows):
            base: Path = ("flows", index)
            if flow.name in names:
                self.err(
                    "duplicate-flow-name", f"flow {flow.name!r} is defined twice", (*base, "name")
                )
            names.add(flow.name)
            if flow.phase not in phase_ids:
                declared = ", ".join(str(p) for p in sorted(phase_ids)) or "none"
                self.err(
                    "undeclared-phase",
                    f"flow {flow.name!r} is in phase {flow.phase}, which is not declared "
                    f"(phases: {declared})",
                    (*base, "phase"),
                )
            if flow.two_way:
                self._two_way_flow(flow, base)
            else:
                self._one_way_flow(flow, base)

    def _one_way_flow(self, flow: Flow, base: Path) -> None:
        assert flow.source is not None and flow.target is not None
        source, target = flow.source, flow.target
        source_spec = self.spec(source, (*base, "from"))
        target_spec = self.spec(target, (*base, "to"))
        allowed = self.readable(source, source_spec) if source_spec else set()
        if flow.when is not None:
            names = self.condition_names(flow.when, (*base, "when"))
            if source_spec:
                self.check_names(names, source, allowed, (*base, "when"))
        entity = self.holders.get(source)
        if source_spec and entity is None:
            self.err(
                "source-without-entity",
                f"flow {flow.name!r} reads {source}, which belongs to no entity: make it an "
                "entity's minting record or one of its copies",
                (*base, "from"),
            )
        elif target_spec and entity is not None and target not in self.holders:
            self.err(
                "no-canonical-id-field",
                f"flow {flow.name!r} writes {entity} records into {target}, which keeps no "
                f"canonical ID: add {target} under entities.{entity}.copies with its id_field",
                (*base, "to"),
            )
        held_by = self.holders.get(target)
        child = self.map.entities[held_by].parent if held_by in self.map.entities else None
        if entity is not None and child is not None and child.entity == entity:
            if child.id_field is None:
                self.err(
                    "child-without-id-field",
                    f"flow {flow.name!r} writes {held_by} records (children of {entity}) into "
                    f"{target}: name the field that keeps the {entity}'s canonical ID in "
                    f"entities.{held_by}.parent.id_field",
                    (*base, "to"),
                )
            elif target_spec and child.id_field.is_plain:
                self.check_target_field(target, target_spec, child.id_field.name, (*base, "to"))
            elif target_spec and not target_spec.supports_custom_fields:
                self.err(
                    "bad-id-field",
                    f"{target} has no custom fields to keep the {entity}'s canonical ID in",
                    (*base, "to"),
                )
        for key, value in flow.fields.items():
            path: Path = (*base, "fields", key)
            if "<->" in key:
                self.err(
                    "bad-two-way-field",
                    f"{key!r}: a <-> pair belongs in a two-way flow (between:)",
                    path,
                )
                continue
            if target_spec:
                self.check_target_field(target, target_spec, key, path)
                self._owner_check(flow, target, key, path)
            self.writers.setdefault((target, key), []).append((flow.name, path))
            names = self.template_names(value, path)
            if source_spec:
                self.check_names(names, source, allowed, path)
        if flow.link_back is not None:
            path = (*base, "link_back")
            if source_spec:
                self.check_target_field(source, source_spec, flow.link_back.field, (*path, "field"))
            self.writers.setdefault((source, flow.link_back.field), []).append(
                (flow.name, (*path, "field"))
            )
            names = self.template_names(flow.link_back.value, (*path, "value"))
            if source_spec:
                self.check_names(names, source, allowed | {"target"}, (*path, "value"))

    def _owner_check(self, flow: Flow, target: RecordRef, field_name: str, path: Path) -> None:
        """A one-way flow must not overwrite the system that owns the field."""
        entity_name = self.holders.get(target)
        if entity_name is None:
            return
        for line in self.map.entities[entity_name].source_of_truth:
            if line.system != target:
                continue
            listed = line.fields is not None and field_name in line.fields
            sole = line.fields is None and line.until is None and line.when is None
            if listed or sole:
                self.err(
                    "writes-into-source-of-truth",
                    f"flow {flow.name!r} writes {target}.{field_name}, but {target} is the "
                    f"source of truth of {entity_name}.{field_name}: reverse the flow or move "
                    "the ownership",
                    path,
                )
                return

    def _two_way_flow(self, flow: Flow, base: Path) -> None:
        assert flow.between is not None
        left, right = flow.between
        specs = [self.spec(ref, (*base, "between", i)) for i, ref in enumerate(flow.between)]
        if flow.when is not None:
            self.condition_names(flow.when, (*base, "when"))
        held = [ref for ref in flow.between if ref in self.holders]
        if all(specs) and not held:
            self.err(
                "source-without-entity",
                f"flow {flow.name!r}: neither {left} nor {right} belongs to an entity",
                (*base, "between"),
            )
        elif all(specs) and len(held) == 1:
            missing = right if held[0] == left else left
            entity = self.holders[held[0]]
            self.err(
                "no-canonical-id-field",
                f"flow {flow.name!r} writes {entity} records into {missing}, which keeps no "
                f"canonical ID: add it under entities.{entity}.copies",
                (*base, "between"),
            )
        for key, rule in flow.fields.items():
            path: Path = (*base, "fields", key)
            a_field, sep, b_field = key.partition("<->")
            if not sep:
                self.err(
                    "bad-two-way-field",
                    f"{key!r}: a two-way flow maps pairs, written 'a_field <-> b_field: "
                    "{conflict: last_write_wins}'",
                    path,
                )
                continue
            for ref, spec, name in ((left, specs[0], a_field), (right, specs[1], b_field)):
                if spec is not None:
                    self.check_target_field(ref, spec, name.strip(), path)
                self.writers.setdefault((ref, name.strip()), []).append((flow.name, path))
            self._conflict_rule(key, rule, path)

    def _conflict_rule(self, key: str, rule: Any, path: Path) -> None:
        choices = "last_write_wins, source_wins, target_wins, manual"
        try:
            parsed = FieldRule.model_validate(rule) if isinstance(rule, dict) else FieldRule()
        except ValidationError as exc:
            if any(error["loc"][:1] == ("report",) for error in exc.errors()):
                self.err(
                    "bad-conflict-report",
                    f"{key!r}: report must be alert (each lost edit at once) or digest "
                    "(once a day)",
                    (*path, "report"),
                )
                return
            self.err(
                "two-way-no-conflict-rule",
                f"{key!r}: conflict must be one of {choices}",
                path,
            )
            return
        if parsed.conflict is None:
            self.err(
                "two-way-no-conflict-rule",
                f"{key!r} is two-way and says nothing about conflicts: add "
                f"{{conflict: ...}} ({choices})",
                path,
            )

    def _one_writer_per_field(self) -> None:
        for (ref, name), writers in self.writers.items():
            first_flow = writers[0][0]
            for flow_name, path in writers[1:]:
                if flow_name == first_flow:
                    continue
                self.err(
                    "two-flows-one-field",
                    f"{ref}.{name} is written by flow {first_flow!r} and by flow {flow_name!r}: "
                    "one field, one writer",
                    path,
                )

    def _two_way_share(self) -> None:
        flows = self.map.flows
        two_way = [flow for flow in flows if flow.two_way]
        if flows and len(two_way) * 4 > len(flows):
            index = flows.index(two_way[-1])
            self.warn(
                "too-many-two-way",
                f"{len(two_way)} of {len(flows)} flows are two-way; one-way flows with one "
                "source of truth are easier to trust",
                ("flows", index),
            )

    def _phase_order(self) -> None:
        """A flow that writes into its parent's records finds them through the parent's
        record in ``parent.record``; when only flows of a later phase create those, every
        change before that phase runs is planned as "unlinked" and nothing is written."""
        for index, flow in enumerate(self.map.flows):
            if flow.two_way or flow.source is None or flow.target is None:
                continue
            entity_name = self.holders.get(flow.source)
            entity = self.map.entities.get(entity_name or "")
            parent = entity.parent if entity else None
            if parent is None or self.holders.get(flow.target) != parent.entity:
                continue
            parent_entity = self.map.entities.get(parent.entity)
            if parent_entity is None or parent_entity.canonical_id.minted_by == parent.record:
                continue  # people create minting records; no flow has to
            creators = [g for g in self.map.flows if g.target == parent.record and g is not flow]
            if creators and all(g.phase > flow.phase for g in creators):
                names = ", ".join(f"{g.name!r} (phase {g.phase})" for g in creators)
                self.warn(
                    "created-in-later-phase",
                    f"flow {flow.name!r} (phase {flow.phase}) writes into the {parent.entity} "
                    f"it finds through {parent.record}, whose records are created by {names}: "
                    "until that phase runs its changes find no record to write",
                    ("flows", index, "phase"),
                )


__all__ = ["RULES", "Problem", "Severity", "validate"]
