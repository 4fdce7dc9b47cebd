"""name search index: pg_trgm GIN on PostgreSQL, an FTS5 trigram table on SQLite; links by
external id

``/where``, its suggestions and the identity matcher look customers up by a piece of their
name (``search_name LIKE '%text%'``), which scanned the entities table: 170 ms at a million
customers. The trigram index answers from the rows sharing the text's trigrams (see
``sync_core/store/search.py``). Where it cannot be made (``CREATE EXTENSION pg_trgm`` refused
for lack of rights, SQLite older than 3.34) the migration logs a warning and goes on: queries
then scan as before.

``/where`` also looks a query up as a system's own id (a Xero ContactID) in every system:
``links.external_id`` alone had no index (the unique one leads with the system), so PostgreSQL
read every link, 500 ms at three million.

On SQLite the index is a table kept in step by triggers on ``entities``: a later migration
that recreates ``entities`` (batch mode) must call ``search.rebuild_sqlite`` after it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 22:30:00
"""

from __future__ import annotations

from alembic import op

from sync_core.store import search

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_links_external_id", "links", ["external_id"])
    search.create(op.get_bind())


def downgrade() -> None:
    search.drop(op.get_bind())
    op.drop_index("ix_links_external_id", table_name="links")
