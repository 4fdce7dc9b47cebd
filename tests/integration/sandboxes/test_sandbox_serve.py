"""`handoff sandbox serve`: one process for every vendor sandbox, its records kept across a
restart, so commands run one after another see one world."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.served import ServedSandboxes

PD = {"x-api-token": "sandbox-pipedrive-token"}
BASIC = "Basic " + base64.b64encode(b"sandbox-client:sandbox-secret").decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedSandboxes]:
    sandboxes = ServedSandboxes(tmp_path / "sandboxes.json").start()
    try:
        yield sandboxes
    finally:
        sandboxes.kill()


def _deal_titles(sandboxes: ServedSandboxes) -> list[str]:
    body = sandboxes.request("GET", "/pipedrive/api/v2/deals?limit=500", headers=PD)
    return sorted(d["title"] for d in body["data"])


def _refresh(sandboxes: ServedSandboxes, token: str) -> dict[str, str]:
    answer: dict[str, str] = sandboxes.request(
        "POST",
        "/xero/connect/token",
        headers={"Authorization": BASIC},
        form={"grant_type": "refresh_token", "refresh_token": token},
    )
    return answer


def test_each_vendor_answers_under_its_base_path_with_its_credentials(
    served: ServedSandboxes,
) -> None:
    info = served.info()
    assert set(info["vendors"]) == {"pipedrive", "xero", "asana", "mailchimp"}
    asana = info["vendors"]["asana"]
    assert asana["base_url"] == served.url + "/asana"
    team = asana["options"]["team"]
    projects = served.request(
        "GET",
        f"/asana/api/1.0/teams/{team}/projects",
        headers={"Authorization": f"Bearer {asana['credentials']['token']}"},
    )
    # the demo seed: the hand-made project
    assert [p["name"] for p in projects["data"]] == ["Acme – Website Redesign (old board)"]
    assert served.url.startswith("http://127.0.0.1:")


def test_records_and_the_rotated_refresh_token_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandboxes.json"
    first = ServedSandboxes(state).start()
    try:
        seeded = _deal_titles(first)
        first.request("POST", "/pipedrive/api/v2/deals", {"title": "Made before"}, headers=PD)
        old = first.info()["vendors"]["xero"]["credentials"]["refresh_token"]
        issued = _refresh(first, old)
        assert first.stop() == 0
    finally:
        first.kill()

    second = ServedSandboxes(state).start()
    try:
        assert "restored" in "".join(second.output)
        # the seed applied once: the same deals, plus the one made before the restart
        assert _deal_titles(second) == sorted([*seeded, "Made before"])
        assert (
            second.info()["vendors"]["xero"]["credentials"]["refresh_token"]
            == (issued["refresh_token"])
        )
        # the access token issued before the restart still works
        contacts = second.request(
            "GET",
            "/xero/api.xro/2.0/Contacts",
            headers={
                "Authorization": f"Bearer {issued['access_token']}",
                "xero-tenant-id": "sandbox-tenant",
            },
        )
        assert len(contacts["Contacts"]) == 3
        assert _refresh(second, issued["refresh_token"])["access_token"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            _refresh(second, old)  # spent before the restart, and the token issued for it used
        assert refused.value.code == 400
    finally:
        second.kill()


def test_a_write_is_on_disk_shortly_after_it_even_if_the_process_is_killed(
    tmp_path: Path,
) -> None:
    state = tmp_path / "sandboxes.json"
    first = ServedSandboxes(state).start()
    try:
        first.request("POST", "/pipedrive/api/v2/deals", {"title": "Before the kill"}, headers=PD)
        deadline = time.monotonic() + 5
        while "Before the kill" not in state.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        first.kill()  # SIGKILL: no chance to save on the way out
    saved = json.loads(state.read_text())
    titles = [d["title"] for d in saved["vendors"]["pipedrive"]["items"]["deal"]]
    assert "Before the kill" in titles
    second = ServedSandboxes(state).start()
    try:
        assert "Before the kill" in _deal_titles(second)
    finally:
        second.kill()


def test_faults_switch_over_http_per_vendor(served: ServedSandboxes) -> None:
    served.fault("pipedrive", "server_error", times=1, status=500)
    with pytest.raises(urllib.error.HTTPError) as failed:
        _deal_titles(served)
    assert failed.value.code == 500
    assert _deal_titles(served)  # fired once, then gone
    # an armed reset breaks the vendor's calls, never the switch that clears it
    served.fault("pipedrive", "reset", times=3)
    served.clear_faults("pipedrive")
    assert _deal_titles(served)
    # another vendor's switch is its own
    armed = served.request("GET", "/xero/_sandbox/faults")
    assert armed == {"armed": []}


def test_only_the_named_vendors_are_served(tmp_path: Path) -> None:
    sandboxes = ServedSandboxes(tmp_path / "x.json", vendors=("xero",)).start()
    try:
        assert set(sandboxes.info()["vendors"]) == {"xero"}
        with pytest.raises(urllib.error.HTTPError) as missing:
            _deal_titles(sandboxes)
        assert missing.value.code == 404
    finally:
        sandboxes.kill()


def test_token_json_gives_the_environment_a_map_needs(served: ServedSandboxes) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    result = CliRunner().invoke(app, ["sandbox", "token", "asana", "--url", served.url, "--json"])
    assert result.exit_code == 0, result.output
    token = served.info()["vendors"]["asana"]["credentials"]["token"]
    assert json.loads(result.stdout) == {"ASANA_TOKEN": token}


def test_a_pipedrive_oauth_map_gets_the_apps_credentials_beside_the_api_token(
    served: ServedSandboxes,
) -> None:
    from connectors.base import ConnectorSettings
    from connectors.clock import SystemClock
    from connectors.pipedrive import build
    from connectors.registry import ConnectorContext

    entry = served.info()["vendors"]["pipedrive"]
    offered = entry["credentials"]
    assert set(offered) == {"api_token", "client_id", "client_secret", "refresh_token"}
    app = {key: offered[key] for key in ("client_id", "client_secret", "refresh_token")}
    settings = ConnectorSettings(
        system="crm", connector="pipedrive", credentials=app, base_url=entry["base_url"]
    )
    crm = build(settings, ConnectorContext(SystemClock()))
    try:
        assert crm.session.oauth is not None  # the app's refresh, not the API token
        assert crm.list_changed("organization", None).records
    finally:
        crm.close()
    # the refresh spent that refresh token: the sandbox offers the one issued instead
    now = served.info()["vendors"]["pipedrive"]["credentials"]["refresh_token"]
    assert now != app["refresh_token"]
