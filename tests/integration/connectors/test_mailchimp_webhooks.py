"""Mailchimp audience webhooks as change signals: the connector subscribes a URL carrying the
secret, the sandbox checks the URL with a GET and then posts form-encoded notifications when
members change, and each notification names the record type to poll."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from werkzeug.wrappers import Request, Response

from connectors.base import Permanent
from connectors.clock import FrozenClock
from connectors.mailchimp.records import subscriber_hash
from connectors.mailchimp.sandbox import MailchimpSandbox
from connectors.serving import ServedApp, serve_wsgi
from tests.integration.connectors.test_mailchimp import API_KEY, connect, item
from tests.support.contract import RecordingTransport

SECRET = "s3cret/with&odd=chars"


class Receiver:
    """A webhook endpoint that keeps what it was sent; it answers 200 only with the secret."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []
        self.checks = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        ok = request.args.get("secret") == SECRET
        if request.method == "GET":
            self.checks += 1
        elif ok:
            assert request.mimetype == "application/x-www-form-urlencoded"
            self.posts.append(dict(parse_qsl(request.get_data(as_text=True))))
        return Response("", status=200 if ok else 401)(environ, start_response)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sandbox(clock: FrozenClock) -> Iterator[tuple[MailchimpSandbox, ServedApp, str]]:
    box = MailchimpSandbox(clock=clock, api_key=API_KEY)
    list_id = box.add_list("Newsletter")["id"]
    served = box.serve()
    yield box, served, list_id
    served.shutdown()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ServedApp]]:
    app = Receiver()
    served = serve_wsgi(app)
    yield app, served
    served.shutdown()


def test_member_changes_are_posted_as_mailchimp_does_and_read_as_signals(
    sandbox: tuple[MailchimpSandbox, ServedApp, str],
    clock: FrozenClock,
    receiver: tuple[Receiver, ServedApp],
) -> None:
    box, _, list_id = sandbox
    app, served = receiver
    transport = RecordingTransport()
    connector = connect(sandbox, clock, transport)
    url = f"{served.url}/webhooks/mailchimp"
    assert connector.ensure_change_signals(url, ["member"], user="handoff", password=SECRET) == [
        "member"
    ]
    # Subscribed once: a second start finds the webhook and adds none.
    assert connector.ensure_change_signals(url, ["member"], user="handoff", password=SECRET) == []
    [hook] = box.webhooks.listing(list_id)["webhooks"]
    assert dict(parse_qsl(urlsplit(hook["url"]).query)) == {"secret": SECRET}
    assert app.checks == 1  # Mailchimp's GET before accepting the URL
    assert hook["events"]["profile"] and not hook["events"]["campaign"]
    # The secret never reaches the exchange log's view of the calls.
    assert connector.session.extra_secrets and SECRET in connector.session.extra_secrets

    connector.upsert(item("PD-1", "jane@acme.example", FNAME="Jane"))
    clock.advance(5)
    connector.upsert(item("PD-1", "jane@acme.example", FNAME="Janet"))
    clock.advance(5)
    connector.upsert(item("PD-1", "jane.doe@acme.example"))
    clock.advance(5)
    box.state.put_member(
        list_id, subscriber_hash("jane.doe@acme.example"), {"status": "unsubscribed"}, put=False
    )
    assert box.webhooks.deliver() == [200, 200, 200, 200]
    assert [p["type"] for p in app.posts] == ["subscribe", "profile", "upemail", "unsubscribe"]
    subscribe, profile, upemail, _ = app.posts
    assert subscribe["data[list_id]"] == list_id
    assert subscribe["data[email]"] == "jane@acme.example"
    assert profile["data[merges][FNAME]"] == "Janet"
    assert upemail["data[old_email]"] == "jane@acme.example"
    assert upemail["data[new_email]"] == "jane.doe@acme.example"
    assert all(connector.change_signal(p) == "member" for p in app.posts)


def test_signals_name_only_this_audiences_member_changes(
    sandbox: tuple[MailchimpSandbox, ServedApp, str], clock: FrozenClock
) -> None:
    _, _, list_id = sandbox
    connector = connect(sandbox, clock)
    assert connector.change_signal({"type": "profile", "data[list_id]": list_id}) == "member"
    assert connector.change_signal({"type": "campaign", "data[list_id]": list_id}) is None
    assert connector.change_signal({"type": "profile", "data[list_id]": "another"}) is None
    assert connector.change_signal({}) is None  # an empty post: someone checking the URL
    with pytest.raises(Permanent):
        connector.change_signal({"data[list_id]": list_id})


def test_a_url_that_fails_mailchimps_check_is_refused(
    sandbox: tuple[MailchimpSandbox, ServedApp, str],
    clock: FrozenClock,
    receiver: tuple[Receiver, ServedApp],
) -> None:
    box, _, list_id = sandbox
    _, served = receiver
    connector = connect(sandbox, clock)
    with pytest.raises(Permanent):
        # The wrong secret: the receiver answers the check with 401.
        connector.ensure_change_signals(
            f"{served.url}/webhooks/mailchimp", ["member"], user="handoff", password="guess"
        )
    assert box.webhooks.listing(list_id)["webhooks"] == []
    # A map that reads no members from Mailchimp subscribes nothing.
    assert (
        connector.ensure_change_signals(
            f"{served.url}/webhooks/mailchimp", ["audience"], user="handoff", password=SECRET
        )
        == []
    )
