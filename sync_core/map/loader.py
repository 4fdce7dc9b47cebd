"""Reads an integration map file into :class:`IntegrationMap`, keeping every node's line.

Every problem — YAML syntax, a wrong shape caught by the models, a broken cross-reference
caught by :mod:`sync_core.map.validate` — comes back as ``FILE:LINE: error [rule] message``,
so a user can jump straight to the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml
from pydantic import ValidationError

from sync_core.map.model import IntegrationMap
from sync_core.map.problems import (
    LineMap,
    MapError,
    Path,
    Problem,
    Severity,
    error,
    format_path,
)
from sync_core.map.references import Catalogs
from sync_core.map.validate import validate

_MERGE_TAG = "tag:yaml.org,2002:merge"

# Rules of a file that cannot become a map at all; the cross-reference rules are in validate.
LOADER_RULES: dict[str, str] = {
    "no-such-file": "the path does not exist",
    "unreadable-file": "a directory, no permission, or not UTF-8 text",
    "empty-map": "the file is empty or only comments",
    "yaml-syntax": "not valid YAML",
    "not-a-map": "the top level is not a mapping",
    "duplicate-key": "a key given twice in one mapping",
    "missing-key": "a required key is absent",
    "unknown-key": "a key the map format does not have",
    "invalid-value": "a value of the wrong form",
    "file-too-large": "the file is larger than the map size limit",
    "nesting-too-deep": "lists and mappings nested deeper than the limit",
    "too-many-values": "more values than the limit once aliases are expanded (an alias bomb)",
}

# What a map file may hold. A real map is a few hundred lines; these bound the work `check`
# and the engine do on a hostile one (a huge file, a 20,000-deep nesting, a "billion laughs"
# of aliases) so it fails fast with one line instead of exhausting memory or the stack.
MAX_MAP_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_VALUES = 100_000  # scalars, lists and mappings, counting each alias as a copy of its target


@dataclass
class LoadedMap:
    """A parsed map with its line table and what the validator found in it."""

    filename: str
    map: IntegrationMap
    lines: LineMap
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def require_valid(self) -> IntegrationMap:
        """The map, or :class:`MapError` listing its errors: the engine runs only valid maps."""
        if self.errors:
            raise MapError(self.filename, self.errors)
        return self.map


def load_map(path: str | FilePath, catalogs: Catalogs | None = None) -> LoadedMap:
    """Read, parse and validate the map at ``path``.

    Raises :class:`MapError` when the file cannot be turned into a map at all (missing, not
    YAML, wrong shape). Cross-reference problems do not raise: they are in ``.problems``, so
    ``handoff check`` can show the map and everything wrong with it at once.
    """
    filename = str(path)
    try:
        with FilePath(path).open("rb") as file:
            # Never read more than the limit: a 40 MB file is refused without loading it.
            raw = file.read(MAX_MAP_BYTES + 1)
        if len(raw) > MAX_MAP_BYTES:
            raise _too_large(filename)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise _single(filename, "no-such-file", "no such file") from None
    except UnicodeDecodeError as exc:
        raise _single(filename, "unreadable-file", f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise _single(filename, "unreadable-file", exc.strerror or str(exc)) from None
    return load_map_text(text, filename, catalogs)


def load_map_text(
    text: str, filename: str = "<map>", catalogs: Catalogs | None = None
) -> LoadedMap:
    """Like :func:`load_map` for text already in memory (tests, maps pasted into Slack)."""
    if len(text) > MAX_MAP_BYTES or len(text.encode("utf-8")) > MAX_MAP_BYTES:
        raise _too_large(filename)
    data, lines, problems = _parse_yaml(text, filename)
    if data is None:
        raise _single(
            filename, "empty-map", "the file is empty; a map needs at least name and systems"
        )
    if not isinstance(data, dict):
        raise MapError(
            filename,
            [error("not-a-map", "the top level must be a mapping (name:, systems:, …)", (), lines)],
        )
    try:
        integration_map = IntegrationMap.model_validate(data)
    except ValidationError as exc:
        problems.extend(_from_validation_error(exc, lines))
    if problems:
        raise MapError(filename, sorted(problems, key=lambda p: p.line))
    problems = validate(integration_map, lines, catalogs)
    return LoadedMap(filename, integration_map, lines, problems)


def _too_large(filename: str) -> MapError:
    return _single(
        filename, "file-too-large", f"the map is larger than the limit of {MAX_MAP_BYTES:,} bytes"
    )


def _single(filename: str, rule: str, message: str) -> MapError:
    return MapError(filename, [Problem(Severity.ERROR, rule, message)])


# ---- YAML with line numbers ------------------------------------------------------------------


def _parse_yaml(text: str, filename: str) -> tuple[Any, LineMap, list[Problem]]:
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LineMap(), []
        _count_values(node, {}, set())
        lines = LineMap({(): node.start_mark.line + 1})
        problems: list[Problem] = []
        _record_lines(loader, node, (), lines, problems)
        data = loader.construct_document(node)
    except _LimitError as exc:
        raise MapError(
            filename, [Problem(Severity.ERROR, exc.rule, exc.message, "", exc.line)]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.problem, exc.context) if part) or "not valid YAML"
        line = mark.line + 1 if mark is not None else 0
        if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            # The parser notices an unclosed bracket or quote lines later; say where it opened.
            message += f" that starts on line {exc.context_mark.line + 1}"
        raise MapError(
            filename, [Problem(Severity.ERROR, "yaml-syntax", message, "", line)]
        ) from None
    except yaml.YAMLError as exc:
        raise _single(filename, "yaml-syntax", str(exc)) from None
    finally:
        loader.dispose()
    return data, lines, problems


class _LimitError(Exception):
    def __init__(self, rule: str, message: str, line: int) -> None:
        super().__init__(message)
        self.rule, self.message, self.line = rule, message, line


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing nesting deeper than :data:`MAX_DEPTH` while it composes
    (composing recurses once per level, so a deep file would otherwise exhaust the stack)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _LimitError(
                    "nesting-too-deep",
                    f"lists and mappings are nested more than {MAX_DEPTH} levels deep",
                    line,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _count_values(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values ``node`` stands for with every alias expanded, refusing more than
    :data:`MAX_VALUES` and an alias inside its own anchor. Each node is measured once, so
    a bomb of nested aliases costs as little as its text."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    if id(node) in open_nodes:
        raise _LimitError(
            "too-many-values",
            "an alias refers to the value it is part of, so it never ends",
            node.start_mark.line + 1,
        )
    open_nodes.add(id(node))
    total = 1
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    for child in children:
        total += _count_values(child, sizes, open_nodes)
        if total > MAX_VALUES:
            raise _LimitError(
                "too-many-values",
                f"the map holds more than {MAX_VALUES:,} values once its aliases (*name) are "
                "expanded",
                child.start_mark.line + 1,
            )
    open_nodes.discard(id(node))
    sizes[id(node)] = total
    return total


def _record_lines(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path, lines: LineMap, problems: list[Problem]
) -> None:
    """Walk the node tree beside the constructed data, noting each key's and item's line.

    Duplicate keys are reported here because plain YAML loading keeps the last one silently,
    and a map that says two things about one key is ambiguous.
    """
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = loader.construct_object(key_node)
            child = (*path, key)
            if key in seen:
                problems.append(
                    Problem(
                        Severity.ERROR,
                        "duplicate-key",
                        f"{format_path(child)} is given twice; the second would silently win",
                        format_path(child),
                        key_node.start_mark.line + 1,
                    )
                )
            else:
                seen.add(key)
                lines.lines[child] = key_node.start_mark.line + 1
            _record_lines(loader, value_node, child, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.lines[child] = item.start_mark.line + 1
            _record_lines(loader, item, child, lines, problems)


# ---- model errors → problems -----------------------------------------------------------------


def _from_validation_error(exc: ValidationError, lines: LineMap) -> list[Problem]:
    problems = []
    for item in exc.errors():
        loc: Path = tuple(part for part in item["loc"] if isinstance(part, str | int))
        where = format_path(loc) or "the map"
        kind = item["type"]
        if kind == "missing":
            rule, message = "missing-key", f"{where} is required"
        elif kind == "extra_forbidden":
            rule, message = "unknown-key", f"unknown key {where}"
        else:
            text = str(item["msg"]).removeprefix("Value error, ")
            rule, message = "invalid-value", f"{where}: {text}"
        problems.append(error(rule, message, loc, lines))
    return problems


__all__ = [
    "LOADER_RULES",
    "MAX_DEPTH",
    "MAX_MAP_BYTES",
    "MAX_VALUES",
    "LoadedMap",
    "MapError",
    "load_map",
    "load_map_text",
]
