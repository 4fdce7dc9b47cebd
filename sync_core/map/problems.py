"""What the loader and the validator report: problems tied to a place in the map file.

Kept apart from both so the loader can carry the validator's findings and the validator can
take the loader's line table without importing each other.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# A path into the parsed YAML document: mapping keys and list indexes, e.g.
# ("flows", 0, "fields", "Name").
Path = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding: a rule id (short, kebab-case), a message, and where it is in the file."""

    severity: Severity
    rule: str
    message: str
    path: str = ""  # dotted form of the location, e.g. flows[0].fields.Name
    line: int = 0  # 1-based; 0 when the problem has no place in the file

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self, filename: str) -> str:
        """``FILE:LINE: error [rule] message``, the form editors and CI logs link to."""
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where}: {self.severity.value} [{self.rule}] {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "message": self.message,
            "path": self.path,
            "line": self.line,
        }


def format_path(path: Path) -> str:
    """``("flows", 0, "fields", "Name")`` → ``flows[0].fields.Name``; a control character in
    a key is shown escaped, never sent raw to a terminal."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = "".join(
                f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf", "Cs") else ch
                for ch in str(part)
            )
            text += f".{shown}" if text else shown
    return text


@dataclass
class LineMap:
    """Line numbers of the nodes of one YAML document, by path.

    A path that has no line of its own (a default the model filled in, a location inside a
    value) takes the line of its nearest ancestor that has one.
    """

    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Iterable[Any]) -> int:
        parts = tuple(path)
        while parts:
            line = self.lines.get(parts)
            if line is not None:
                return line
            parts = parts[:-1]
        return self.lines.get((), 1)


def error(rule: str, message: str, path: Path, lines: LineMap) -> Problem:
    return Problem(Severity.ERROR, rule, message, format_path(path), lines.line_of(path))


def warning(rule: str, message: str, path: Path, lines: LineMap) -> Problem:
    return Problem(Severity.WARNING, rule, message, format_path(path), lines.line_of(path))


class MapError(Exception):
    """A map that cannot be used; ``problems`` says why, each with its line."""

    def __init__(self, filename: str, problems: Sequence[Problem]) -> None:
        self.filename = filename
        self.problems = list(problems)
        super().__init__("\n".join(p.format(filename) for p in self.problems))
