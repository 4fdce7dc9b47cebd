"""The demo map, written to a test's folder with options changed.

The demo itself starts live: every twin its sandboxes hold is linked automatically at first
start. ``review_demo_map`` is the demo with one twin (Stark Industries Inc in accounting, with
no email) that only a person can decide, so its phase 1 waits in its parallel period at first
start until the proposal is reviewed (see test_match_served, test_cli_match)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connectors.sandbox.seed import AGENCY_REVIEW
from tests.conftest import REPO_ROOT

AGENCY = REPO_ROOT / "examples" / "agency.yaml"


DRAFT_INVOICE = "won-deal-to-draft-invoice"


def demo_map(tmp_path: Path, *, without: tuple[str, ...] = (), **options: Any) -> Path:
    """The demo map with ``options`` added to every system's options and the flows named in
    ``without`` left out."""
    data: dict[str, Any] = yaml.safe_load(AGENCY.read_text())
    data["flows"] = [f for f in data["flows"] if f["name"] not in without]
    for system in data["systems"].values():
        system.setdefault("options", {}).update(options)
    path = tmp_path / "agency.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def review_demo_map(tmp_path: Path, **options: Any) -> Path:
    """The demo map on the ``agency-review`` seed: Stark Industries Inc, typed into accounting
    with no email, scores on its name alone (0.90) and waits for a person."""
    return demo_map(tmp_path, seed=AGENCY_REVIEW, **options)
