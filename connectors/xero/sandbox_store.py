"""The sandbox's organisation: contacts and invoices in memory, Xero's validation rules, and
the ``where`` filters the connector sends (``Field=="value"`` terms joined by OR)."""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.sandbox.index import OrderedKeys, ValueIndex

from .dates import format_xero_date, parse_xero_date
from .resources import CONTACT, INVOICE, RECORD_TYPES, RecordType

_TERM = re.compile(r'^\s*(\w+)\s*==\s*"([^"]*)"\s*$')
_OR = re.compile(r"\s+OR\s+|\s*\|\|\s*")


class FilterError(ValueError):
    pass


def parse_where(where: str) -> list[tuple[str, str]]:
    """``ContactNumber=="A" OR ContactNumber=="B"`` → [(field, value), ...]."""
    terms = []
    for part in _OR.split(where.strip()):
        match = _TERM.match(part)
        if not match:
            raise FilterError(f"unsupported where term: {part!r}")
        terms.append((match.group(1), match.group(2)))
    return terms


@dataclass
class Stored:
    element: dict[str, Any]
    updated: datetime


@dataclass
class OrgStore:
    """All records of one tenant; every method holds the lock."""

    records: dict[str, dict[str, Stored]] = field(
        default_factory=lambda: {name: {} for name in RECORD_TYPES}
    )
    lock: threading.RLock = field(default_factory=threading.RLock)
    invoice_seq: int = 0
    # Derived from ``records`` (kept current by ``save``, rebuilt by ``from_state``, never
    # saved): each table in (updated, id) order, active contacts by lower-cased name, and
    # records by the text of a field a ``where`` term names (built on its first use).
    _order: dict[str, OrderedKeys] = field(default_factory=dict)
    _active_names: ValueIndex = field(default_factory=ValueIndex)
    _by_field: dict[tuple[str, str], ValueIndex] = field(default_factory=dict)
    # the last listing, reused for its next page until a write changes anything
    _version: int = 0
    _listed: tuple[tuple[Any, ...], list[dict[str, Any]]] | None = None

    def __post_init__(self) -> None:
        self._reindex_all()

    # -- persistence ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "records": {
                    record_type: [
                        {"element": copy.deepcopy(s.element), "updated": s.updated.isoformat()}
                        for s in table.values()
                    ]
                    for record_type, table in self.records.items()
                },
                "invoice_seq": self.invoice_seq,
            }

    def from_state(self, state: Mapping[str, Any]) -> None:
        with self.lock:
            self.records = {name: {} for name in RECORD_TYPES}
            for record_type, rows in state["records"].items():
                id_key = RECORD_TYPES[record_type].id_field
                for row in rows:
                    element = row["element"]
                    self.records[record_type][str(element[id_key]).lower()] = Stored(
                        element, datetime.fromisoformat(row["updated"])
                    )
            self.invoice_seq = int(state["invoice_seq"])
            self._reindex_all()

    # -- reading --------------------------------------------------------------------------

    def query(
        self,
        resource: RecordType,
        *,
        where: str | None = None,
        since: datetime | None = None,
        include_archived: bool = False,
        ids: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Matching elements in (updated, id) order. They are the stored dicts themselves
        (``save`` replaces an element, never changes one): copy what you change. ``ids``:
        only these records (Xero's ``IDs`` filter), ANDed with the rest."""
        terms = parse_where(where) if where else []
        wanted = None if ids is None else frozenset(i.lower() for i in ids)
        with self.lock:
            asked = (resource.name, tuple(terms), since, include_archived, wanted, self._version)
            if self._listed is not None and self._listed[0] == asked:
                return self._listed[1]
            out = [
                stored.element
                for stored in self._candidates(resource, terms, since, wanted)
                if (since is None or stored.updated > since)
                and (include_archived or stored.element.get("ContactStatus") != "ARCHIVED")
                and (not terms or any(str(stored.element.get(f)) == v for f, v in terms))
            ]
            self._listed = (asked, out)
            return out

    def _candidates(
        self,
        resource: RecordType,
        terms: list[tuple[str, str]],
        since: datetime | None,
        wanted: frozenset[str] | None = None,
    ) -> list[Stored]:
        table = self.records[resource.name]
        if wanted is not None:  # a lookup by id: only those records
            picked = [table[i] for i in wanted if i in table]
            if terms:
                picked = [s for s in picked if any(str(s.element.get(f)) == v for f, v in terms)]
            return sorted(picked, key=lambda s: (s.updated, s.element[resource.id_field]))
        if terms:  # a lookup by value: only the records holding one of the values
            found: dict[str, Stored] = {}
            for name, value in terms:
                for ident in self._field_index(resource.name, name).ids(value):
                    found[ident] = table[ident]
            return sorted(found.values(), key=lambda s: (s.updated, s.element[resource.id_field]))
        order = self._order[resource.name]
        start = (since,) if since is not None else None
        return [table[ident.lower()] for _, ident in order.after(start, inclusive=True)]

    def get(self, resource: RecordType, external_id: str) -> dict[str, Any] | None:
        with self.lock:
            stored = self.records[resource.name].get(external_id.lower())
            return dict(stored.element) if stored else None

    # -- writing --------------------------------------------------------------------------

    def validate(self, resource: RecordType, sent: Mapping[str, Any], *, create: bool) -> list[str]:
        with self.lock:
            current = None if create else self.get(resource, str(sent.get(resource.id_field)))
            if not create and current is None:
                return [f"{resource.id_field} {sent.get(resource.id_field)} does not exist"]
            merged = {**(current or {}), **sent}
            if resource is CONTACT:
                return self._contact_errors(merged)
            return self._invoice_errors(merged)

    def _contact_errors(self, contact: Mapping[str, Any]) -> list[str]:
        name = str(contact.get("Name") or "").strip()
        if not name:
            return ["The contact name must be specified."]
        for ident in self._active_names.ids(name.lower()):
            if self.records["contact"][ident].element["ContactID"] != contact.get("ContactID"):
                return [
                    f"The contact name {name} is already assigned to another contact. "
                    "The contact name must be unique across all active contacts."
                ]
        return []

    def _invoice_errors(self, invoice: Mapping[str, Any]) -> list[str]:
        errors = []
        if invoice.get("Type") not in ("ACCREC", "ACCPAY"):
            errors.append("Invoice Type must be specified.")
        contact = invoice.get("Contact") or {}
        if not (isinstance(contact, Mapping) and self._contact_for(contact)):
            errors.append("A Contact must be specified for this type of transaction")
        return errors

    def _contact_for(self, ref: Mapping[str, Any]) -> dict[str, Any] | None:
        if ref.get("ContactID"):
            return self.get(CONTACT, str(ref["ContactID"]))
        if ref.get("Name"):
            for ident in self._field_index("contact", "Name").ids(str(ref["Name"])):
                return dict(self.records["contact"][ident].element)
        return None

    def save(
        self, resource: RecordType, sent: Mapping[str, Any], now: datetime, *, create: bool
    ) -> dict[str, Any]:
        """Create or change one record (already validated); returns the stored element."""
        with self.lock:
            table = self.records[resource.name]
            if create:
                external_id = str(sent.get(resource.id_field) or uuid.uuid4())
                element: dict[str, Any] = dict(self._defaults(resource, external_id))
            else:
                external_id = str(sent[resource.id_field])
                element = dict(table[external_id.lower()].element)
            element.update({k: v for k, v in sent.items() if k != resource.id_field})
            if resource is INVOICE:
                self._price(element)
            element["UpdatedDateUTC"] = format_xero_date(now)
            stored = Stored(element, now)
            previous = table.get(external_id.lower())
            table[external_id.lower()] = stored
            self._index(resource.name, previous, stored)
            return dict(element)

    # -- indexes ----------------------------------------------------------------------------

    def _reindex_all(self) -> None:
        self._order = {name: OrderedKeys() for name in RECORD_TYPES}
        self._active_names = ValueIndex()
        self._by_field = {}
        self._version += 1
        for record_type, table in self.records.items():
            for stored in table.values():
                self._index(record_type, None, stored)

    def _field_index(self, record_type: str, name: str) -> ValueIndex:
        index = self._by_field.get((record_type, name))
        if index is None:
            index = self._by_field[(record_type, name)] = ValueIndex()
            for ident, stored in self.records[record_type].items():
                index.add(str(stored.element.get(name)), ident)
        return index

    def _index(self, record_type: str, previous: Stored | None, stored: Stored) -> None:
        self._version += 1
        id_key = RECORD_TYPES[record_type].id_field
        ident = str(stored.element[id_key]).lower()
        order = self._order[record_type]
        if previous is not None:
            order.discard((previous.updated, str(previous.element[id_key])))
        order.add((stored.updated, str(stored.element[id_key])))
        if record_type == "contact":
            if previous is not None and previous.element.get("ContactStatus") == "ACTIVE":
                self._active_names.discard(str(previous.element["Name"]).lower(), ident)
            if stored.element.get("ContactStatus") == "ACTIVE":
                self._active_names.add(str(stored.element["Name"]).lower(), ident)
        for (indexed_type, name), index in self._by_field.items():
            if indexed_type == record_type:
                if previous is not None:
                    index.discard(str(previous.element.get(name)), ident)
                index.add(str(stored.element.get(name)), ident)

    def _defaults(self, resource: RecordType, external_id: str) -> Mapping[str, Any]:
        if resource is CONTACT:
            return {
                "ContactID": external_id,
                "ContactStatus": "ACTIVE",
                "IsSupplier": False,
                "IsCustomer": False,
                "HasValidationErrors": False,
                "ContactGroups": [],
            }
        self.invoice_seq += 1
        return {
            "InvoiceID": external_id,
            "InvoiceNumber": f"INV-{self.invoice_seq:04d}",
            "Status": "DRAFT",
            "CurrencyCode": "USD",
            "LineItems": [],
            "HasErrors": False,
        }

    def _price(self, invoice: dict[str, Any]) -> None:
        contact = self._contact_for(invoice.get("Contact") or {}) or {}
        invoice["Contact"] = {k: contact[k] for k in ("ContactID", "Name") if k in contact}
        lines = []
        for line in invoice.get("LineItems") or []:
            amount = round(float(line.get("Quantity", 1)) * float(line.get("UnitAmount", 0)), 2)
            lines.append({**line, "LineAmount": amount})
        invoice["LineItems"] = lines
        total = round(sum(line["LineAmount"] for line in lines), 2)
        paid = float(invoice.get("AmountPaid", 0.0))
        invoice.update(SubTotal=total, TotalTax=0.0, Total=total, AmountDue=total - paid)
        invoice["AmountPaid"] = paid
        for key in ("Date", "DueDate"):
            if key in invoice:
                parsed = parse_xero_date(invoice[key])
                if parsed is not None:
                    invoice[key] = format_xero_date(parsed)

    def seed(
        self, resource: RecordType, fields: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        return self.save(resource, fields, now, create=True)

    def all(self, resource: RecordType) -> Iterable[dict[str, Any]]:
        with self.lock:
            return [dict(s.element) for s in self.records[resource.name].values()]
