"""Pydantic shapes of the monitoring API: baselines, constraints, schedules, executions
and their reports, ground truth."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opensage.monitoring.states import BaselineStatus, ExecutionStatus, ScheduleStatus
from opensage.names import ResourceName
from opensage.tags import Tags

ProblemType = Literal["regression", "binary", "multiclass"]
InferredType = Literal["integral", "fractional", "boolean"]
MIN_EVERY_S = 1
MAX_EVERY_S = 31 * 24 * 3600


class ViolationType(StrEnum):
    """The checks an execution runs (SageMaker Model Monitor's names)."""

    DATA_TYPE = "data_type_check"
    COMPLETENESS = "completeness_check"
    MISSING_COLUMN = "missing_column_check"
    EXTRA_COLUMN = "extra_column_check"
    CATEGORICAL_VALUES = "categorical_values_check"
    NON_NEGATIVE = "non_negative_check"
    BASELINE_DRIFT = "baseline_drift_check"
    PREDICTION_DRIFT = "prediction_drift_check"
    MODEL_QUALITY = "model_quality_check"


# -- baselines and constraints ----------------------------------------------------------
class DriftThresholds(BaseModel):
    """When a distribution counts as drifted: KS statistic above ``ks_threshold`` with a
    p-value below ``p_value``, or PSI above ``psi_threshold`` (numeric); chi-square p-value
    below ``p_value`` with a Jensen-Shannon distance above ``js_threshold`` (categorical)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    ks_threshold: float = Field(default=0.1, gt=0.0, le=1.0)
    psi_threshold: float = Field(default=0.2, gt=0.0)
    js_threshold: float = Field(default=0.1, gt=0.0, le=1.0)
    p_value: float = Field(default=0.01, gt=0.0, lt=1.0)


class FeatureConstraint(BaseModel):
    """What a feature's values must look like (suggested from the baseline, editable)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    inferred_type: InferredType
    completeness: float = Field(
        ge=0.0, le=1.0, description="Least share of rows that must have a value."
    )
    is_non_negative: bool = False
    categorical: bool = Field(
        default=False, description="Compared by category counts (chi-square, JS distance)."
    )
    domain: list[float] | None = Field(
        default=None, description="Allowed values of a categorical feature."
    )
    drift: DriftThresholds | None = Field(
        default=None, description="Thresholds for this feature (default: the constraints')."
    )


class MetricBound(BaseModel):
    """A model-quality metric must stay at or above ``min`` / at or below ``max``."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None


class Constraints(BaseModel):
    """The checks of a baseline, in the spirit of SageMaker's ``constraints.json``."""

    model_config = ConfigDict(extra="forbid")

    features: list[FeatureConstraint]
    prediction: FeatureConstraint | None = None
    drift: DriftThresholds = Field(default_factory=DriftThresholds)
    model_quality: dict[str, MetricBound] = Field(
        default_factory=dict, description='e.g. {"rmse": {"max": 60}, "r2": {"min": 0.5}}'
    )
    check_extra_columns: bool = True

    @model_validator(mode="after")
    def _distinct(self) -> Constraints:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be distinct: {names}")
        return self


class BaselineCreate(BaseModel):
    """Compute a baseline from a dataset version (usually the training split) and,
    with a model, from that model's predictions on it."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    dataset: ResourceName
    version: int | None = Field(default=None, ge=1, description="Default: the latest.")
    split: str | None = Field(default=None, max_length=64)
    features: list[str] | None = Field(
        default=None, description="Default: every column but the label, in order."
    )
    model_group: ResourceName | None = None
    model_version: int | None = Field(default=None, ge=1)


class BaselineOut(BaseModel):
    """A baseline: per-feature statistics and the constraints checked against it."""

    name: str
    status: BaselineStatus
    failure_reason: str | None
    dataset: str
    dataset_version: int
    split: str | None
    label: str | None
    features: list[str]
    model_group: str | None
    model_version: int | None
    problem_type: ProblemType | None
    transform_job: str | None
    statistics: dict[str, Any]
    constraints: Constraints
    created_at: datetime
    updated_at: datetime


# -- schedules --------------------------------------------------------------------------
_EVERY = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_every(value: str | int) -> int:
    """Seconds of an interval: ``3600``, ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"``."""
    if isinstance(value, int):
        seconds = value
    else:
        match = _EVERY.match(value)
        if not match:
            raise ValueError(f"{value!r} is not an interval: use e.g. 30s, 15m, 1h or 1d")
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
        raise ValueError(f"the interval must be between {MIN_EVERY_S} s and 31 days")
    return seconds


class RetrainingConfig(BaseModel):
    """On a violation, train the model's training job definition again on a newer
    dataset version, register the result, and promote it if it beats the current model on
    the holdout."""

    model_config = ConfigDict(extra="forbid")

    dataset: ResourceName | None = Field(
        default=None,
        description="Dataset to train on, at its latest version (default: the one the "
        "current model was trained on).",
    )
    holdout_split: str = Field(default="validation", max_length=64)
    metric: str | None = Field(
        default=None,
        description="Holdout metric to compare (default: rmse for regression, f1 for "
        "binary, accuracy for multiclass).",
    )
    auto_promote: bool = Field(
        default=False, description="Approve a better model and deploy it to the endpoint."
    )
    on: list[ViolationType] = Field(
        default_factory=lambda: [ViolationType.BASELINE_DRIFT, ViolationType.MODEL_QUALITY],
        description="Violations that start a retraining.",
    )


class BaselineSpec(BaseModel):
    """A baseline computed for the schedule from a dataset version."""

    model_config = ConfigDict(extra="forbid")

    dataset: ResourceName
    version: int | None = Field(default=None, ge=1)
    split: str | None = Field(default=None, max_length=64)
    features: list[str] | None = None


class MonitoringScheduleCreate(BaseModel):
    """Check an endpoint's captured traffic against a baseline, every so often."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    endpoint: ResourceName
    baseline: ResourceName | BaselineSpec = Field(
        description="An existing baseline's name, or a dataset to compute one from (with "
        "the endpoint's model's predictions on it)."
    )
    every: str | int | None = Field(default=None, description="Interval: 30m, 1h, 1d, ...")
    cron: str | None = Field(default=None, max_length=255, description="A cron expression (UTC).")
    problem_type: ProblemType | None = Field(
        default=None, description="For model quality; default: the model's."
    )
    webhook_url: str | None = Field(default=None, max_length=2000)
    retraining: RetrainingConfig | None = None
    tags: Tags = Field(default_factory=dict)

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_every(value)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("the webhook URL must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> MonitoringScheduleCreate:
        if self.every is None and self.cron is None:
            self.every = "1h"
        if self.every is not None and self.cron is not None:
            raise ValueError("give at most one of every or cron")
        return self


class ScheduleUpdate(BaseModel):
    """Change what a schedule does on violations."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str | None = Field(default=None, max_length=2000)
    retraining: RetrainingConfig | None = None


class ExecutionSummary(BaseModel):
    number: int
    status: ExecutionStatus
    violations: int
    window_end: datetime


class MonitoringScheduleOut(BaseModel):
    """A monitoring schedule as the API shows it."""

    name: str
    endpoint: str
    baseline: str
    status: ScheduleStatus
    every_s: int | None
    cron: str | None
    problem_type: ProblemType | None
    webhook_url: str | None
    retraining: RetrainingConfig | None
    tags: dict[str, str]
    next_run_at: datetime | None
    last_execution: ExecutionSummary | None
    created_at: datetime
    updated_at: datetime


class RunRequest(BaseModel):
    """Run a schedule now, over its next window or the one given."""

    model_config = ConfigDict(extra="forbid")

    window_start: datetime | None = None
    window_end: datetime | None = None

    @model_validator(mode="after")
    def _window(self) -> RunRequest:
        for value in (self.window_start, self.window_end):
            if value is not None and value.tzinfo is None:
                raise ValueError("window times need a time zone (e.g. 2026-11-27T10:00:00Z)")
        if self.window_start and self.window_end and self.window_start >= self.window_end:
            raise ValueError("window_start must be before window_end")
        return self


# -- reports ----------------------------------------------------------------------------
class Violation(BaseModel):
    """One failed check."""

    check: ViolationType
    feature: str | None = None
    description: str


class DriftTest(BaseModel):
    test: Literal[
        "kolmogorov_smirnov", "population_stability_index", "chi_square", "jensen_shannon"
    ]
    statistic: float | None
    p_value: float | None
    threshold: float
    drift: bool


class FeatureReport(BaseModel):
    """One feature (or the prediction) in a window, next to its baseline."""

    name: str
    count: int
    missing: int
    completeness: float
    mean: float | None = None
    baseline_mean: float | None = None
    tests: list[DriftTest] = Field(default_factory=list)
    drift: bool = False
    histogram: dict[str, Any] | None = Field(
        default=None, description="edges, baseline (shares) and current (shares)."
    )


class ModelQuality(BaseModel):
    """Metrics of the window's predictions against the ground truth uploaded for them."""

    problem_type: ProblemType
    rows: int
    metrics: dict[str, float]
    confusion_matrix: list[list[int]] | None = None
    labels: list[float] | None = None


class Report(BaseModel):
    """What an execution found."""

    records: int
    rows: int
    features: list[FeatureReport]
    prediction: FeatureReport | None = None
    model_quality: ModelQuality | None = None
    violations: list[Violation]
    notes: list[str] = Field(default_factory=list)


class MonitoringExecutionOut(BaseModel):
    """One run of a schedule."""

    schedule: str
    number: int
    status: ExecutionStatus
    trigger: Literal["schedule", "manual"]
    window_start: datetime
    window_end: datetime
    failure_reason: str | None
    report: Report | None
    alert: dict[str, Any] | None
    retraining: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class GroundTruthResult(BaseModel):
    """What an upload of ground truth stored."""

    endpoint: str
    records: int
    key: str
