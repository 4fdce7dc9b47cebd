"""credentials.api_domain: the API host a vendor names with its OAuth tokens

Pipedrive answers a token request with ``api_domain``, the company's own API host, which every
later call should use. Kept beside the tokens (not encrypted: it is no secret), every process
that loads the tokens from the store calls that host, not only the one that refreshed them.
Rows written before have none until their next refresh.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("api_domain", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("api_domain")
