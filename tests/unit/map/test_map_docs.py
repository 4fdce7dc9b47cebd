"""docs/map.md documents every key the map model accepts, and the demo as it is."""

from __future__ import annotations

import re

from pydantic import BaseModel

from sync_core.map import model
from tests.conftest import REPO_ROOT

DOCS = (REPO_ROOT / "docs" / "map.md").read_text()
MODELS = [
    model.IntegrationMap,
    model.System,
    model.Entity,
    model.CanonicalId,
    model.Ownership,
    model.Copy,
    model.ParentLink,
    model.Phase,
    model.ManualCopy,
    model.Flow,
    model.LinkBack,
    model.FieldRule,
    model.AlertSettings,
]


def _keys(cls: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in cls.model_fields.items()]


def test_every_key_of_the_map_is_documented() -> None:
    missing = [
        f"{cls.__name__}.{key}"
        for cls in MODELS
        for key in _keys(cls)
        # named in a code span or a YAML example line of the docs, not only in prose
        if not re.search(
            rf"`[^`\n]*\b{re.escape(key)}\b[^`\n]*`|^\s+-? ?{re.escape(key)}:", DOCS, re.M
        )
    ]
    assert missing == []


def test_the_docs_describe_the_demo_and_the_seed_as_they_are() -> None:
    demo = (REPO_ROOT / "examples" / "agency.yaml").read_text()
    assert "connector: sandbox" not in demo and "emulates" not in demo
    assert "`connector: sandbox` with `emulates:`), so" not in DOCS
    assert "base_url: sandbox" in DOCS and "seed: agency" in DOCS
    assert "`display_name`" in DOCS and "`manual_copies`" in DOCS


def test_every_sandbox_seed_is_documented() -> None:
    from connectors.sandbox.seed import SEEDS

    assert SEEDS and all(f"| `{seed}` |" in DOCS for seed in SEEDS)
