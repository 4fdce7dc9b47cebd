"""A Mailchimp member's deep link is its page in the web app, addressed by its ``web_id`` (the
id Mailchimp's web application uses), from the record type's declaration: the connector over
HTTP, the vendor's declaration and the in-process sandbox agree."""

# ruff: noqa: F811  (the fixtures are test_mailchimp's)

from __future__ import annotations

from connectors.base import IdField
from connectors.clock import FrozenClock
from connectors.mailchimp import VENDOR
from connectors.mailchimp.records import RECORD_TYPES
from connectors.mailchimp.sandbox import MailchimpSandbox
from connectors.sandbox.connector import SandboxConnector
from connectors.serving import ServedApp
from tests.integration.connectors.test_mailchimp import (  # noqa: F401
    clock,
    connect,
    item,
    sandbox,
)

HANDOFF = IdField.parse("merge_field:HANDOFF")


def test_the_declaration_links_a_member_by_its_web_id() -> None:
    assert RECORD_TYPES["member"].link_fields == ("web_id",)
    link = VENDOR.deep_link(
        "member", "b1946ac92492d2347c6235b4d2611184", {"server": "us6"}, {"web_id": 4242}
    )
    assert link == "https://us6.admin.mailchimp.com/lists/members/view?id=4242"
    # Without the web_id there is no page to name: the web app's root, never a made-up id.
    assert VENDOR.deep_link("member", "b1946ac9", {"server": "us6"}) == (
        "https://us6.admin.mailchimp.com"
    )


def test_members_read_over_http_link_to_their_page(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    box, _, list_id = sandbox
    seeded = box.add_member(list_id, "ada@example.com")
    clock.advance(1)  # a change this second waits for the next sweep
    mailchimp = connect(sandbox, clock)
    try:
        [record] = mailchimp.list_changed("member", None).records
        page = f"https://us6.admin.mailchimp.com/lists/members/view?id={seeded['web_id']}"
        assert record.url == page
        assert mailchimp.deep_link("member", record.external_id) == page

        [written] = mailchimp.upsert_many([item("C-7", "grace@example.com")])
        created = next(m for m in box.members(list_id) if m["email_address"] == "grace@example.com")
        assert written.record.url.endswith(f"/lists/members/view?id={created['web_id']}")
    finally:
        mailchimp.close()


def test_the_in_process_sandbox_gives_members_a_web_id_and_links_them(
    clock: FrozenClock,
) -> None:
    newsletter = SandboxConnector("newsletter", "mailchimp", clock)
    created = newsletter.create(
        "member", {"email_address": "ada@example.com"}, id_field=HANDOFF, canonical_id="C-1"
    )
    web_id = created.fields["web_id"]
    assert isinstance(web_id, int)
    assert created.url == f"https://us1.admin.mailchimp.com/lists/members/view?id={web_id}"
    assert newsletter.deep_link("member", created.external_id) == created.url

    typed = newsletter.add("member", {"email_address": "bob@example.com", "web_id": 77})
    assert typed.url.endswith("/lists/members/view?id=77")
