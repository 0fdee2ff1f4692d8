"""Training job tags as rows, so that lists filter by tag in SQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tags = op.create_table(
        "training_job_tags",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["training_jobs.id"],
            name=op.f("fk_training_job_tags_job_id_training_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "key", name=op.f("pk_training_job_tags")),
    )
    op.create_index("ix_training_job_tags_key_value", "training_job_tags", ["key", "value"])
    jobs = sa.table("training_jobs", sa.column("id", sa.String), sa.column("tags", sa.JSON))
    rows = [
        {"job_id": job_id, "key": str(key)[:128], "value": str(value)[:256]}
        for job_id, job_tags in op.get_bind().execute(sa.select(jobs.c.id, jobs.c.tags))
        for key, value in (job_tags or {}).items()
    ]
    if rows:
        op.bulk_insert(tags, rows)


def downgrade() -> None:
    op.drop_table("training_job_tags")
