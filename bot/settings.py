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
    map_path: Path
    http_log: Path | None
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str | None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        map_path: Path | None = None,
        http_log: Path | None = None,
        database_url: str | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        log_path = http_log or (
            Path(env["HANDOFF_HTTP_LOG"]) if env.get("HANDOFF_HTTP_LOG") else None
        )
        return cls(
            database_url=database_url or env.get("HANDOFF_DATABASE_URL") or None,
            map_path=map_path or Path(env.get("HANDOFF_MAP") or DEMO_MAP),
            http_log=log_path,
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
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
