"""The OAuth scopes each record type needs, as the Accounting API's security section names
them: reading takes the scope or its ``.read`` form, writing the scope itself."""

from __future__ import annotations

from collections.abc import Set

SCOPES = {
    "contact": "accounting.contacts",  # GET/PUT/POST /Contacts
    "invoice": "accounting.transactions",  # GET/PUT/POST /Invoices
}


def missing_scopes(granted: Set[str], reads: Set[str], writes: Set[str]) -> list[str]:
    """One line per scope ``granted`` lacks for reading ``reads`` and writing ``writes``."""
    lines: list[str] = []
    for record_type in sorted(writes):
        scope = SCOPES.get(record_type)
        if scope and scope not in granted:
            lines.append(f"{scope} (to write {record_type})")
    for record_type in sorted(set(reads) - set(writes)):
        scope = SCOPES.get(record_type)
        if scope and scope not in granted and f"{scope}.read" not in granted:
            lines.append(f"{scope}.read or {scope} (to read {record_type})")
    return lines
