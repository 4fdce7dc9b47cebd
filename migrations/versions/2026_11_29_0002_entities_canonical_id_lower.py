"""index entities by lower(canonical_id)

/where looks a customer up by canonical ID case-insensitively (``pd-42`` finds ``PD-42``);
without this index every lookup scanned the whole entities table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entities_canonical_id_lower", "entities", [sa.text("lower(canonical_id)")])


def downgrade() -> None:
    op.drop_index("ix_entities_canonical_id_lower", table_name="entities")
