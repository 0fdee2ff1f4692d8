"""SDK resources for monitoring: ``client.baselines``, ``client.monitoring_schedules``,
``MonitoringSchedule`` objects that run and list their executions, and ``Execution``
objects whose ``report`` holds the violations and the per-feature drift."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from opensage.client.http import HTTPSession, iter_pages
from opensage.client.resource import Resource
from opensage.monitoring.schemas import (
    BaselineOut,
    Constraints,
    GroundTruthResult,
    MonitoringExecutionOut,
    MonitoringScheduleOut,
    Report,
)
from opensage.monitoring.states import BaselineStatus, ExecutionStatus

_ENDED = (
    ExecutionStatus.COMPLETED,
    ExecutionStatus.COMPLETED_WITH_VIOLATIONS,
    ExecutionStatus.FAILED,
)


class Baseline(Resource[BaselineOut]):
    """A baseline on the server."""

    info_type = BaselineOut

    @property
    def path(self) -> str:
        return f"/api/v1/baselines/{self.name}"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def constraints(self) -> Constraints:
        return self.info.constraints

    def __repr__(self) -> str:
        return f"Baseline(name={self.name!r}, status={self.info.status.value})"

    def wait(self, timeout: float = 300.0, poll_s: float = 0.2) -> Baseline:
        """Block until the model's predictions are in (Completed or Failed)."""
        return self._wait_while(
            lambda: self.info.status is BaselineStatus.IN_PROGRESS,
            timeout,
            poll_s,
            lambda: f"baseline {self.name} still InProgress",
        )

    def update_constraints(self, constraints: Constraints | dict[str, Any]) -> Baseline:
        """Replace the constraints (e.g. ``baseline.constraints`` edited)."""
        body = (
            constraints.model_dump(mode="json")
            if isinstance(constraints, Constraints)
            else constraints
        )
        return self._send("PUT", "/constraints", json=body)

    def delete(self) -> None:
        self._session.request("DELETE", self.path)


