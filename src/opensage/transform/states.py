"""Transform job statuses and the transitions between them (SageMaker's TransformJobStatus)."""

from __future__ import annotations

from enum import StrEnum

from opensage.statemachine import StateMachine


class TransformJobStatus(StrEnum):
    """SageMaker's ``TransformJobStatus``: a job is InProgress from submission to its end."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


S = TransformJobStatus
TRANSFORM_JOB = StateMachine(
    "transform job",
    {
        S.IN_PROGRESS: {S.COMPLETED, S.FAILED, S.STOPPING, S.STOPPED},
        S.STOPPING: {S.STOPPED, S.FAILED, S.COMPLETED},
        S.COMPLETED: set(),
        S.FAILED: set(),
        S.STOPPED: set(),
    },
)
ACTIVE = frozenset({S.IN_PROGRESS, S.STOPPING})
