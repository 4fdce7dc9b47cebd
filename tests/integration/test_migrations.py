"""The schema is owned by the migrations, and the models agree with them."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from sync_core.store.db import current_revision, downgrade, upgrade
from sync_core.store.models import Base
from sync_core.store.search import not_the_index


def test_models_match_the_migrated_schema(db: Engine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # expression indexes cannot be reflected on SQLite
        with db.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_name": not_the_index})
            differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_downgrade_to_nothing_and_back(db: Engine, database_url: str) -> None:
    downgrade(database_url, "base")
    assert not set(inspect(db).get_table_names()) & set(Base.metadata.tables)
    upgrade(database_url, "head")
    assert set(Base.metadata.tables) <= set(inspect(db).get_table_names())
    assert current_revision(db) is not None


def test_a_store_behind_the_code_is_refused_with_the_command_that_upgrades_it(
    db: Engine, database_url: str
) -> None:
    """Code that needs a newer schema (an index its claim query names) says so before it runs."""
    from bot.bootstrap import NotMigrated, open_database
    from bot.settings import Settings
    from sync_core.store.db import known_revisions

    head, _ = known_revisions()
    downgrade(database_url, "-1")
    behind = current_revision(db)
    settings = Settings.from_env({}, database_url=database_url)
    with pytest.raises(NotMigrated, match=f"holds schema revision {behind}.*needs {head}"):
        open_database(settings)
    with pytest.raises(NotMigrated, match="handoff db upgrade"):
        open_database(settings)
    open_database(settings, auto_upgrade=True).dispose()
    assert current_revision(db) == head
    with db.begin() as connection:  # as a newer Handoff would leave it
        connection.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
    with pytest.raises(NotMigrated, match="newer than this version of Handoff knows"):
        open_database(settings)
    with db.begin() as connection:
        connection.execute(text(f"UPDATE alembic_version SET version_num = '{head}'"))
