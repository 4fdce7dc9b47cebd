"""Log setup for the processes Handoff runs (called once by the CLI, never at import).

Logs go to stderr, as key=value lines (JSON with HANDOFF_LOG_FORMAT=json), at
HANDOFF_LOG_LEVEL (default INFO). Values that look like credentials are masked on the way out.

An exception is logged as a plain traceback, never with its frames' local variables (a poll
job's locals hold tokens and customer records), and every line, traceback included, passes
through the one redaction step that knows the configured secret values
(``connectors.redaction.redact_text``), for structlog and the standard library alike.
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
        elif value is not None and not isinstance(value, int | float | bool):
            event[key] = redact_text(str(value))
    return event


class RedactingFormatter(logging.Formatter):
    """Standard-library records (Bolt, APScheduler, httpx) through the same redaction."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class RedactingHandler(logging.Handler):
    """Writes redacted records to whatever ``sys.stderr`` is now. A record it cannot write
    is dropped quietly: the standard fallback would print the record's raw arguments."""

    def __init__(self, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
        super().__init__()
        self.setFormatter(RedactingFormatter(fmt))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            pass


def configure_logging(env: MutableMapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    level = getattr(logging, env.get("HANDOFF_LOG_LEVEL", "INFO").upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if env.get("HANDOFF_LOG_FORMAT") == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # The traceback becomes text here (no locals), so the next step can redact it.
            structlog.processors.format_exc_info,
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(level, logging.WARNING), handlers=[RedactingHandler()])
