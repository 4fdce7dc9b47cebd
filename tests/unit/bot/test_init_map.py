"""The starter map's suggestions from a discovery, without any system: an accounting-first
business (clients made in Xero first) gets Xero as the minting system."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.init_map import SystemChoice, id_field_for, plan_entities, starter_map
from connectors.registry import catalogs
from sync_core.discovery import Discovery, RecordTypeFound, Twin
from sync_core.map.loader import load_map_text

CATALOGS_BY_SYSTEM = {"crm": catalogs()["pipedrive"], "books": catalogs()["xero"]}
CHOICES = [
    SystemChoice("books", "xero", {"client_id": "BOOKS_ID", "client_secret": "BOOKS_SECRET"}),
    SystemChoice("crm", "pipedrive", {"api_token": "CRM_TOKEN"}, {"company_domain": None}),
]


def found(ref: str, count: int, first: datetime | None) -> RecordTypeFound:
    system, record_type = ref.split(".")
    return RecordTypeFound(system, record_type, count=count, first_created=first)


def twin(left: str, right: str, n: int) -> Twin:
    return Twin(left, str(n), f"Client {n}", right, f"x{n}", f"Client {n}", 0.9, ("name 1.00",))


def discovery(books_first: bool) -> Discovery:
    early, late = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    return Discovery(
        record_types=[
            found("books.contact", 40, early if books_first else late),
            found("books.invoice", 300, early),
            found("crm.deal", 25, late),
            found("crm.organization", 30, late if books_first else early),
            found("crm.person", 30, late),
        ],
        twins=[twin("books.contact", "crm.organization", n) for n in range(3)]
        + [twin("books.invoice", "crm.deal", 1)],
    )


def test_the_system_whose_records_came_first_mints() -> None:
    (clients, invoices) = plan_entities(discovery(books_first=True), CATALOGS_BY_SYSTEM)
    assert clients.minting.ref == "books.contact"
    assert [(c.ref, f) for c, f in clients.copies] == [
        ("crm.organization", "custom_field:Handoff ID")
    ]
    assert "3 record(s) look alike" in clients.why
    assert invoices.minting.ref == "books.invoice" and invoices.name == "invoice"
    assert [c.ref for c, _ in invoices.copies] == ["crm.deal"]
    (clients, _) = plan_entities(discovery(books_first=False), CATALOGS_BY_SYSTEM)
    assert clients.minting.ref == "crm.organization"
    assert [(c.ref, f) for c, f in clients.copies] == [("books.contact", "ContactNumber")]


def test_a_copy_holds_the_canonical_id_in_a_custom_or_an_id_like_field() -> None:
    assert id_field_for(catalogs()["asana"]["project"], "project") == "custom_field:Handoff ID"
    assert id_field_for(catalogs()["xero"]["contact"], "contact") == "ContactNumber"


def test_the_starter_map_is_valid_and_says_why() -> None:
    text = starter_map("Accounts first", CHOICES, discovery(True), CATALOGS_BY_SYSTEM)
    loaded = load_map_text(text)
    assert not [p for p in loaded.problems if p.is_error], loaded.problems
    integration_map = loaded.map
    assert integration_map.systems["crm"].auth == {"api_token": "env:CRM_TOKEN"}
    assert str(integration_map.entities["contact"].canonical_id.minted_by) == "books.contact"
    assert [str(f.target) for f in integration_map.flows] == ["crm.organization", "crm.deal"]
    assert [p.id for p in integration_map.phases] == [1, 2, 3]
    assert "# Minted by books.contact: its first record was created first (2024-01-01)." in text
    assert "      # company_domain: ...           # set this before the first sync" in text
    assert "#   invoice: 300 records, first created 2024-01-01" in text


def test_an_email_platform_is_copied_to_in_its_own_way_and_its_audiences_are_not_customers() -> (
    None
):
    assert id_field_for(catalogs()["mailchimp"]["member"], "member") == "merge_field:HANDOFF"
    with_news = {**CATALOGS_BY_SYSTEM, "news": catalogs()["mailchimp"]}
    found_all = discovery(books_first=True)
    oldest = datetime(2020, 1, 1, tzinfo=UTC)
    found_all.record_types += [found("news.audience", 1, oldest), found("news.member", 50, None)]
    plans = plan_entities(found_all, with_news)
    # the audience, read-only and the oldest, neither mints nor is copied to
    assert all(p.minting.ref != "news.audience" for p in plans)
    copies = {(c.ref, f) for p in plans for c, f in p.copies}
    assert ("news.member", "merge_field:HANDOFF") in copies
    assert not any(ref == "news.audience" for ref, _ in copies)
