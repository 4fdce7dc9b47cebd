"""Reconciliation end to end on the demo sandboxes: match, review through a CSV file, apply,
the go-live gate, and a first live sync that makes no second copy of any customer."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

from connectors.sandbox.seed import AGENCY_REVIEW
from tests.conftest import REPO_ROOT
from tests.support.served import ServedSandboxes, handoff_env, served_credentials, served_map


def _handoff(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _demo_before_cutover(out: Path) -> Path:
    """The demo map with phase 1 in its parallel period (no waiting) and phase 2 planned; its
    sandboxes serve the ``agency-review`` seed, whose Stark Industries Inc a person decides."""
    data = yaml.safe_load((REPO_ROOT / "examples" / "agency.yaml").read_text(encoding="utf-8"))
    for phase in data["phases"]:
        if phase["id"] == 1:
            phase.update(state="parallel", parallel_days=0)
        elif phase["id"] == 2:
            phase["state"] = "planned"
    out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out


def test_match_review_apply_promote_then_no_duplicate(database_url: str, tmp_path: Path) -> None:
    sandboxes = ServedSandboxes(
        tmp_path / "sandboxes.json", options=("--seed", AGENCY_REVIEW)
    ).start()
    try:
        map_path = served_map(
            _demo_before_cutover(tmp_path / "agency.yaml"),
            sandboxes,
            tmp_path / "agency-served.yaml",
            tmp_path / "xero-token.json",
        )
        env = handoff_env(
            HANDOFF_DATABASE_URL=database_url,
            # a store that is not a SQLite file keeps its OAuth tokens under this key
            HANDOFF_SECRET_KEY=Fernet.generate_key().decode(),
            **served_credentials(sandboxes),
        )

        def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
            result = _handoff(env, *args, "-c", str(map_path))
            assert result.returncode == code, result.stdout + result.stderr
            return result

        assert _handoff(env, "db", "upgrade").returncode == 0
        run("sync", "--once")  # the parallel period: shadow writes only

        proposals = json.loads(run("match", "client", "--json").stdout)
        by_name = {p["name"]: p for p in proposals}
        assert by_name["Acme Limited"]["status"] == "accepted"
        assert "after removing Ltd/Limited" in by_name["Acme Limited"]["reasons"]
        assert by_name["Globex Corp."]["status"] == "accepted"
        assert by_name["Stark Industries Inc"]["status"] == "open"

        refused = run("phase", "promote", "1", "-r", "cutover", code=2)
        assert "no_unreviewed_matches (3 probable match(es)" in refused.stderr
        assert "xero.contact (3)" in refused.stderr and "handoff match review" in refused.stderr

        sheet = tmp_path / "review.csv"
        run("match", "review", "--export", str(sheet))
        rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
        assert [r["name"] for r in rows] == ["Stark Industries Inc"]
        assert rows[0]["url"].startswith("https://") and rows[0]["source_url"]
        rows[0]["decision"] = "accept"
        with sheet.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        assert "1 decision(s)" in run("match", "review", "--import", str(sheet)).stdout

        still = run("phase", "promote", "1", "-r", "cutover", code=2)
        assert "handoff match apply` (3 accepted, not applied yet)" in still.stderr
        applied = run("match", "apply")
        # the three accounts contacts, and the delivery project made by hand for Acme's deal
        assert applied.stdout.count("linked PD-") == 4
        assert applied.stdout.count("→ xero.contact") == 3
        assert applied.stdout.count("→ asana.project") == 1

        assert "parallel → live" in run("phase", "promote", "1", "-r", "cutover").stdout
        run("sync", "--once")
        again = json.loads(run("match", "client", "--json").stdout)
        assert {p["status"] for p in again} <= {"applied"}

        (acme,) = json.loads(run("where", "acme", "--json").stdout)
        assert {r["system"] for r in acme["records"]} >= {"pipedrive", "xero"}
        # the accounts contact's own id, copied from Xero, finds the same customer
        hand_typed = by_name["Acme Limited"]["external_id"]
        (same,) = json.loads(run("where", hand_typed, "--json").stdout)
        assert same["canonical_id"] == acme["canonical_id"]

        assert sandboxes.stop() == 0
        state = json.loads((tmp_path / "sandboxes.json").read_text())
        contacts = [r["element"] for r in state["vendors"]["xero"]["org"]["records"]["contact"]]
        names = Counter(c["Name"].split()[0] for c in contacts)
        assert names["Acme"] == names["Globex"] == names["Stark"] == 1
        numbers = Counter(c["ContactNumber"] for c in contacts if c.get("ContactNumber"))
        assert set(numbers.values()) == {1}
    finally:
        sandboxes.kill()
