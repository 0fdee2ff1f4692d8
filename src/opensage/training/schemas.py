"""Pydantic shapes of the training API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opensage.names import ResourceName
from opensage.tags import Tags
from opensage.training.states import SecondaryStatus, TrainingJobStatus

HyperparameterValue = str | int | float | bool


def hyperparameter_strings(values: dict[str, Any]) -> dict[str, str]:
    """Hyperparameters as SageMaker passes them: every value a string."""
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in values.items()}


class DatasetChannel(BaseModel):
    """A channel fed from a platform dataset (optionally one version and one split)."""

    model_config = ConfigDict(extra="forbid")

    dataset: ResourceName
    version: int | None = Field(default=None, ge=1)
    split: str | None = Field(default=None, max_length=64)


class UriChannel(BaseModel):
    """A channel fed from files: an s3:// prefix or a local path (auth off only)."""

    model_config = ConfigDict(extra="forbid")

    uri: str = Field(min_length=1)
    content_type: str = Field(default="text/csv", max_length=127)


Channel = DatasetChannel | UriChannel


class MetricDefinition(BaseModel):
    """A metric read from the job's log lines: the regex's first group is the value."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    regex: str = Field(min_length=1, max_length=1000)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if pattern.groups < 1:
            raise ValueError("the regex needs one capture group for the value")
        return value


class ScriptSpec(BaseModel):
    """The user's own training code: a script file or a source directory (.tar.gz)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1,
        description="`upload:<id>` of a .py file or a .tar.gz of a source directory "
        "(or a path on the server's machine while auth is off).",
    )
    entry_point: str | None = Field(
        default=None,
        max_length=255,
        description="The script to run inside a source directory; default: the file itself.",
    )


class TrainingJobDefinition(BaseModel):
    """What a training job runs, on which data and resources: everything but its name and
    tags (a tuning job's trials share one definition)."""

    model_config = ConfigDict(extra="forbid")

    algorithm: str | None = Field(default=None, description="A built-in, e.g. xgboost.")
    script: ScriptSpec | None = None
    hyperparameters: dict[str, HyperparameterValue] = Field(default_factory=dict)
    channels: dict[str, Channel] = Field(default_factory=dict)
    cpu_slots: int = Field(default=1, ge=1, le=1024, description="CPU cores for the job.")
    max_runtime_s: int = Field(default=24 * 3600, ge=1, le=28 * 24 * 3600)
    max_retry_attempts: int = Field(default=0, ge=0, le=30)
    metric_definitions: list[MetricDefinition] = Field(default_factory=list, max_length=40)
    environment: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> TrainingJobDefinition:
        if (self.algorithm is None) == (self.script is None):
            raise ValueError("give exactly one of algorithm (a built-in) or script")
        for channel in self.channels:
            if not re.fullmatch(r"[A-Za-z0-9\.\-_]{1,64}", channel):
                raise ValueError(f"channel name {channel!r} must be letters, digits, . - _")
        for key in self.environment:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,511}", key):
                raise ValueError(f"environment variable name {key!r} is not valid")
        return self


class TrainingJobCreate(TrainingJobDefinition):
    """Submit a training job."""

    name: ResourceName
    tags: Tags = Field(default_factory=dict)


class StatusTransition(BaseModel):
    """When a job entered (and left) a secondary status."""

    status: SecondaryStatus
    start_time: datetime
    end_time: datetime | None = None
    message: str = ""


class TrainingJobOut(BaseModel):
    """A training job as the API shows it."""

    name: str
    status: TrainingJobStatus
    secondary_status: SecondaryStatus
    failure_reason: str | None
    algorithm: str | None
    script: dict[str, Any] | None
    hyperparameters: dict[str, str]
    channels: dict[str, Any]
    cpu_slots: int
    max_runtime_s: int
    max_retry_attempts: int
    attempt: int
    metric_definitions: list[MetricDefinition]
    environment: dict[str, str]
    tags: dict[str, str]
    status_transitions: list[StatusTransition]
    final_metrics: dict[str, float]
    model_artifact_url: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class MetricPoint(BaseModel):
    """One value of a metric."""

    name: str
    step: int
    value: float
    at: datetime


class LogChunk(BaseModel):
    """A piece of a job's log and where the next read starts."""

    text: str
    next_offset: int
    complete: bool = Field(description="True when the job has ended and the log is whole.")
