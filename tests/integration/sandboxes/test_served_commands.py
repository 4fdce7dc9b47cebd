"""Commands run one after another against `handoff sandbox serve` see the same records: no
canonical ID minted twice, no copy made twice."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.support.served import ServedSandboxes, handoff_env, served_credentials, served_map

PD = {"x-api-token": "sandbox-pipedrive-token"}


def _handoff(env: dict[str, str], *args: str, text: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        input=text,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_two_syncs_in_a_row_see_one_world(database_url: str, tmp_path: Path) -> None:
    sandboxes = ServedSandboxes(tmp_path / "sandboxes.json").start()
    try:
        map_path = served_map(
            REPO_ROOT / "examples" / "agency.yaml",
            sandboxes,
            tmp_path / "agency-served.yaml",
            tmp_path / "xero-token.json",
        )
        env = handoff_env(HANDOFF_DATABASE_URL=database_url, **served_credentials(sandboxes))
        first = _handoff(env, "sync", "--once", "-c", str(map_path))
        assert first.returncode == 0, first.stdout + first.stderr
        # Phase 1 started live: its first start linked the twins typed into accounting.
        status = _handoff(env, "phase", "status", "--json", "-c", str(map_path))
        assert {p["id"]: p["state"] for p in json.loads(status.stdout)}[1] == "live", status
        acme = json.loads(_handoff(env, "where", "acme", "--json", "-c", str(map_path)).stdout)

        deals = sandboxes.request("GET", "/pipedrive/api/v2/deals?limit=500", headers=PD)["data"]
        opened = next(d for d in deals if d["status"] == "open")
        sandboxes.request(
            "PATCH", f"/pipedrive/api/v2/deals/{opened['id']}", {"status": "won"}, headers=PD
        )
        second = _handoff(env, "sync", "--once", "-c", str(map_path))
        assert second.returncode == 0, second.stdout + second.stderr

        again = json.loads(_handoff(env, "where", "acme", "--json", "-c", str(map_path)).stdout)
        assert [a["canonical_id"] for a in again] == [a["canonical_id"] for a in acme]

        won = {
            f"PD-{d['id']}"
            for d in sandboxes.request("GET", "/pipedrive/api/v2/deals?limit=500", headers=PD)[
                "data"
            ]
            if d["status"] == "won"
        }
        assert f"PD-{opened['id']}" in won
        # the tokens rotate inside the store now: read the contacts from the saved state
        assert sandboxes.stop() == 0
        state = json.loads((tmp_path / "sandboxes.json").read_text())
        contacts = [r["element"] for r in state["vendors"]["xero"]["org"]["records"]["contact"]]
        numbers = Counter(c["ContactNumber"] for c in contacts if c.get("ContactNumber"))
        # every won deal has exactly one contact: the second run found the first run's copies
        assert set(numbers) == won
        assert set(numbers.values()) == {1}
    finally:
        sandboxes.kill()
