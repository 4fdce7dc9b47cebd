"""Fixtures for end-to-end tests: a fake Slack and the bot served against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_core.store.uow import SqlUnitOfWorkFactory
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.world import Bot
from tests.unit.engine.support import agency_map


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def bot(slack: FakeSlack, uow_factory: SqlUnitOfWorkFactory) -> Iterator[Bot]:
    world = Bot(agency_map(), uow_factory, slack)
    yield world
    world.close()
