"""Jobs removed from the history by their owner stay as hidden rows (for the usage figures).

Revision ID: 0002_job_removed_at
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from glbcompress.service.db.models import UTCDateTime

revision = "0002_job_removed_at"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("removed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("removed_at")
