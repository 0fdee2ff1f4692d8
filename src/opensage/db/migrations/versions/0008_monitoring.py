"""Monitoring: baselines, schedules and their executions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opensage.db.base import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_baselines",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.Column("split", sa.String(64), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("model_group", sa.String(63), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("problem_type", sa.String(32), nullable=True),
        sa.Column("transform_job", sa.String(63), nullable=True),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitoring_baselines_name", "monitoring_baselines", ["name"], unique=True)
    op.create_index("ix_monitoring_baselines_created_at", "monitoring_baselines", ["created_at"])
    op.create_table(
        "monitoring_schedules",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("endpoint", sa.String(63), nullable=False),
        sa.Column("baseline", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("every_s", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(255), nullable=True),
        sa.Column("problem_type", sa.String(32), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("retraining", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("next_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_window_end", UTCDateTime(), nullable=True),
        sa.Column("executions_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_schedules")),
    )
    for column, unique in (
        ("name", True),
        ("endpoint", False),
        ("baseline", False),
        ("status", False),
        ("next_run_at", False),
        ("created_at", False),
    ):
        op.create_index(
            op.f(f"ix_monitoring_schedules_{column}"),
            "monitoring_schedules",
            [column],
            unique=unique,
        )
    op.create_table(
        "monitoring_executions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("schedule_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("violations_count", sa.Integer(), nullable=False),
        sa.Column("alert", sa.JSON(), nullable=True),
        sa.Column("retraining", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["schedule_id"], ["monitoring_schedules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "number"),
    )
    for column in ("schedule_id", "status", "created_at"):
        op.create_index(
            op.f(f"ix_monitoring_executions_{column}"), "monitoring_executions", [column]
        )


def downgrade() -> None:
    op.drop_table("monitoring_executions")
    op.drop_table("monitoring_schedules")
    op.drop_table("monitoring_baselines")
