"""The kit's one OAuth refresh: the refresh-token grant with the app's credentials sent the
way each vendor's token endpoint wants them."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from connectors.base import ConfigError
from connectors.clock import FrozenClock
from connectors.http import VendorHttp
from connectors.oauth import ClientAuth, RefreshTokenAuth
from connectors.tokens import MemoryTokenStore


class TokenEndpoint:
    """A token endpoint that hands out numbered tokens and remembers what it was sent."""

    def __init__(self, *, rotate: bool) -> None:
        self.rotate = rotate
        self.sent: list[tuple[dict[str, list[str]], str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        self.sent.append((form, request.headers.get("Authorization")))
        body: dict[str, Any] = {"access_token": f"access-{len(self.sent)}", "expires_in": 3600}
        if self.rotate:
            body["refresh_token"] = f"refresh-{len(self.sent)}"
        return httpx.Response(200, json=body)


def _auth(endpoint: TokenEndpoint, client_auth: ClientAuth, *, rotates: bool) -> RefreshTokenAuth:
    clock = FrozenClock()
    identity = VendorHttp(
        "vendor-identity",
        "https://identity.example",
        clock=clock,
        transport=httpx.MockTransport(endpoint),
    )
    return RefreshTokenAuth(
        client_id="app",
        client_secret="s3cret",
        refresh_token="refresh-0",
        store=MemoryTokenStore(),
        identity=identity,
        token_path="/oauth/token",
        clock=clock,
        system="vendor",
        client_auth=client_auth,
        rotates=rotates,
    )


def test_basic_client_auth_and_a_rotated_refresh_token() -> None:
    endpoint = TokenEndpoint(rotate=True)
    auth = _auth(endpoint, "basic", rotates=True)
    assert auth.access_token() == "access-1"
    auth.force_refresh("access-1")
    (first, header), (second, _) = endpoint.sent
    assert header == "Basic " + base64.b64encode(b"app:s3cret").decode()
    assert "client_secret" not in first
    assert first["refresh_token"] == ["refresh-0"]
    assert second["refresh_token"] == ["refresh-1"]  # the rotated one, saved before use


def test_body_client_auth_and_a_vendor_that_does_not_rotate() -> None:
    endpoint = TokenEndpoint(rotate=False)
    auth = _auth(endpoint, "body", rotates=False)
    assert auth.access_token() == "access-1"
    auth.force_refresh("access-1")
    (first, header), (second, _) = endpoint.sent
    assert header is None
    assert first["client_id"] == ["app"] and first["client_secret"] == ["s3cret"]
    assert second["refresh_token"] == ["refresh-0"]  # still the one it was given


def test_a_rotating_vendor_answering_without_a_refresh_token_is_a_config_error() -> None:
    auth = _auth(TokenEndpoint(rotate=False), "basic", rotates=True)
    with pytest.raises(ConfigError, match="token response lacks 'refresh_token'"):
        auth.access_token()
