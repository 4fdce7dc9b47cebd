"""alert_outbox

Every post, redraw and escalation of an alert's Slack message is a row, sent by one sender
on the leader process (paced, retried, coalesced per alert).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_outbox") as batch_op:
        batch_op.create_index("ix_alert_outbox_pending", ["sent_at", "due_at"], unique=False)
        batch_op.create_index("ix_alert_outbox_alert", ["alert_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_outbox") as batch_op:
        batch_op.drop_index("ix_alert_outbox_alert")
        batch_op.drop_index("ix_alert_outbox_pending")
    op.drop_table("alert_outbox")
