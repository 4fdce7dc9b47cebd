"""Settings from the environment. The map holds no secrets; credentials are ``env:`` refs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from connectors.base import ConfigError
from sync_core.map.model import System

DEMO_MAP = Path(__file__).resolve().parents[1] / "examples" / "agency.yaml"


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    # the map: named by -c or HANDOFF_MAP (map_given), else the demo map unless the store
    # remembers another (bot.map_choice)
    map_path: Path
    http_log: Path | None
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str | None
    map_given: bool = False
    # --map-changed: run with the named map even though the store ran another one
    map_changed: bool = False
    # encrypts the OAuth tokens kept in the store (sync_core.store.credentials)
    secret_key: str | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        map_path: Path | None = None,
        http_log: Path | None = None,
        database_url: str | None = None,
        map_changed: bool = False,
    ) -> Settings:
        env = os.environ if env is None else env
        log_path = http_log or (
            Path(env["HANDOFF_HTTP_LOG"]) if env.get("HANDOFF_HTTP_LOG") else None
        )
        named = map_path or (Path(env["HANDOFF_MAP"]) if env.get("HANDOFF_MAP") else None)
        return cls(
            database_url=database_url or env.get("HANDOFF_DATABASE_URL") or None,
            map_path=named or DEMO_MAP,
            http_log=log_path,
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
            map_given=named is not None,
            map_changed=map_changed,
            secret_key=env.get("HANDOFF_SECRET_KEY") or None,
        )


def resolve_credentials(
    name: str, system: System, env: Mapping[str, str], *, sandbox: bool
) -> dict[str, str]:
    """The system's credentials from the environment. A sandboxed system gets sandbox
    credentials for anything unset; a real one stops with the variable's name."""
    credentials: dict[str, str] = {}
    missing: list[str] = []
    for key, variable in system.env_names().items():
        value = env.get(variable)
        if value:
            credentials[key] = value
        elif sandbox:
            credentials[key] = f"sandbox-{key}"
        else:
            missing.append(f"{key} (set {variable})")
    if missing:
        raise ConfigError(f"system {name}: missing credential {', '.join(missing)}")
    return credentials
