"""Pydantic shapes of the batch transform API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opensage.names import ResourceName
from opensage.tags import Tags
from opensage.transform.states import TransformJobStatus

FileContentType = Literal["text/csv", "application/jsonlines", "application/x-parquet"]
OutputContentType = Literal["text/csv", "application/jsonlines"]
CSV: Final = "text/csv"
JSONLINES: Final = "application/jsonlines"
PARQUET: Final = "application/x-parquet"


class JoinSource(StrEnum):
    """SageMaker's ``DataProcessing.JoinSource``: whether output rows carry the input's."""

    NONE = "none"
    INPUT = "input"


class ModelRef(BaseModel):
    """The registered model version that predicts."""

    model_config = ConfigDict(extra="forbid")

    model_group: ResourceName
    model_version: int | None = Field(
        default=None, ge=1, description="Default: the group's newest approved version."
    )


class DatasetInput(BaseModel):
    """Rows of a platform dataset (optionally one version and one split)."""

    model_config = ConfigDict(extra="forbid")

    dataset: ResourceName
    version: int | None = Field(default=None, ge=1, description="Default: the latest.")
    split: str | None = Field(default=None, max_length=64)


class UriInput(BaseModel):
    """Files to predict on: an s3:// object or prefix, or a local path (auth off only).

    ``text/csv`` files have no header row and hold the features only, in the model's
    order (SageMaker's rule); ``application/jsonlines`` files hold one JSON object per
    line keyed by feature name (or ``{"features": [...]}``).
    """

    model_config = ConfigDict(extra="forbid")

    uri: str = Field(min_length=1, max_length=2000)
    content_type: FileContentType = CSV
    split_type: Literal["Line"] = Field(
        default="Line", description="How files split into records: one per line."
    )


TransformInput = DatasetInput | UriInput


class TransformOutput(BaseModel):
    """Where predictions go: a new dataset, or files under a prefix of the artifact store."""

    model_config = ConfigDict(extra="forbid")

    dataset: ResourceName | None = Field(
        default=None, description="Name of a new dataset made of the predictions."
    )
    path: str | None = Field(
        default=None,
        max_length=1000,
        description="A key prefix in the artifact store; one `<input file>.out` per input "
        "file. Default (without dataset): transform-jobs/<name>/output.",
    )
    accept: OutputContentType = Field(
        default=CSV, description="Format of the output files (path output only)."
    )

    @model_validator(mode="after")
    def _one_target(self) -> TransformOutput:
        if self.dataset is not None and self.path is not None:
            raise ValueError("give at most one of dataset or path")
        return self


class TransformJobCreate(BaseModel):
    """Submit a batch transform job."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    model: ModelRef
    input: TransformInput
    output: TransformOutput = Field(default_factory=TransformOutput)
    batch_size: int = Field(
        default=50_000,
        ge=1,
        le=1_000_000,
        description="Rows per predict call (larger batches amortize the per-batch work).",
    )
    max_parallel: int = Field(
        default=1, ge=1, le=64, description="Worker processes predicting at once."
    )
    join_source: JoinSource = JoinSource.NONE
    force: bool = Field(default=False, description="Use a model version not yet approved.")
    tags: Tags = Field(default_factory=dict)


class TransformProgress(BaseModel):
    """How far a job has come; ``rows_total`` is known once the input has been read."""

    rows_done: int
    rows_total: int | None


class TransformJobOut(BaseModel):
    """A transform job as the API shows it."""

    name: str
    status: TransformJobStatus
    failure_reason: str | None
    model: ModelRef
    input: dict[str, Any]
    output: dict[str, Any] = Field(
        description="dataset (+ dataset_version once written), or path, accept and url."
    )
    batch_size: int
    max_parallel: int
    join_source: JoinSource
    force: bool
    tags: dict[str, str]
    progress: TransformProgress
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class OutputFile(BaseModel):
    """One file a completed job wrote under its output path."""

    name: str = Field(description="Relative to the output path.")
    size: int
    url: str
