"""What a handler runs with: the map, the store, the engine, the clock and who is asking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from connectors.clock import Clock
from sync_core.engine import Engine
from sync_core.map.model import IntegrationMap
from sync_core.operations import is_admin, may_operate
from sync_core.ports import UnitOfWorkFactory


@dataclass(frozen=True)
class Actor:
    """Who clicked or typed: a Slack user ID (``U0ADMIN1``) or the local console operator."""

    user_id: str
    source: str = "slack"
    trusted: bool = False  # the console operator runs the process: an admin by definition

    @property
    def label(self) -> str:
        """How the actor is written in the audit log."""
        return f"{self.source}:{self.user_id}"


CONSOLE = Actor(user_id="operator", source="console", trusted=True)


@dataclass(frozen=True)
class HandlerContext:
    map: IntegrationMap
    uow_factory: UnitOfWorkFactory
    engine: Engine
    clock: Clock
    actor: Actor = field(default=CONSOLE)
    # Looks up the user groups (handles) a user belongs to, only when an admin check needs it.
    resolve_groups: Callable[[str], tuple[str, ...]] | None = None

    def as_actor(
        self, actor: Actor, resolve_groups: Callable[[str], tuple[str, ...]] | None = None
    ) -> HandlerContext:
        return replace(self, actor=actor, resolve_groups=resolve_groups)

    @property
    def admin(self) -> bool:
        if self.actor.trusted or is_admin(self.map, self.actor.user_id):
            return True
        groups = self.resolve_groups(self.actor.user_id) if self.resolve_groups else ()
        return is_admin(self.map, self.actor.user_id, groups)

    @property
    def operator(self) -> bool:
        """May press Retry and Ignore on alerts: an admin or one of the alert operators."""
        if self.actor.trusted or may_operate(self.map, self.actor.user_id):
            return True
        groups = self.resolve_groups(self.actor.user_id) if self.resolve_groups else ()
        return may_operate(self.map, self.actor.user_id, groups)
