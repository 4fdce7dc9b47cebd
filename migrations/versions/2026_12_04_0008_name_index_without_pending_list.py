"""name index without a pending list: PostgreSQL's trigram index takes each change at once

GIN indexes keep new entries in a pending list (up to 4 MB) until a vacuum or that limit
moves them into the tree, and every search reads the whole list. At a million customers the
list held 471 pages, about half of what a full-name lookup read. ``fastupdate = off`` indexes
each change as it is made (names change one customer at a time) and the list is emptied now.
SQLite's FTS5 table has no such list: nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 03:00:00
"""

from __future__ import annotations

from alembic import op

from sync_core.store import search

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    search.pg_without_pending_list(op.get_bind())


def downgrade() -> None:
    search.pg_with_pending_list(op.get_bind())
