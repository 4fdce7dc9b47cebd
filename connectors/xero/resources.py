"""The Xero record types Handoff reads and writes, as declarations the client and sandbox share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.catalog import XERO, RecordTypeSpec

from .dates import iso, parse_xero_date


@dataclass(frozen=True)
class Resource:
    record_type: str
    path: str  # collection path under /api.xro/2.0
    collection: str  # the array key in request and response bodies
    id_key: str  # Xero's own id field
    view_url: str  # deep link; {id} is the record's id
    date_keys: tuple[str, ...] = ("UpdatedDateUTC",)

    @property
    def spec(self) -> RecordTypeSpec:
        return XERO[self.record_type]


CONTACT = Resource(
    record_type="contact",
    path="/Contacts",
    collection="Contacts",
    id_key="ContactID",
    # Xero's deep-link guide: the new-UI contact view.
    view_url="/Contacts/View/{id}",
)
INVOICE = Resource(
    record_type="invoice",
    path="/Invoices",
    collection="Invoices",
    id_key="InvoiceID",
    view_url="/AccountsReceivable/View.aspx?InvoiceID={id}",
    date_keys=("UpdatedDateUTC", "Date", "DueDate"),
)
RESOURCES: dict[str, Resource] = {r.record_type: r for r in (CONTACT, INVOICE)}


def flatten(resource: Resource, item: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog's fields of one Xero element; dates become ISO strings (JSON-safe)."""
    fields: dict[str, Any] = {}
    for name in resource.spec.fields:
        if name not in item:
            continue
        value = item[name]
        if name in resource.date_keys:
            value = iso(parse_xero_date(value))
        elif name == "Contact" and isinstance(value, Mapping):
            value = {k: value[k] for k in ("ContactID", "Name", "ContactNumber") if k in value}
        elif name == "ContactGroups" and isinstance(value, list):
            value = [
                {k: group[k] for k in ("ContactGroupID", "Name", "Status") if k in group}
                for group in value
                if isinstance(group, Mapping)
            ]
        fields[name] = value
    return fields
