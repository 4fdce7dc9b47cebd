"""What the validator's rules share: catalog lookups, expression parsing, and reporting.

Every reference to a record type, a field or an expression goes through here, so the rules
that are about references (unknown system, record type, field; bad expression) are reported
the same way wherever the reference appears in the map.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.record_types import RecordType
from sync_core.expressions import (
    ExpressionError,
    compile_condition,
    compile_template,
    limit_problems,
    referenced_names,
    refused_attributes,
)
from sync_core.map.model import IntegrationMap, RecordRef
from sync_core.map.problems import LineMap, Path, Problem, error, format_path, warning

# Names Jinja provides itself; an expression may read them without a record field of that name.
_JINJA_NAMES = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop"})


class Catalogs(Protocol):
    """The connectors' catalogs as the wiring provides them (the vendor registry)."""

    def catalog_for(
        self, connector: str, options: Mapping[str, Any]
    ) -> Mapping[str, RecordType]: ...

    def names(self) -> list[str]: ...


def default_catalogs() -> Catalogs:
    """The catalogs of the vendor packages the registry finds (the wiring's own)."""
    from connectors.registry import Catalogs as Registered

    return Registered()


@dataclass
class References:
    """Resolves the map's references against the connectors' catalogs, collecting problems."""

    map: IntegrationMap
    lines: LineMap
    catalogs: Catalogs
    problems: list[Problem] = field(default_factory=list)

    # ---- reporting -------------------------------------------------------------------------

    def err(self, rule: str, message: str, path: Path) -> None:
        self.problems.append(error(rule, message, path, self.lines))

    def warn(self, rule: str, message: str, path: Path) -> None:
        self.problems.append(warning(rule, message, path, self.lines))

    # ---- catalog lookups -------------------------------------------------------------------

    def _catalog(self, system: str) -> Mapping[str, RecordType] | None:
        declared = self.map.systems.get(system)
        if declared is None:
            return None
        return self.catalogs.catalog_for(declared.connector, declared.options)

    def spec(self, ref: RecordRef, path: Path) -> RecordType | None:
        """The catalog entry of ``ref``, reporting an unknown system or record type."""
        if ref.system not in self.map.systems:
            known = ", ".join(sorted(self.map.systems)) or "none"
            self.err("unknown-system", f"{ref}: no system {ref.system!r} (systems: {known})", path)
            return None
        catalog = self._catalog(ref.system)
        if not catalog:
            return None  # reported once as unknown-connector
        spec = catalog.get(ref.record_type)
        if spec is None:
            known = ", ".join(sorted(catalog))
            self.err(
                "unknown-record-type",
                f"{ref}: {ref.system} has no record type {ref.record_type!r} (it has: {known})",
                path,
            )
        return spec

    def custom(self, ref: RecordRef) -> set[str]:
        system = self.map.systems.get(ref.system)
        return set(system.custom_fields.get(ref.record_type, [])) if system else set()

    def readable(self, ref: RecordRef, spec: RecordType) -> set[str]:
        return set(spec.fields) | self.custom(ref)

    def check_target_field(self, ref: RecordRef, spec: RecordType, name: str, path: Path) -> None:
        if name in spec.writable or name in self.custom(ref):
            return
        if name in spec.fields and spec.writable:
            self.err("read-only-target-field", f"{ref}.{name} cannot be written", path)
            return
        if name not in spec.fields:
            hint = did_you_mean(name, set(spec.writable) | self.custom(ref))
            extra = (
                ""
                if not spec.supports_custom_fields
                else (f"; a custom field must be declared under systems.{ref.system}.custom_fields")
            )
            self.err("unknown-target-field", f"{ref} has no field {name!r}{hint}{extra}", path)

    # ---- expressions -----------------------------------------------------------------------

    def template_names(self, value: Any, path: Path) -> set[str] | None:
        """Names a mapping value reads (templates inside lists and dicts too), or None if it
        does not parse."""
        if isinstance(value, str):
            try:
                read = compile_template(value).names()
            except ExpressionError as exc:
                self.bad_expression(exc, path)
                return None
            self.refused(value, path)
            return read
        names: set[str] = set()
        children: Iterable[Any] = ()
        if isinstance(value, list):
            children = value
        elif isinstance(value, dict):
            children = value.values()
        for child in children:
            found = self.template_names(child, path)
            if found is None:
                return None
            names |= found
        return names

    def condition_names(self, source: str, path: Path) -> set[str] | None:
        try:
            compile_condition(source)
            names = referenced_names("{{ " + source + " }}")
        except ExpressionError as exc:
            self.bad_expression(exc, path)
            return None
        self.refused("{{ " + source + " }}", path)
        return names

    def bad_expression(self, exc: ExpressionError, path: Path) -> None:
        hint = ""
        if "expected token 'end of print statement'" in str(exc):
            # ``{{ Client code }}``: two names in a row, most often a field name with a space
            hint = '; a field name with a space is read as {{ record["Client code"] }}'
        self.err("bad-expression", f"{format_path(path)}: {exc}{hint}", path)

    def refused(self, source: str, path: Path) -> None:
        """What parses but the sandbox will refuse on every record, reported now."""
        for reason in limit_problems(source):
            self.err(
                "expression-limit",
                f"{format_path(path)}: {source[:200]!r}: {reason}",
                path,
            )
        for name in sorted(refused_attributes(source)):
            self.err(
                "bad-expression",
                f"{format_path(path)}: {source!r} reads {name!r}; the sandbox refuses names "
                "starting with '_'",
                path,
            )

    def check_names(
        self, names: set[str] | None, ref: RecordRef, allowed: set[str], path: Path
    ) -> None:
        for name in sorted((names or set()) - allowed - _JINJA_NAMES):
            hint = did_you_mean(name, allowed)
            self.err(
                "unknown-field",
                f"{format_path(path)} reads {name!r}, which {ref} does not have{hint}",
                path,
            )

    def quiet_spec(self, ref: RecordRef) -> RecordType | None:
        """The catalog entry of a reference already checked (and reported) elsewhere."""
        return (self._catalog(ref.system) or {}).get(ref.record_type)


def did_you_mean(name: str, candidates: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
