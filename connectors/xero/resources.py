"""The Xero record types Handoff reads and writes, as declarations the client and sandbox share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.record_types import RecordType, catalog

from .dates import iso, parse_xero_date

CONTACT = RecordType.declare(
    "contact",
    "ContactID ContactNumber ContactStatus Name FirstName LastName EmailAddress"
    " TaxNumber IsCustomer IsSupplier AccountNumber ContactGroups UpdatedDateUTC",
    writable="ContactNumber Name FirstName LastName EmailAddress TaxNumber AccountNumber",
    id_field="ContactID",
    display_field="Name",
    path="/Contacts",
    body_key="Contacts",
    date_fields=("UpdatedDateUTC",),
    # Xero's deep-link guide: the new-UI contact view.
    deep_link="/Contacts/View/{id}",
)
INVOICE = RecordType.declare(
    "invoice",
    "InvoiceID InvoiceNumber Type Status Reference Contact Date DueDate Total"
    " AmountDue AmountPaid CurrencyCode UpdatedDateUTC",
    writable="Type Status Reference Contact Date DueDate CurrencyCode LineItems",
    id_field="InvoiceID",
    display_field="InvoiceNumber",
    path="/Invoices",
    body_key="Invoices",
    date_fields=("UpdatedDateUTC", "Date", "DueDate"),
    deep_link="/AccountsReceivable/View.aspx?InvoiceID={id}",
)
RECORD_TYPES = catalog(CONTACT, INVOICE)


def flatten(resource: RecordType, item: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog's fields of one Xero element; dates become ISO strings (JSON-safe)."""
    fields: dict[str, Any] = {}
    for name in resource.fields:
        if name not in item:
            continue
        value = item[name]
        if name in resource.date_fields:
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
