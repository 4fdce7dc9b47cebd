"""What each connector's records look like to a map: record types and their (flattened) fields.

The map validator checks ``{{ field }}`` references and target fields against this catalog
without building a connector. A connector's records must carry exactly these names (plus the
custom fields a map declares on the system). Nested values use dots in expressions
(``{{ Contact.ContactID }}``); the top-level name is what is listed here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordTypeSpec:
    name: str
    fields: frozenset[str]
    id_field: str  # the vendor's own id field
    display_field: str  # the field shown as the record's name
    writable: frozenset[str] = frozenset()
    supports_custom_fields: bool = False
    # where a copy of this type keeps the canonical ID when the vendor has its own way
    # (Mailchimp's merge fields), for starter maps; else a custom field or a plain field
    suggested_id_field: str | None = None


def _spec(
    name: str,
    fields: str,
    *,
    id_field: str,
    display_field: str,
    writable: str = "",
    custom: bool = False,
    suggested_id_field: str | None = None,
) -> RecordTypeSpec:
    return RecordTypeSpec(
        name=name,
        fields=frozenset(fields.split()),
        id_field=id_field,
        display_field=display_field,
        writable=frozenset(writable.split()),
        supports_custom_fields=custom,
        suggested_id_field=suggested_id_field,
    )


PIPEDRIVE = {
    spec.name: spec
    for spec in (
        _spec(
            "deal",
            "id title value currency status org_id org_name person_id person_name person_email"
            " owner_id owner_name stage_id pipeline_id add_time update_time won_time close_time",
            id_field="id",
            display_field="title",
            writable="title value currency status org_id person_id owner_id stage_id",
            custom=True,
        ),
        _spec(
            "person",
            "id name email phone org_id org_name owner_id owner_name add_time update_time",
            id_field="id",
            display_field="name",
            writable="name email phone org_id owner_id",
            custom=True,
        ),
        _spec(
            "organization",
            "id name address owner_id owner_name add_time update_time",
            id_field="id",
            display_field="name",
            writable="name address owner_id",
            custom=True,
        ),
    )
}

XERO = {
    spec.name: spec
    for spec in (
        _spec(
            "contact",
            "ContactID ContactNumber ContactStatus Name FirstName LastName EmailAddress"
            " TaxNumber IsCustomer IsSupplier AccountNumber ContactGroups UpdatedDateUTC",
            id_field="ContactID",
            display_field="Name",
            writable="ContactNumber Name FirstName LastName EmailAddress TaxNumber AccountNumber",
        ),
        _spec(
            "invoice",
            "InvoiceID InvoiceNumber Type Status Reference Contact Date DueDate Total"
            " AmountDue AmountPaid CurrencyCode UpdatedDateUTC",
            id_field="InvoiceID",
            display_field="InvoiceNumber",
            writable="Type Status Reference Contact Date DueDate CurrencyCode LineItems",
        ),
    )
}

ASANA = {
    spec.name: spec
    for spec in (
        _spec(
            "project",
            "gid name notes archived color due_on start_on owner team workspace"
            " created_at modified_at permalink_url",
            id_field="gid",
            display_field="name",
            writable="name notes archived color due_on start_on",
            custom=True,
        ),
        _spec(
            "task",
            "gid name notes completed due_on assignee projects created_at modified_at"
            " permalink_url",
            id_field="gid",
            display_field="name",
            writable="name notes completed due_on assignee",
            custom=True,
        ),
    )
}

# Merge fields are Mailchimp's custom fields, named by their tags (FNAME, HANDOFF...).
MAILCHIMP = {
    spec.name: spec
    for spec in (
        _spec(
            "member",
            "id email_address unique_email_id contact_id full_name web_id status tags"
            " last_changed timestamp_opt list_id",
            id_field="id",
            display_field="email_address",
            writable="email_address status tags",
            custom=True,
            suggested_id_field="merge_field:HANDOFF",
        ),
        _spec(
            "audience",
            "id web_id name date_created member_count",
            id_field="id",
            display_field="name",
        ),
    )
}

CATALOGS: dict[str, dict[str, RecordTypeSpec]] = {
    "pipedrive": PIPEDRIVE,
    "xero": XERO,
    "asana": ASANA,
    "mailchimp": MAILCHIMP,
}


def catalog_for(
    connector: str, options: dict[str, object] | None = None
) -> dict[str, RecordTypeSpec]:
    """The record types of ``connector``; the in-process sandbox takes the catalog of the
    vendor it emulates (``options: {emulates: xero}``)."""
    if connector == "sandbox":
        emulates = str((options or {}).get("emulates", ""))
        return CATALOGS.get(emulates, {})
    return CATALOGS.get(connector, {})
