"""API keys (hash, display prefix, expiry, revocation, last use, request count), their audit
trail, and the key each job came through.

Revision ID: 0003_api_keys
Revises: 0002_job_removed_at
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from glbcompress.service.db.models import UTCDateTime

revision = "0003_api_keys"
down_revision = "0002_job_removed_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_keys_user_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "api_key_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_api_key_events_key_id_api_keys", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_key_events_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_key_events"),
    )
    op.create_index("ix_api_key_events_key_id", "api_key_events", ["key_id"])
    op.create_index("ix_api_key_events_user_id_at", "api_key_events", ["user_id", "at"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
        batch.create_index("ix_jobs_api_key_id", ["api_key_id"])
        batch.create_foreign_key(
            "fk_jobs_api_key_id_api_keys", "api_keys", ["api_key_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("fk_jobs_api_key_id_api_keys", type_="foreignkey")
        batch.drop_index("ix_jobs_api_key_id")
        batch.drop_column("api_key_id")
    op.drop_table("api_key_events")
    op.drop_table("api_keys")
