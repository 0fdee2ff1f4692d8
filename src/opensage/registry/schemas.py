"""Pydantic shapes of the registry API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opensage.names import ResourceName


class ApprovalStatus(StrEnum):
    """SageMaker's ``ModelApprovalStatus``: only approved versions deploy unless forced."""

    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class ModelGroupCreate(BaseModel):
    """Create a model group."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    description: str = Field(default="", max_length=1024)


class ModelGroupOut(BaseModel):
    """A model group with its newest version number."""

    name: str
    description: str
    latest_version: int | None
    created_at: datetime


class ModelVersionCreate(BaseModel):
    """Register a model: from a completed training job, or uploaded model files.

    ``source`` is ``upload:<id>`` of a ``.tar.gz`` holding the model files: a built-in's
    (with its ``manifest.json``), or any model with SageMaker-style inference code in
    ``code/inference.py`` (``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn``).
    """

    model_config = ConfigDict(extra="forbid")

    training_job: ResourceName | None = None
    source: str | None = Field(default=None, max_length=1000)
    description: str = Field(default="", max_length=1024)
    approval_status: ApprovalStatus = ApprovalStatus.PENDING

    @model_validator(mode="after")
    def _one_source(self) -> ModelVersionCreate:
        if (self.training_job is None) == (self.source is None):
            raise ValueError("give exactly one of training_job or source")
        return self


class ApprovalUpdate(BaseModel):
    """Approve or reject a version."""

    model_config = ConfigDict(extra="forbid")

    approval_status: ApprovalStatus
    description: str | None = Field(default=None, max_length=1024)


class ModelVersionOut(BaseModel):
    """One version of a model group."""

    model_group: str
    version: int
    approval_status: ApprovalStatus
    algorithm: str | None
    problem_type: str | None
    feature_names: list[str]
    metrics: dict[str, float]
    training_job: str | None
    lineage: dict[str, Any]
    description: str
    artifact_url: str
    created_at: datetime
