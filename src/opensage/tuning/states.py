"""Tuning job and trial statuses, and the transitions between tuning job statuses."""

from __future__ import annotations

from enum import StrEnum

from opensage.statemachine import StateMachine


class TuningJobStatus(StrEnum):
    """SageMaker's ``HyperParameterTuningJobStatus`` (plus Pending, as training jobs have)."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class TrialStatus(StrEnum):
    """What became of one trial: its training job's status, or Pruned by early stopping."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"
    PRUNED = "Pruned"


S = TuningJobStatus
TUNING_JOB = StateMachine(
    "tuning job",
    {
        S.PENDING: {S.IN_PROGRESS, S.STOPPING, S.STOPPED, S.FAILED},
        S.IN_PROGRESS: {S.COMPLETED, S.FAILED, S.STOPPING, S.STOPPED},
        S.STOPPING: {S.STOPPED, S.FAILED, S.COMPLETED},
        S.COMPLETED: set(),
        S.FAILED: set(),
        S.STOPPED: set(),
    },
)
ACTIVE = frozenset({S.PENDING, S.IN_PROGRESS, S.STOPPING})
TRIAL_ACTIVE = frozenset({TrialStatus.PENDING, TrialStatus.IN_PROGRESS})
