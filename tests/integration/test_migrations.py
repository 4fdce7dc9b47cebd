"""The schema is owned by the migrations, and the models agree with them."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

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
