"""Statuses of monitoring schedules, their executions and baselines."""

from __future__ import annotations

from enum import StrEnum

from opensage.statemachine import StateMachine


class ScheduleStatus(StrEnum):
    """SageMaker's ``MonitoringScheduleStatus`` (the ones a local schedule can be in)."""

    SCHEDULED = "Scheduled"
    STOPPED = "Stopped"


class ExecutionStatus(StrEnum):
    """SageMaker's ``ExecutionStatus`` of a monitoring execution."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    COMPLETED_WITH_VIOLATIONS = "CompletedWithViolations"
    FAILED = "Failed"


class BaselineStatus(StrEnum):
    """A baseline is InProgress while its model's predictions on the data are computed."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"


S = ScheduleStatus
SCHEDULE = StateMachine("monitoring schedule", {S.SCHEDULED: {S.STOPPED}, S.STOPPED: {S.SCHEDULED}})
X = ExecutionStatus
EXECUTION = StateMachine(
    "monitoring execution",
    {
        X.PENDING: {X.IN_PROGRESS, X.FAILED},
        # A server restart puts a running execution back in the queue.
        X.IN_PROGRESS: {X.COMPLETED, X.COMPLETED_WITH_VIOLATIONS, X.FAILED, X.PENDING},
        X.COMPLETED: set(),
        X.COMPLETED_WITH_VIOLATIONS: set(),
        X.FAILED: set(),
    },
)
ENDED = frozenset({X.COMPLETED, X.COMPLETED_WITH_VIOLATIONS, X.FAILED})
B = BaselineStatus
BASELINE = StateMachine(
    "baseline", {B.IN_PROGRESS: {B.COMPLETED, B.FAILED}, B.COMPLETED: set(), B.FAILED: set()}
)
