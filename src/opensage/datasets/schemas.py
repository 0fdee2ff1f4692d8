"""Pydantic shapes of the datasets API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from opensage.datasets.ingest import LogicalType
from opensage.names import ResourceName


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1,
        description="Where the data is: `upload:<upload_id>` (see POST /api/v1/uploads), "
        "an s3:// URI, or a path on the server's machine.",
        examples=["upload:3f2a9c", "s3://bucket/students.csv", "/data/students.parquet"],
    )
    format: Literal["csv", "parquet", "jsonl"] | None = Field(
        default=None, description="Source format; inferred from the file name when omitted."
    )
    delimiter: str | None = Field(
        default=None, min_length=1, max_length=1, description="CSV field separator (default ,)."
    )
    column_types: dict[str, LogicalType] | None = Field(
        default=None, description="Types to use instead of inferring them, by column."
    )
    splits: dict[str, float] | None = Field(
        default=None,
        description="Split fractions adding up to 1, e.g. {train: 0.8, validation: 0.2}.",
        examples=[{"train": 0.8, "validation": 0.1, "test": 0.1}],
    )
    seed: int = Field(default=0, description="Seed of the split assignment.")
    stratify: bool | None = Field(
        default=None,
        description="Keep the label's class balance in every split; "
        "default: yes when the label looks like a class label.",
    )


class DatasetCreate(_Source):
    """Create a dataset and its first version."""

    name: ResourceName = Field(description="Unique dataset name.")
    label: str | None = Field(default=None, description="The column to predict, if any.")
    description: str = Field(default="", max_length=10_000)


class DatasetVersionCreate(_Source):
    """Add a version to an existing dataset; label and splits default to the latest's."""

    label: str | None = Field(
        default=None, description="The column to predict; default: the latest version's."
    )


class ColumnSchema(BaseModel):
    """One column of a dataset version."""

    name: str
    type: str = Field(description="integer, float, boolean, string, timestamp, date, ...")
    arrow_type: str
    nullable: bool


class SplitInfo(BaseModel):
    """How the rows of a version are divided into splits."""

    fractions: dict[str, float]
    seed: int
    stratified: bool
    counts: dict[str, int]


class DatasetVersionOut(BaseModel):
    """A dataset version as the API returns it."""

    dataset: str
    version: int
    source: str
    source_format: str
    label: str | None
    num_rows: int
    num_bytes: int
    columns: list[ColumnSchema]
    splits: SplitInfo | None
    artifact_url: str
    created_at: datetime


class DatasetOut(BaseModel):
    """A dataset with its latest version."""

    name: str
    description: str
    latest_version: int
    created_at: datetime
    updated_at: datetime
    latest: DatasetVersionOut | None = None


class ValueCount(BaseModel):
    """A value and how often it occurs."""

    value: Any
    count: int


class Histogram(BaseModel):
    """Equal-width bins: ``len(edges) == len(counts) + 1``."""

    edges: list[float]
    counts: list[int]


class ColumnStatistics(BaseModel):
    """Statistics of one column (missing values excluded from all but ``missing``)."""

    name: str
    type: str
    count: int
    missing: int
    infinite: int | None = Field(
        default=None,
        description="Float columns: how many values are +inf or -inf. They count in count, "
        "distinct and top_values (as null); mean, std, quantiles, min and max are null where "
        "they come out infinite or undefined, and the histogram covers the finite values.",
    )
    distinct: int
    top_values: list[ValueCount]
    mean: float | None = None
    std: float | None = None
    min: float | str | None = None
    max: float | str | None = None
    quantiles: dict[str, float | None] | None = None
    histogram: Histogram | None = None


class DatasetStatistics(BaseModel):
    """Statistics of every column of a dataset version."""

    dataset: str
    version: int
    num_rows: int
    columns: list[ColumnStatistics]
