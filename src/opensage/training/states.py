"""Training job statuses, secondary statuses and the transitions between them."""

from __future__ import annotations

from enum import StrEnum

from opensage.statemachine import StateMachine


class TrainingJobStatus(StrEnum):
    """SageMaker's ``TrainingJobStatus``."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class SecondaryStatus(StrEnum):
    """SageMaker's ``SecondaryStatus``: what an in-progress job is doing."""

    PENDING = "Pending"
    STARTING = "Starting"
    DOWNLOADING = "Downloading"
    TRAINING = "Training"
    UPLOADING = "Uploading"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    INTERRUPTED = "Interrupted"


S = TrainingJobStatus
TRAINING_JOB = StateMachine(
    "training job",
    {
        S.PENDING: {S.IN_PROGRESS, S.STOPPED, S.FAILED},
        S.IN_PROGRESS: {S.COMPLETED, S.FAILED, S.STOPPING, S.STOPPED},
        S.STOPPING: {S.STOPPED, S.FAILED, S.COMPLETED},
        S.COMPLETED: set(),
        S.FAILED: set(),
        S.STOPPED: set(),
    },
)
ACTIVE = frozenset({S.PENDING, S.IN_PROGRESS, S.STOPPING})
