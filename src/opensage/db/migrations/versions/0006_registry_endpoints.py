"""Model registry (groups, versions) and endpoints.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opensage.db.base import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_groups",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_groups")),
    )
    op.create_index(op.f("ix_model_groups_name"), "model_groups", ["name"], unique=True)
    op.create_index(op.f("ix_model_groups_created_at"), "model_groups", ["created_at"])
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("approval_status", sa.String(32), nullable=False),
        sa.Column("artifact", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.String(63), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("training_job", sa.String(63), nullable=True),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["model_groups.id"],
            name=op.f("fk_model_versions_group_id_model_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("group_id", "version", name=op.f("uq_model_versions_group_id")),
    )
    op.create_index(op.f("ix_model_versions_group_id"), "model_versions", ["group_id"])
    op.create_table(
        "endpoints",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoints")),
    )
    op.create_index(op.f("ix_endpoints_name"), "endpoints", ["name"], unique=True)
    op.create_index(op.f("ix_endpoints_status"), "endpoints", ["status"])
    op.create_index(op.f("ix_endpoints_created_at"), "endpoints", ["created_at"])


def downgrade() -> None:
    op.drop_table("endpoints")
    op.drop_table("model_versions")
    op.drop_table("model_groups")
