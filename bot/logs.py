"""Log setup for the processes Handoff runs (called once by the CLI, never at import).

Logs go to stderr, as key=value lines (JSON with HANDOFF_LOG_FORMAT=json), at
HANDOFF_LOG_LEVEL (default INFO). Values that look like credentials are masked on the way out.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from connectors.redaction import REDACTED, is_secret_key, redact_text


def _mask_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    for key, value in list(event.items()):
        if is_secret_key(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = redact_text(value)
    return event


def configure_logging(env: MutableMapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    level = getattr(logging, env.get("HANDOFF_LOG_LEVEL", "INFO").upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if env.get("HANDOFF_LOG_FORMAT") == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=max(level, logging.WARNING),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
