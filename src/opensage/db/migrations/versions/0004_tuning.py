"""Tuning jobs and their trials.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opensage.db.base import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tuning_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("completion_reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("training_job_definition", sa.JSON(), nullable=False),
        sa.Column("script", sa.JSON(), nullable=True),
        sa.Column("parameter_ranges", sa.JSON(), nullable=False),
        sa.Column("objective_metric", sa.String(255), nullable=False),
        sa.Column("objective_type", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("max_trials", sa.Integer(), nullable=False),
        sa.Column("max_parallel_trials", sa.Integer(), nullable=False),
        sa.Column("max_runtime_s", sa.Integer(), nullable=True),
        sa.Column("early_stopping", sa.String(16), nullable=False),
        sa.Column("completion_criteria", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("warm_start_from", sa.JSON(), nullable=False),
        sa.Column("warm_start_trials", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tuning_jobs")),
    )
    op.create_index(op.f("ix_tuning_jobs_name"), "tuning_jobs", ["name"], unique=True)
    op.create_index(op.f("ix_tuning_jobs_status"), "tuning_jobs", ["status"])
    op.create_index(op.f("ix_tuning_jobs_created_at"), "tuning_jobs", ["created_at"])
    op.create_table(
        "tuning_trials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tuning_job_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("training_job_name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("objective_value", sa.Float(), nullable=True),
        sa.Column("intermediate_values", sa.JSON(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tuning_job_id"],
            ["tuning_jobs.id"],
            name=op.f("fk_tuning_trials_tuning_job_id_tuning_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tuning_trials")),
        sa.UniqueConstraint("tuning_job_id", "number", name=op.f("uq_tuning_trials_tuning_job_id")),
    )
    op.create_index(op.f("ix_tuning_trials_tuning_job_id"), "tuning_trials", ["tuning_job_id"])
    op.create_index(
        op.f("ix_tuning_trials_training_job_name"), "tuning_trials", ["training_job_name"]
    )


def downgrade() -> None:
    op.drop_table("tuning_trials")
    op.drop_table("tuning_jobs")
