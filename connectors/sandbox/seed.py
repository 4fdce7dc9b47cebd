"""Seed data for the sandboxes (``options: {seed: ...}``), in-process and HTTP alike.

``agency``: the classic mess of one agency's customers. "Acme Ltd" is a won deal in the CRM,
"Acme Limited" was typed into accounting by hand (with an accounts address at Acme's domain),
the project tool holds a project made by hand from the deal, and the email platform a
spreadsheet import; a few dozen more customers sit in various states. Every hand-typed twin
carries a name and a second key that agree, so reconciliation links them without review.

``agency-review``: the same agency, except that accounts typed "Stark Industries Inc" with no
email: a name alone, which a person reviews before phase 1 can go live.

``accounting``: an accounting-first business. Its customers are contacts in Xero first (the
canonical ID is minted there); the CRM is sparse: a few organizations sales typed in by hand,
under slightly different names, and nothing in the project tool.

The stories live here; each vendor package turns them into its own records (``VENDOR.seed`` for
the in-process sandbox, ``demo_sandbox`` for HTTP).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.sandbox.store import SandboxStore

COMPANIES: list[tuple[str, str, str, float, str]] = [
    # (organisation, deal title, status, value, contact email)
    ("Acme Ltd", "Website Redesign", "won", 18000, "jane@acme.example"),
    ("Globex Corporation", "Brand Refresh", "won", 24000, "hank@globex.example"),
    ("Initech", "Intranet Migration", "open", 9500, "bill@initech.example"),
    ("Umbrella Health", "Patient Portal", "won", 41000, "alice@umbrella.example"),
    ("Hooli", "Growth Campaign", "lost", 12000, "gavin@hooli.example"),
    ("Stark Industries", "Product Launch Site", "won", 56000, "pepper@stark.example"),
    ("Wayne Enterprises", "Annual Report", "open", 15000, "lucius@wayne.example"),
    ("Wonka Sweets", "E-commerce Build", "won", 33000, "charlie@wonka.example"),
    ("Soylent Foods", "Packaging Design", "open", 7000, "sol@soylent.example"),
    ("Tyrell Robotics", "Investor Microsite", "won", 21000, "rachael@tyrell.example"),
    ("Cyberdyne Systems", "Recruitment Campaign", "lost", 8000, "miles@cyberdyne.example"),
    ("Oscorp", "Design System", "open", 27000, "norman@oscorp.example"),
    ("Vandelay Industries", "Catalogue Redesign", "won", 6400, "art@vandelay.example"),
    ("Pied Piper", "Developer Docs", "won", 14500, "richard@piedpiper.example"),
    ("Bluth Company", "Model Home Brochure", "open", 5200, "michael@bluth.example"),
    ("Dunder Mifflin", "Paper Shop Relaunch", "won", 11800, "pam@dundermifflin.example"),
    ("Prestige Worldwide", "Event Microsite", "lost", 3000, "brennan@prestige.example"),
    ("Massive Dynamic", "Research Portal", "open", 47000, "nina@massive.example"),
    ("Gringotts Bank", "Mobile App Design", "won", 52000, "griphook@gringotts.example"),
    ("Monsters Inc", "Safety Training Videos", "open", 9900, "mike@monsters.example"),
    ("Nakatomi Trading", "Annual Gala Site", "won", 8800, "holly@nakatomi.example"),
    ("Rekall", "Memory Campaign", "open", 16500, "quaid@rekall.example"),
    ("Weyland-Yutani", "Careers Portal", "won", 38000, "ripley@weyland.example"),
    ("Aperture Science", "Test Subject Recruitment", "lost", 4500, "glados@aperture.example"),
    ("Black Mesa", "Visitor Centre Kiosk", "open", 12500, "gordon@blackmesa.example"),
    ("Los Pollos Hermanos", "Franchise Website", "won", 9700, "gus@pollos.example"),
    ("Sterling Cooper", "Agency Rebrand", "open", 29000, "don@sterling.example"),
    ("Krusty Krab", "Menu Boards", "won", 2400, "eugene@krustykrab.example"),
    ("Cogswell Cogs", "Sprocket Configurator", "open", 13300, "spacely@cogswell.example"),
    ("Ollivanders", "Online Wand Fitting", "won", 7600, "garrick@ollivanders.example"),
]


AGENCY, AGENCY_REVIEW, ACCOUNTING = "agency", "agency-review", "accounting"
SEEDS = (AGENCY, AGENCY_REVIEW, ACCOUNTING)
# the seeds that tell the agency's story (they differ in accounts only)
AGENCY_SEEDS = (AGENCY, AGENCY_REVIEW)

# (name, email, tax number) of the accounting-first business's customers in Xero
CUSTOMERS: list[tuple[str, str, str]] = [
    ("Northwind Traders Limited", "accounts@northwind.example", "GB123456789"),
    ("Contoso Pty Ltd", "ap@contoso.example", "AU51824753556"),
    ("Fabrikam Inc", "billing@fabrikam.example", ""),
    ("Tailspin Toys", "finance@tailspin.example", ""),
    ("Wide World Importers", "accounts@wideworld.example", "GB987654321"),
    ("Adventure Works Cycles", "ap@adventure-works.example", ""),
    ("Litware Ltd", "invoices@litware.example", ""),
    ("Proseware Inc", "accounts@proseware.example", ""),
    ("Coho Winery", "office@cohowinery.example", ""),
    ("Lucerne Publishing", "ap@lucernepublishing.example", ""),
]

# Typed into the CRM by hand before Handoff: the same customers under other names.
CRM_TYPED: list[tuple[str, str]] = [
    # (organization, its address)
    ("Northwind Traders Ltd", "12 Harbour Road, Bristol"),
    ("Contoso", "1 George Street, Sydney"),
    ("Fabrikam Incorporated", ""),
]


def seed_data(seed: str, emulates: str, store: SandboxStore, now: datetime) -> None:
    """Fill ``store`` with seed ``seed`` for the vendor it emulates (each vendor package declares
    its part as ``VENDOR.seed``; an unknown seed, or a vendor without one: empty)."""
    from connectors.registry import vendor

    if seed not in SEEDS:
        return
    fill = vendor(emulates).seed
    if fill is not None:
        fill(seed, store, now)


def seed_agency(emulates: str, store: SandboxStore, now: datetime) -> None:
    """Fill ``store`` with the agency demo data of the vendor it emulates."""
    seed_data("agency", emulates, store, now)


def demo_start(now: datetime) -> datetime:
    """When the demo's story begins: a month before ``now``."""
    return now - timedelta(days=30)
