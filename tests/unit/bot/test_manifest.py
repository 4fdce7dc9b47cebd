"""The Slack app manifest declares exactly the commands the bot answers."""

from __future__ import annotations

import yaml

from bot.handlers.commands import COMMANDS
from tests.conftest import REPO_ROOT


def test_the_manifest_declares_every_command_and_the_events_used() -> None:
    manifest = yaml.safe_load((REPO_ROOT / "slack" / "manifest.yml").read_text())

    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert sorted(commands) == sorted(COMMANDS)
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert {"commands", "chat:write"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    # /map uploads the picture as a file
    assert "files:write" in manifest["oauth_config"]["scopes"]["bot"]
