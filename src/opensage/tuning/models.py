"""Tables of the tuning capability: tuning jobs and their trials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opensage.db.base import Base, new_id, utcnow


class TuningJob(Base):
    """A search: the training job definition, the space, the objective and the budget."""

    __tablename__ = "tuning_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    completion_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """Once decided, the status the job ends in when its running trials have ended."""
    training_job_definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    script: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The user's code, staged once in the artifact store for every trial."""
    parameter_ranges: Mapped[dict[str, Any]] = mapped_column(JSON)
    objective_metric: Mapped[str] = mapped_column(String(255))
    objective_type: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(16))
    max_trials: Mapped[int] = mapped_column(Integer)
    max_parallel_trials: Mapped[int] = mapped_column(Integer)
    max_runtime_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    early_stopping: Mapped[str] = mapped_column(String(16))
    completion_criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    warm_start_from: Mapped[list[str]] = mapped_column(JSON)
    warm_start_trials: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    stop_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class TuningTrial(Base):
    """One trial of a search and the training job that ran it."""

    __tablename__ = "tuning_trials"
    __table_args__ = (UniqueConstraint("tuning_job_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tuning_job_id: Mapped[str] = mapped_column(
        ForeignKey("tuning_jobs.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    training_job_name: Mapped[str] = mapped_column(String(63), index=True)
    status: Mapped[str] = mapped_column(String(16))
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The searched hyperparameters' values, typed (the training job has them as strings)."""
    objective_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    intermediate_values: Mapped[dict[str, float]] = mapped_column(JSON)
    """Objective values by step, as fed to early stopping (JSON keys are strings)."""
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
