"""Tables of the registry: model groups and their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opensage.db.base import Base, new_id, utcnow


class ModelGroup(Base):
    """A named line of models (e.g. every exam-score regressor), versioned."""

    __tablename__ = "model_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True, index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ModelVersion(Base):
    """One immutable model: its files, how to serve it, its metrics and lineage."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("group_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("model_groups.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    approval_status: Mapped[str] = mapped_column(String(32))
    artifact: Mapped[str] = mapped_column(Text)
    """Prefix in the artifact store holding the model files (a copy: immutable)."""
    algorithm: Mapped[str | None] = mapped_column(String(63), nullable=True)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON)
    training_job: Mapped[str | None] = mapped_column(String(63), nullable=True)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
