"""docs/map.md documents every rule the loader and the validator can report."""

from __future__ import annotations

from pathlib import Path

from sync_core.map.loader import LOADER_RULES
from sync_core.map.validate import RULES

DOC = Path(__file__).resolve().parents[3] / "docs" / "map.md"


def test_every_rule_id_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [rule for rule in [*LOADER_RULES, *RULES] if f"| `{rule}` |" not in text]
    assert missing == []
