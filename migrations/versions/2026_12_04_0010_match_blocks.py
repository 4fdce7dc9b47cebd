"""match_blocks and match_records.normalised: reconciling two large sides in the store

``match_blocks`` keeps each record's block keys, so the records sharing a key are paired by a
join instead of in memory. ``match_records.normalised`` keeps the normalised name and keys, so
reading a record back does not normalise it again (NULL in the rows kept before: they are
normalised when read). A match read left unfinished before the upgrade kept records without
block keys: its checkpoints (``cursors`` rows named ``<record type>#match:<entity>``) are
deleted, and the next ``handoff match`` reads from the start.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_blocks",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("system", sa.String(100), nullable=False),
        sa.Column("record_type", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "entity", "system", "record_type", "external_id"),
    )
    op.create_index(
        "ix_match_blocks_record",
        "match_blocks",
        ["external_id", "system", "record_type", "entity"],
    )
    with op.batch_alter_table("match_records") as batch:
        batch.add_column(sa.Column("normalised", sa.JSON(), nullable=True))
    op.execute("DELETE FROM cursors WHERE record_type LIKE '%#match:%'")


def downgrade() -> None:
    with op.batch_alter_table("match_records") as batch:
        batch.drop_column("normalised")
    op.drop_index("ix_match_blocks_record", table_name="match_blocks")
    op.drop_table("match_blocks")
