"""``handoff doctor``: can this map run here? One finding per check, each with its fix.

Per system: the credential variables are set, the vendor accepts them, the token may read and
write the record types the map's flows use (and holds the scopes they need, where the vendor
says which it granted), the custom fields the map needs exist or will be created, and how much
of the rate limit is left. For Slack: the variables, the bot token, and the scopes of the
manifest. Every check reads; nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.bootstrap import SANDBOX_BASE_URL, SandboxStarter, build_connectors
from bot.settings import Settings
from bot.systems import connector_context
from connectors.base import AuthExpired, ConfigError, Connector, ConnectorError, IdFieldKind
from connectors.clock import SystemClock
from connectors.diagnosis import ListsCustomFields, ReportsScopes
from connectors.http import ExchangeLog
from connectors.registry import catalog_for
from connectors.sandboxes import RunningSandbox
from sync_core.map.model import IntegrationMap, RecordRef

MANIFEST = Path(__file__).resolve().parents[1] / "slack" / "manifest.yml"
REMAINING_HEADER = re.compile(r"(remaining|left)", re.I)
CUSTOM_KINDS = (IdFieldKind.CUSTOM_FIELD, IdFieldKind.MERGE_FIELD)


@dataclass(frozen=True)
class Finding:
    subject: str  # a system's name, or "slack"
    check: str  # credentials, authentication, permissions, custom fields, rate limit, ...
    status: str  # ok, warning (does not fail), failed
    message: str
    fix: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class Needs:
    """What the map asks of one system: record types read and written, custom fields."""

    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    custom_fields: dict[str, set[str]] = field(default_factory=dict)  # record type -> names


def needs_of(integration_map: IntegrationMap, system: str) -> Needs:
    needs = Needs()
    system_block = integration_map.systems[system]
    catalog = catalog_for(system_block.connector, system_block.options)
    for entity in integration_map.entities.values():
        for ref in entity.record_refs():
            if ref.system == system:
                needs.reads.add(ref.record_type)
        for ref, copy in entity.copy_refs().items():
            if ref.system == system and copy.id_field.kind in CUSTOM_KINDS:
                name = copy.id_field.name
                needs.custom_fields.setdefault(ref.record_type, set()).add(name)
    for flow in integration_map.flows:
        ends: list[RecordRef | None] = (
            list(flow.between) if flow.between else [flow.source, flow.target]
        )
        for end in ends:
            if end is not None and end.system == system:
                needs.reads.add(end.record_type)
        targets: list[RecordRef | None] = list(flow.between) if flow.between else [flow.target]
        for target in targets:
            if target is None or target.system != system:
                continue
            needs.writes.add(target.record_type)
            declared = catalog.get(target.record_type)
            for name in flow.fields:
                if "<->" in name or declared is None or name in declared.fields:
                    continue
                if declared.supports_custom_fields:
                    needs.custom_fields.setdefault(target.record_type, set()).add(name)
        source = flow.source
        if flow.link_back is not None and source is not None and source.system == system:
            needs.writes.add(source.record_type)
    for record_type, names in system_block.custom_fields.items():
        needs.custom_fields.setdefault(record_type, set()).update(names)
    return needs


class RecordedExchanges(ExchangeLog):
    """The exchanges of this check, kept in memory (their response headers tell the rate
    limit's headroom)."""

    def __init__(self) -> None:
        super().__init__(Path("/dev/null"), SystemClock())
        self.entries: list[dict[str, Any]] = []

    def write(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)


def diagnose(
    integration_map: IntegrationMap,
    env: Mapping[str, str],
    *,
    start: SandboxStarter | None = None,
    settings: Settings | None = None,
) -> list[Finding]:
    """Every finding for the map's systems and Slack, in order."""
    findings: list[Finding] = []
    settings = settings or Settings.from_env(env)
    for name in integration_map.systems:
        findings += diagnose_system(integration_map, name, env, start, settings)
    findings += diagnose_slack(settings)
    return findings


def diagnose_system(
    integration_map: IntegrationMap,
    name: str,
    env: Mapping[str, str],
    start: SandboxStarter | None = None,
    settings: Settings | None = None,
) -> list[Finding]:
    system = integration_map.systems[name]
    sandboxed = system.connector == "sandbox" or system.base_url == SANDBOX_BASE_URL
    variables = system.env_names()
    unset = [v for v in variables.values() if not env.get(v)]
    if unset and not sandboxed:
        return [
            Finding(
                name,
                "credentials",
                "failed",
                f"{', '.join(unset)} not set",
                f"export {unset[0]}=… (the {system.connector} credential; the map names it)",
            )
        ]
    findings = [
        Finding(
            name,
            "credentials",
            "ok",
            "the built-in sandbox supplies them"
            if sandboxed
            else f"{', '.join(variables.values()) or 'none needed'} set",
        )
    ]
    needs = needs_of(integration_map, name)
    exchanges = RecordedExchanges()
    sandboxes: dict[str, RunningSandbox] = {}
    only = integration_map.model_copy(update={"systems": {name: system}})
    with connector_context(settings or Settings.from_env(env), exchanges) as context:
        try:
            connector = build_connectors(only, context, env, sandboxes, start=start)[name]
        except ConnectorError as exc:
            _stop(sandboxes)
            failed = Finding(name, "authentication", "failed", str(exc), _renew(variables))
            return [*findings, failed]
        try:
            findings += _probe(name, connector, needs, variables, exchanges)
        finally:
            connector.close()
            _stop(sandboxes)
    return findings


def _stop(sandboxes: dict[str, RunningSandbox]) -> None:
    for running in sandboxes.values():
        running.shutdown()


def _renew(variables: Mapping[str, str]) -> str:
    names = ", ".join(variables.values()) or "the system's credentials"
    return f"issue a new credential in the vendor's app and set {names}"


def _probe(
    name: str,
    connector: Connector,
    needs: Needs,
    variables: Mapping[str, str],
    exchanges: RecordedExchanges,
) -> list[Finding]:
    record_types = sorted(needs.reads | needs.writes) or list(connector.record_types())[:1]
    refused: list[str] = []
    for index, record_type in enumerate(record_types):
        try:
            connector.list_changed(record_type, None, limit=1)
        except ConnectorError as exc:
            if index == 0 and _is_authentication(exc):
                return [Finding(name, "authentication", "failed", str(exc), _renew(variables))]
            refused.append(f"{record_type}: {exc}")
    findings = [Finding(name, "authentication", "ok", "the vendor accepts the credentials")]
    missing = (
        connector.missing_scopes(needs.reads, needs.writes)
        if isinstance(connector, ReportsScopes)
        else None
    )
    if refused or missing:
        problems = refused + [f"lacks the scope {line}" for line in missing or []]
        findings.append(
            Finding(
                name,
                "permissions",
                "failed",
                "; ".join(problems),
                "grant the missing permissions to the app or user, then re-authorise it",
            )
        )
    else:
        said = "scopes granted" if missing is not None else "the vendor does not list scopes"
        used = ", ".join(
            f"{rt} ({'read, write' if rt in needs.writes else 'read'})" for rt in record_types
        )
        findings.append(Finding(name, "permissions", "ok", f"reads work for {used}; {said}"))
    findings += _custom_fields(name, connector, needs)
    findings.append(_headroom(name, exchanges))
    return findings


def _is_authentication(exc: ConnectorError) -> bool:
    return (
        isinstance(exc, AuthExpired)
        or exc.http_status == 401
        or (isinstance(exc, ConfigError) and exc.http_status is not None)
    )


def _custom_fields(name: str, connector: Connector, needs: Needs) -> list[Finding]:
    wanted = {rt: names for rt, names in needs.custom_fields.items() if names}
    if not wanted:
        return []
    if not isinstance(connector, ListsCustomFields):
        # `handoff check` refuses custom fields where the record type has none; here the
        # connector only cannot say which exist already.
        fields = ", ".join(sorted(f"{rt}.{n}" for rt, names in wanted.items() for n in names))
        return [
            Finding(
                name,
                "custom fields",
                "warning",
                f"{fields}: this connector cannot list its custom fields; created on first write",
            )
        ]
    present: list[str] = []
    created: list[str] = []
    for record_type, names in sorted(wanted.items()):
        try:
            existing = connector.custom_field_names(record_type)
        except ConnectorError as exc:
            return [Finding(name, "custom fields", "failed", f"cannot list them: {exc}")]
        for field_name in sorted(names):
            label = f"{record_type}.{field_name}"
            (present if field_name in existing else created).append(label)
    message = f"exist: {', '.join(present) or 'none'}"
    if created:
        message += f"; created on first write: {', '.join(created)}"
    return [Finding(name, "custom fields", "ok", message)]


def _headroom(name: str, exchanges: RecordedExchanges) -> Finding:
    ours = [e for e in exchanges.entries if e.get("system") == name]
    if not ours:
        return Finding(name, "rate limit", "ok", "no HTTP calls: an in-process system has none")
    ours = [e for e in ours if e.get("response_headers")]
    if not ours:
        return Finding(name, "rate limit", "warning", "the vendor sent no headers to measure")
    headers = {str(k).lower(): str(v) for k, v in ours[-1]["response_headers"].items()}
    left = {k: v for k, v in headers.items() if REMAINING_HEADER.search(k) and v.isdigit()}
    if not left:
        return Finding(name, "rate limit", "ok", "no headroom reported (the client paces itself)")
    said = ", ".join(f"{k} {v}" for k, v in sorted(left.items()))
    if any(int(v) == 0 for v in left.values()):
        return Finding(
            name,
            "rate limit",
            "warning",
            f"none left now ({said})",
            "wait for the window to reset before the first sync",
        )
    return Finding(name, "rate limit", "ok", said)


# ---- Slack ------------------------------------------------------------------------------------


def manifest_scopes(path: Path = MANIFEST) -> set[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return set(data["oauth_config"]["scopes"]["bot"])


def diagnose_slack(settings: Settings) -> list[Finding]:
    if not settings.slack_bot_token:
        return [
            Finding(
                "slack",
                "credentials",
                "warning",
                "SLACK_BOT_TOKEN not set: alerts go to the console only",
                "create the app from slack/manifest.yml and export SLACK_BOT_TOKEN=xoxb-…",
            )
        ]
    findings: list[Finding] = []
    if not settings.slack_app_token and not settings.slack_signing_secret:
        findings.append(
            Finding(
                "slack",
                "credentials",
                "failed",
                "neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN is set",
                "export SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)",
            )
        )
    else:
        findings.append(Finding("slack", "credentials", "ok", "SLACK_BOT_TOKEN and a secret set"))
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    base = settings.slack_api_url or WebClient.BASE_URL
    client = WebClient(token=settings.slack_bot_token, base_url=base.rstrip("/") + "/")
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        return [
            *findings,
            Finding(
                "slack",
                "authentication",
                "failed",
                f"Slack rejected SLACK_BOT_TOKEN ({error})",
                "reinstall the app to the workspace and copy its bot token",
            ),
        ]
    except OSError as exc:
        return [*findings, Finding("slack", "authentication", "failed", f"unreachable: {exc}")]
    team = response.get("team") or "the workspace"
    findings.append(Finding("slack", "authentication", "ok", f"the bot token works in {team}"))
    header = {k.lower(): v for k, v in response.headers.items()}.get("x-oauth-scopes")
    if header is None:
        findings.append(Finding("slack", "permissions", "warning", "Slack did not list scopes"))
        return findings
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    lacking = sorted(manifest_scopes() - granted)
    if lacking:
        findings.append(
            Finding(
                "slack",
                "permissions",
                "failed",
                f"the bot token lacks {', '.join(lacking)}",
                "add them under OAuth & Permissions (or from slack/manifest.yml), reinstall",
            )
        )
    else:
        findings.append(Finding("slack", "permissions", "ok", "every scope of the manifest"))
    return findings
