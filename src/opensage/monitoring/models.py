"""Tables of the monitoring capability: baselines, schedules and their executions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opensage.db.base import Base, new_id, utcnow


class MonitoringBaseline(Base):
    """Statistics and suggested constraints of a dataset version (and of a model's
    predictions on it); the reference samples live in the artifact store."""

    __tablename__ = "monitoring_baselines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True, index=True)
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    dataset: Mapped[str] = mapped_column(String(63))
    dataset_version: Mapped[int] = mapped_column(Integer)
    split: Mapped[str | None] = mapped_column(String(64), nullable=True)
    label: Mapped[str | None] = mapped_column(Text, nullable=True)
    features: Mapped[list[str]] = mapped_column(JSON)
    model_group: Mapped[str | None] = mapped_column(String(63), nullable=True)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    problem_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    transform_job: Mapped[str | None] = mapped_column(String(63), nullable=True)
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON)
    constraints: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference: Mapped[str] = mapped_column(Text)
    """Key of the reference samples (Parquet) in the artifact store."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MonitoringSchedule(Base):
    """Checks of an endpoint's captured traffic against a baseline, every so often."""

    __tablename__ = "monitoring_schedules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True, index=True)
    endpoint: Mapped[str] = mapped_column(String(63), index=True)
    baseline: Mapped[str] = mapped_column(String(63), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    every_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cron: Mapped[str | None] = mapped_column(String(255), nullable=True)
    problem_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    retraining: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    next_run_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    last_window_end: Mapped[datetime | None] = mapped_column(nullable=True)
    executions_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MonitoringExecution(Base):
    """One run of a schedule over one window of traffic, and its report."""

    __tablename__ = "monitoring_executions"
    __table_args__ = (UniqueConstraint("schedule_id", "number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("monitoring_schedules.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime] = mapped_column()
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    violations_count: Mapped[int] = mapped_column(Integer, default=0)
    alert: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    retraining: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
