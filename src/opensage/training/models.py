"""Tables of the training capability: jobs and their metric time series."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensage.db.base import Base, new_id, utcnow


class TrainingJob(Base):
    """A training job: what to run, on which data, and what became of it."""

    __tablename__ = "training_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    secondary_status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    algorithm: Mapped[str | None] = mapped_column(String(63), nullable=True)
    script: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    hyperparameters: Mapped[dict[str, str]] = mapped_column(JSON)
    channels: Mapped[dict[str, Any]] = mapped_column(JSON)
    cpu_slots: Mapped[int] = mapped_column(Integer)
    max_runtime_s: Mapped[int] = mapped_column(Integer)
    max_retry_attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    metric_definitions: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    environment: Mapped[dict[str, str]] = mapped_column(JSON)
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    status_transitions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    final_metrics: Mapped[dict[str, float]] = mapped_column(JSON)
    model_artifact: Mapped[str | None] = mapped_column(Text, nullable=True)
    stop_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class TrainingJobTag(Base):
    """One tag of a job, as a row, so that lists filter by tag in SQL on an index."""

    __tablename__ = "training_job_tags"
    __table_args__ = (Index("ix_training_job_tags_key_value", "key", "value"),)

    job_id: Mapped[str] = mapped_column(
        ForeignKey("training_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class TrainingMetric(Base):
    """One value of one metric of one job."""

    __tablename__ = "training_metrics"
    __table_args__ = (Index("ix_training_metrics_job_name_step", "job_id", "name", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    step: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(default=utcnow)
