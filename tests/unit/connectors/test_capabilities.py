"""The one connector base and the optional powers the wiring checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from connectors.base import ConfigError, Connector, Record, UpsertItem, UpsertResult
from connectors.capabilities import (
    BatchedRead,
    BatchedUpsert,
    ChangeSignals,
    batch_size,
    capabilities,
    check,
)
from connectors.clock import FrozenClock
from connectors.sandbox.connector import SandboxConnector


def test_the_contract_is_abstract() -> None:
    class Partial(Connector):
        def record_types(self) -> Sequence[str]:
            return []

    with pytest.raises(TypeError, match="abstract"):
        Partial()  # type: ignore[abstract]


def test_a_plain_connector_has_no_powers_and_batches_of_one() -> None:
    sandbox = SandboxConnector("crm", "pipedrive", FrozenClock())
    assert capabilities(sandbox) == frozenset()
    assert batch_size(sandbox) == 1
    assert check(sandbox, "sandbox") is sandbox


def test_batched_upsert_is_a_power_with_its_size() -> None:
    class Batching(SandboxConnector):
        batch_size = 25

        def upsert_many(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
            return super().upsert_many(items)

    connector = Batching("books", "xero", FrozenClock())
    assert isinstance(connector, BatchedUpsert)
    assert capabilities(connector) == {"batched_upsert"}
    assert batch_size(connector) == 25


def test_batched_read_is_a_power_of_its_own() -> None:
    class Reading(SandboxConnector):
        def get_many(self, record_type: str, external_ids: Sequence[str]) -> dict[str, Record]:
            return {i: self.get(record_type, i) for i in external_ids}

    connector = Reading("books", "xero", FrozenClock())
    assert isinstance(connector, BatchedRead)
    assert capabilities(connector) == {"batched_read"}
    assert batch_size(connector) == 1  # reading many is not writing many


def test_change_signals_are_found_through_a_wrapper_too() -> None:
    class Signals(SandboxConnector):
        def change_signal(self, payload: Any) -> str | None:
            return "deal"

        def ensure_change_signals(
            self, url: str, record_types: Sequence[str], *, user: str, password: str
        ) -> list[str]:
            return list(record_types)

    class Wrapper:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    connector = Signals("crm", "pipedrive", FrozenClock())
    assert isinstance(connector, ChangeSignals)
    assert isinstance(Wrapper(connector), ChangeSignals)
    assert not isinstance(
        Wrapper(SandboxConnector("crm", "pipedrive", FrozenClock())), ChangeSignals
    )


def test_the_wiring_refuses_what_is_not_a_connector_or_claims_a_bad_batch() -> None:
    with pytest.raises(ConfigError, match="not a Connector"):
        check(object(), "odd")

    class BadBatch(SandboxConnector):
        batch_size = 0

    with pytest.raises(ConfigError, match="batch_size must be a positive int"):
        check(BadBatch("books", "xero", FrozenClock()), "sandbox")
