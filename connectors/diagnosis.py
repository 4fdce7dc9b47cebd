"""Optional powers a connector offers ``handoff doctor``, checked where doctor uses them.

A connector that knows more than "a read worked" says so through these small protocols: the
custom fields a record type has, and the permissions (OAuth scopes) its token was granted,
where the vendor reports them.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol, runtime_checkable


@runtime_checkable
class ListsCustomFields(Protocol):
    def custom_field_names(self, record_type: str) -> set[str]:
        """The names of the custom fields defined for ``record_type`` (read only)."""
        ...


@runtime_checkable
class ReportsScopes(Protocol):
    def missing_scopes(self, reads: Set[str], writes: Set[str]) -> list[str] | None:
        """One line per scope the token lacks for reading ``reads`` and writing ``writes``
        (record types); ``None`` when the vendor has not said which scopes it granted."""
        ...
