"""match_records, match_proposals and match_decisions

Identity reconciliation: ``match_records`` keeps each record read for matching (its match
keys, name and address in the vendor's app); ``match_proposals`` keeps each probable match
between a customer's minting record and a record in a copy system (score, reasons, status);
``match_decisions`` keeps every decision on one (accept, reject, unsure, applied, unlinked),
with who made it, when and why.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "match_records",
        sa.Column("entity", sa.String(length=100), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("record_type", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=500), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entity", "system", "record_type", "external_id"),
    )
    op.create_table(
        "match_proposals",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=100), nullable=False),
        sa.Column("canonical_id", sa.String(length=200), nullable=False),
        sa.Column("source_system", sa.String(length=100), nullable=False),
        sa.Column("source_record_type", sa.String(length=100), nullable=False),
        sa.Column("source_external_id", sa.String(length=200), nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=True),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("record_type", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "entity", "canonical_id", "system", "record_type", "external_id", name="uq_match_pair"
        ),
    )
    op.create_index("ix_match_proposals_status", "match_proposals", ["entity", "status"])
    op.create_table(
        "match_decisions",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("proposal_id", _BIG_ID, nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["match_proposals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_match_decisions_proposal", "match_decisions", ["proposal_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_match_decisions_proposal", table_name="match_decisions")
    op.drop_table("match_decisions")
    op.drop_index("ix_match_proposals_status", table_name="match_proposals")
    op.drop_table("match_proposals")
    op.drop_table("match_records")
