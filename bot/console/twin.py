"""The console twin's loop: a line is a slash command, a number presses a button."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console

from bot.console.text import render_blocks
from bot.handlers import alerts
from bot.handlers.audit import audit_page, history
from bot.handlers.commands import COMMANDS, run_command
from bot.handlers.context import HandlerContext
from bot.handlers.duplicates import settle_duplicate
from bot.handlers.match import decide_proposal
from bot.handlers.phase import PhaseConfirm, change_phase
from bot.handlers.results import Notice
from bot.handlers.where import where_command
from bot.views import ids
from bot.views.customer import decode_query
from bot.views.duplicate import DECISION_OF as DUPLICATE_DECISION_OF
from bot.views.match import DECISION_OF
from bot.views.render import to_message
from bot.views.rollout import confirm_modal
from connectors.faults import ALL_FAULTS, FaultPlan
from sync_core.alerts import AlertState

MAX_BUTTONS = 200  # older numbers are forgotten


class ConsoleTwin:
    def __init__(
        self,
        ctx: HandlerContext,
        console: Console,
        ask: Callable[[str], str] = input,
        faults: Mapping[str, FaultPlan] | None = None,
    ) -> None:
        self.ctx = ctx
        self.console = console
        self.ask = ask
        self.faults = dict(faults or {})
        self._buttons: dict[int, tuple[str, str]] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    # ---- output ------------------------------------------------------------------------

    def show(self, result: Any) -> None:
        self.print_blocks(to_message(result)["blocks"])

    def print_blocks(self, blocks: list[dict[str, Any]]) -> None:
        with self._lock:
            lines = render_blocks(blocks, self._number)
        self.console.print("\n".join(lines), markup=False, highlight=False)

    def _number(self, element: dict[str, Any]) -> int:
        number = next(self._numbers)
        self._buttons[number] = (element["action_id"], element["value"])
        self._buttons.pop(number - MAX_BUTTONS, None)
        return number

    # ---- input -------------------------------------------------------------------------

    def handle(self, line: str) -> bool:
        """Run one typed line; False when the user asked to quit."""
        line = line.strip()
        if not line:
            return True
        if line in ("quit", "exit", "q"):
            return False
        if line.isdigit():
            self.press(int(line))
            return True
        command, _, text = line.partition(" ")
        if not command.startswith("/"):
            command = "/" + command
        if command == "/fault":
            self.show(self._fault(text))
            return True
        if command not in COMMANDS:
            self.show(Notice(f"Unknown command {command}. Try /handoff help.", ok=False))
            return True
        try:
            result = run_command(self.ctx, command, text)
            if isinstance(result, PhaseConfirm):
                result = self._confirm(result)
            self.show(result)
        except Exception as exc:  # a typo must not end the demo
            self.show(Notice(f"{command} failed: {exc}", ok=False))
        return True

    def _fault(self, text: str) -> Notice:
        """``fault SYSTEM KIND [TIMES]`` breaks a sandbox; ``fault SYSTEM clear`` mends it."""
        words = text.split()
        if len(words) < 2 or words[0] not in self.faults:
            systems = ", ".join(sorted(self.faults)) or "none running"
            return Notice(
                f"Usage: fault SYSTEM KIND [TIMES] or fault SYSTEM clear (systems: {systems}; "
                f"kinds: {', '.join(ALL_FAULTS)})",
                ok=False,
            )
        plan = self.faults[words[0]]
        if words[1] == "clear":
            plan.clear()
            return Notice(f"{words[0]} works normally again.")
        try:
            times = int(words[2]) if len(words) > 2 else 1
            plan.add(words[1], times)
        except ValueError as exc:
            return Notice(str(exc), ok=False)
        return Notice(f"{words[0]} will answer the next {times} call(s) with {words[1]}.")

    def press(self, number: int) -> None:
        with self._lock:
            button = self._buttons.get(number)
        if button is None:
            self.show(Notice(f"No button [{number}] on screen.", ok=False))
            return
        action, value = button
        try:
            result = self._dispatch(action, value)
        except Exception as exc:
            result = Notice(f"That did not work: {exc}", ok=False)
        if result is not None:
            self.show(result)

    def _dispatch(self, action: str, value: str) -> Any:
        ctx = self.ctx
        if action in (ids.ALERT_RETRY, ids.ALERT_RETRY_ALL):
            return alerts.retry_alert(ctx, int(value))
        if action == ids.ALERT_IGNORE:
            return self._ignore(int(value))
        if action == ids.ALERT_HISTORY:
            return alerts.alert_history(ctx, int(value))
        if action == ids.WHERE_HISTORY:
            return history(ctx, value)
        if action == ids.WHERE_RETRY:
            return alerts.retry_failed_for(ctx, value)
        if action == ids.WHERE_PICK:
            return where_command(ctx, value)
        if action == ids.AUDIT_MORE:
            return audit_page(ctx, decode_query(value))
        if action in DECISION_OF:
            return decide_proposal(ctx, int(value), DECISION_OF[action])
        if action in DUPLICATE_DECISION_OF:
            return settle_duplicate(ctx, int(value), DUPLICATE_DECISION_OF[action])
        return Notice(f"Unknown button {action}.", ok=False)

    def _ignore(self, alert_id: int) -> Any:
        # An old button may belong to an alert that has closed since: say so, ask nothing.
        current = alerts.show_alert(self.ctx, alert_id)
        if current.detail.state not in (AlertState.OPEN, AlertState.ACKNOWLEDGED):
            return alerts.ignore_alert(self.ctx, alert_id, "")
        reason = self.ask("Why ignore it? ").strip()
        if not reason:
            return Notice("Not ignored: a reason is needed.", ok=False)
        if self._looks_like_command(reason):
            # The prompt must not swallow the next command typed: run it instead.
            self.show(Notice(f"Not ignored: {reason!r} is a command, not a reason.", ok=False))
            self.handle(reason)
            return None
        return alerts.ignore_alert(self.ctx, alert_id, reason)

    def _looks_like_command(self, line: str) -> bool:
        word = line.split()[0]
        named = word if word.startswith("/") else "/" + word
        return line.isdigit() or named in COMMANDS or named in ("/fault", "/quit", "/exit")

    def _confirm(self, confirm: PhaseConfirm) -> Any:
        """The confirmation modal, as questions."""
        self.print_blocks(confirm_modal(confirm, channel=None)["blocks"][:1])
        reason = self.ask("Reason (empty to cancel): ").strip()
        if not reason:
            return Notice("Cancelled.")
        override = False
        if confirm.failed_gates:
            override = self.ask("Override the failed gates? [y/N] ").strip().lower() == "y"
        return change_phase(self.ctx, confirm.action, confirm.phase_id, reason, override=override)

    def run(self, stop: threading.Event) -> bool:
        """Read lines until quit, end of input or ``stop``; True when the user quit."""
        self.console.print(
            "Type a slash command (/where acme, /audit, /phase status, /sync status, "
            "/handoff help) or a button's number; `fault xero server_error 20` breaks a "
            "sandbox and `fault xero clear` mends it; quit to stop.",
            markup=False,
            highlight=False,
        )
        while not stop.is_set():
            try:
                line = self.ask("handoff> ")
            except EOFError:
                return False
            if not self.handle(line):
                return True
        return False
