"""name index with a short pending list: PostgreSQL's trigram index reads at most 64 kB of it

GIN indexes keep new entries in an unsorted pending list until a vacuum or the list's limit
(4 MB by default) moves them into the index proper, and every search reads the whole list. At
a million customers the list held 471 pages, about half of what a full-name lookup read. The
limit becomes 64 kB (8 pages; a new name costs 14 µs to index instead of 10, where no list at
all would cost 56) and the list is emptied now. SQLite's FTS5 table has no such list: nothing
changes there.

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
    search.pg_short_pending_list(op.get_bind())


def downgrade() -> None:
    search.pg_default_pending_list(op.get_bind())