class Baselines:
    """``client.baselines``."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(
        self,
        name: str,
        dataset: str,
        *,
        version: int | None = None,
        split: str | None = None,
        features: list[str] | None = None,
        model_group: str | None = None,
        model_version: int | None = None,
    ) -> Baseline:
        """Statistics and suggested constraints of a dataset version (with a model: of
        its predictions on it too, once ``wait()`` returns)."""
        body = {
            "name": name,
            "dataset": dataset,
            "version": version,
            "split": split,
            "features": features,
            "model_group": model_group,
            "model_version": model_version,
        }
        info = self._session.json("POST", "/api/v1/baselines", json=body)
        return Baseline(self._session, BaselineOut.model_validate(info))

    def get(self, name: str) -> Baseline:
        body = self._session.json("GET", f"/api/v1/baselines/{name}")
        return Baseline(self._session, BaselineOut.model_validate(body))

    def list(self) -> list[Baseline]:
        return [
            Baseline(self._session, info)
            for info in iter_pages(self._session, "/api/v1/baselines", BaselineOut, None)
        ]


class Execution(Resource[MonitoringExecutionOut]):
    """One run of a monitoring schedule."""

    info_type = MonitoringExecutionOut

    @property
    def path(self) -> str:
        return f"/api/v1/monitoring-schedules/{self.info.schedule}/executions/{self.number}"

    @property
    def number(self) -> int:
        return self.info.number

    @property
    def status(self) -> ExecutionStatus:
        return self.info.status

    @property
    def report(self) -> Report:
        """What the execution found (after it ended; ``wait()`` first)."""
        if self.info.report is None:
            raise ValueError(
                f"execution {self.number} has no report ({self.status.value}"
                + (f": {self.info.failure_reason})" if self.info.failure_reason else ")")
            )
        return self.info.report

    def __repr__(self) -> str:
        return (
            f"Execution(schedule={self.info.schedule!r}, number={self.number}, "
            f"status={self.status.value})"
        )

    def wait(self, timeout: float = 300.0, poll_s: float = 0.1) -> Execution:
        """Block until the execution has ended."""
        return self._wait_while(
            lambda: self.status not in _ENDED,
            timeout,
            poll_s,
            lambda: f"execution {self.number} still {self.status.value}",
        )


class MonitoringSchedule(Resource[MonitoringScheduleOut]):
    """A monitoring schedule on the server."""

    info_type = MonitoringScheduleOut

    @property
    def name(self) -> str:
        return self.info.name

    def __repr__(self) -> str:
        return f"MonitoringSchedule(name={self.name!r}, status={self.info.status.value})"

    @property
    def path(self) -> str:
        return f"/api/v1/monitoring-schedules/{self.name}"

    def run(
        self,
        *,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
        wait: bool = True,
        timeout: float = 300.0,
    ) -> Execution:
        """Run now, over the next window (or the one given); with ``wait``, until done."""
        body = {
            "window_start": window_start.isoformat() if window_start else None,
            "window_end": window_end.isoformat() if window_end else None,
        }
        info = self._session.json("POST", f"{self.path}/executions", json=body)
        execution = Execution(self._session, MonitoringExecutionOut.model_validate(info))
        return execution.wait(timeout=timeout) if wait else execution

    def executions(self, *, status: str | None = None) -> list[Execution]:
        """Every execution, newest first."""
        params = {"status": status} if status else None
        return [
            Execution(self._session, info)
            for info in iter_pages(
                self._session, f"{self.path}/executions", MonitoringExecutionOut, params
            )
        ]

    def execution(self, number: int) -> Execution:
        info = self._session.json("GET", f"{self.path}/executions/{number}")
        return Execution(self._session, MonitoringExecutionOut.model_validate(info))

    def model_quality(self) -> list[dict[str, Any]]:
        """Model-quality metrics over time: one row per execution that had ground truth."""
        rows = []
        for execution in reversed(self.executions()):
            report = execution.info.report
            if report is not None and report.model_quality is not None:
                rows.append(
                    {
                        "execution": execution.number,
                        "window_end": execution.info.window_end,
                        "rows": report.model_quality.rows,
                        **report.model_quality.metrics,
                    }
                )
        return rows

    def update(self, **changes: Any) -> MonitoringSchedule:
        """Change ``webhook_url`` or ``retraining``."""
        return self._send("PATCH", json=changes)

    def stop(self) -> MonitoringSchedule:
        """Stop scheduling executions (run-now still works)."""
        return self._send("POST", "/stop")

    def start(self) -> MonitoringSchedule:
        """Schedule executions again, the next one an interval from now."""
        return self._send("POST", "/start")

    def delete(self) -> None:
        self._session.request("DELETE", self.path)


class MonitoringSchedules:
    """``client.monitoring_schedules``."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(
        self,
        name: str,
        endpoint: str,
        baseline: str | dict[str, Any],
        *,
        every: str | int | None = None,
        cron: str | None = None,
        problem_type: str | None = None,
        webhook_url: str | None = None,
        retraining: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> MonitoringSchedule:
        """Monitor ``endpoint`` against ``baseline`` (a baseline's name, or
        ``{"dataset": ..., "split": ...}`` to compute one)."""
        body = {
            "name": name,
            "endpoint": endpoint,
            "baseline": baseline,
            "every": every,
            "cron": cron,
            "problem_type": problem_type,
            "webhook_url": webhook_url,
            "retraining": retraining,
            "tags": tags or {},
        }
        info = self._session.json("POST", "/api/v1/monitoring-schedules", json=body)
        return MonitoringSchedule(self._session, MonitoringScheduleOut.model_validate(info))

    def get(self, name: str) -> MonitoringSchedule:
        body = self._session.json("GET", f"/api/v1/monitoring-schedules/{name}")
        return MonitoringSchedule(self._session, MonitoringScheduleOut.model_validate(body))

    def list(self, *, endpoint: str | None = None) -> list[MonitoringSchedule]:
        params = {"endpoint": endpoint} if endpoint else None
        return [
            MonitoringSchedule(self._session, info)
            for info in iter_pages(
                self._session, "/api/v1/monitoring-schedules", MonitoringScheduleOut, params
            )
        ]


def upload_ground_truth(
    session: HTTPSession, endpoint: str, records: list[dict[str, Any]] | bytes
) -> GroundTruthResult:
    """Send labels for captured events: ``[{"eventId": ..., "groundTruth": ...}, ...]``
    (or JSON Lines bytes)."""
    body = (
        records
        if isinstance(records, bytes)
        else b"\n".join(orjson.dumps(r) for r in records) + b"\n"
    )
    answer = session.json(
        "POST",
        f"/api/v1/endpoints/{endpoint}/ground-truth",
        content=body,
        headers={"Content-Type": "application/jsonlines"},
    )
    return GroundTruthResult.model_validate(answer)
