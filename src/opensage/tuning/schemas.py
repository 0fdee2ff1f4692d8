"""Pydantic shapes of the tuning API: search spaces, objectives, tuning jobs and trials."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opensage.names import ResourceName
from opensage.tags import Tags
from opensage.training.schemas import (
    HyperparameterValue,
    TrainingJobDefinition,
    hyperparameter_strings,
)
from opensage.tuning.states import TrialStatus, TuningJobStatus

MAX_TRIALS = 1000
MAX_PARALLEL_TRIALS = 100
MAX_PARAMETERS = 30
MAX_CATEGORIES = 100


class Scaling(StrEnum):
    """How a numeric range is searched (SageMaker's ``ScalingType``, snake-cased)."""

    AUTO = "auto"
    LINEAR = "linear"
    LOGARITHMIC = "logarithmic"
    REVERSE_LOGARITHMIC = "reverse_logarithmic"


class _NumericRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scaling: Scaling = Scaling.AUTO

    @model_validator(mode="after")
    def _bounds(self) -> _NumericRange:
        low, high = self.min, self.max  # type: ignore[attr-defined]
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("min and max must be finite numbers")
        if low > high:
            raise ValueError(f"min ({low}) is greater than max ({high})")
        if self.scaling is Scaling.LOGARITHMIC and low <= 0:
            raise ValueError(f"logarithmic scaling needs min > 0 (min is {low})")
        if self.scaling is Scaling.REVERSE_LOGARITHMIC and isinstance(self, IntegerRange):
            raise ValueError("reverse_logarithmic scaling applies to continuous ranges only")
        if self.scaling is Scaling.REVERSE_LOGARITHMIC and not (low >= 0 and high < 1):
            raise ValueError("reverse_logarithmic scaling needs 0 <= min <= max < 1")
        return self


class IntegerRange(_NumericRange):
    """Whole numbers from ``min`` to ``max`` (both included)."""

    type: Literal["integer"] = "integer"
    min: int
    max: int


class ContinuousRange(_NumericRange):
    """Real numbers from ``min`` to ``max``."""

    type: Literal["continuous"] = "continuous"
    min: float
    max: float


class CategoricalRange(BaseModel):
    """One of the listed values."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["categorical"] = "categorical"
    values: list[HyperparameterValue] = Field(min_length=1, max_length=MAX_CATEGORIES)

    @model_validator(mode="after")
    def _distinct(self) -> CategoricalRange:
        # Distinct as the trials receive them: SageMaker-style strings (True -> "true").
        if len(
            set(hyperparameter_strings({str(i): v for i, v in enumerate(self.values)}).values())
        ) != len(self.values):
            raise ValueError("categorical values must be distinct")
        return self


ParameterRange = Annotated[
    IntegerRange | ContinuousRange | CategoricalRange, Field(discriminator="type")
]


class ObjectiveType(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class Objective(BaseModel):
    """The metric the search optimizes, e.g. ``validation:rmse`` to minimize."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=255)
    type: ObjectiveType = ObjectiveType.MINIMIZE


class Strategy(StrEnum):
    """How the next trial's hyperparameters are chosen."""

    BAYESIAN = "bayesian"
    RANDOM = "random"
    GRID = "grid"
    HYPERBAND = "hyperband"


class EarlyStopping(StrEnum):
    """``auto`` stops a trial whose objective lags the median of earlier trials at the
    same step (Hyperband always stops trials early, by its own rule)."""

    OFF = "off"
    AUTO = "auto"


class CompletionCriteria(BaseModel):
    """When a search may end before its trial budget is spent."""

    model_config = ConfigDict(extra="forbid")

    target_objective_value: float | None = Field(
        default=None, description="Stop once a trial reaches this objective value."
    )
    max_trials_without_improvement: int | None = Field(
        default=None, ge=1, description="Stop after this many finished trials beat no earlier one."
    )


class TuningJobCreate(BaseModel):
    """Start a tuning job."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    training_job_definition: TrainingJobDefinition
    parameter_ranges: dict[str, ParameterRange] = Field(min_length=1, max_length=MAX_PARAMETERS)
    objective: Objective
    strategy: Strategy = Strategy.BAYESIAN
    max_trials: int | None = Field(
        default=None, ge=1, le=MAX_TRIALS, description="Required except for grid search."
    )
    max_parallel_trials: int = Field(default=1, ge=1, le=MAX_PARALLEL_TRIALS)
    max_runtime_s: int | None = Field(default=None, ge=1, le=28 * 24 * 3600)
    early_stopping: EarlyStopping = EarlyStopping.OFF
    completion_criteria: CompletionCriteria = Field(default_factory=CompletionCriteria)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    warm_start_from: list[ResourceName] = Field(
        default_factory=list,
        max_length=5,
        description="Ended tuning jobs whose trials seed this search (same objective).",
    )
    tags: Tags = Field(default_factory=dict)


class TrialCounts(BaseModel):
    """How many trials are in each state."""

    pending: int = 0
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    stopped: int = 0
    pruned: int = 0


class TrialOut(BaseModel):
    """One trial: the hyperparameters it tried and what became of its training job."""

    number: int
    training_job_name: str
    status: TrialStatus
    hyperparameters: dict[str, HyperparameterValue]
    objective_value: float | None
    steps_reported: int = Field(description="Intermediate objective values fed to early stopping.")
    failure_reason: str | None
    created_at: datetime
    ended_at: datetime | None


class TuningJobOut(BaseModel):
    """A tuning job as the API shows it."""

    name: str
    status: TuningJobStatus
    failure_reason: str | None
    completion_reason: str | None
    training_job_definition: TrainingJobDefinition
    parameter_ranges: dict[str, ParameterRange]
    objective: Objective
    strategy: Strategy
    max_trials: int
    max_parallel_trials: int
    max_runtime_s: int | None
    early_stopping: EarlyStopping
    completion_criteria: CompletionCriteria
    seed: int | None
    warm_start_from: list[str]
    warm_start_trials: int = Field(description="Earlier trials the search started from.")
    tags: dict[str, str]
    trial_counts: TrialCounts
    best_trial: TrialOut | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class ParameterImportance(BaseModel):
    """How much a hyperparameter explains the objective's variation (importances sum to 1)."""

    name: str
    importance: float
