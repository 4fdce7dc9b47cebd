"""The demo map with nothing typed into accounting by hand: with no probable match to review,
its phase 1 starts live at first start, for tests about something other than reconciliation
(the demo's own mess holds phase 1 in its parallel period; see test_demo_first_start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO_ROOT

AGENCY = REPO_ROOT / "examples" / "agency.yaml"


DRAFT_INVOICE = "won-deal-to-draft-invoice"


def live_demo_map(tmp_path: Path, *, without: tuple[str, ...] = (), **options: Any) -> Path:
    """The demo map, accounting empty, with ``options`` added to every system's options and
    the flows named in ``without`` left out."""
    data: dict[str, Any] = yaml.safe_load(AGENCY.read_text())
    data["flows"] = [f for f in data["flows"] if f["name"] not in without]
    for system in data["systems"].values():
        system.setdefault("options", {}).update(options)
    data["systems"]["xero"]["options"]["seed"] = "empty"
    path = tmp_path / "agency-live.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
