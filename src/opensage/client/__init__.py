"""The Python SDK: speaks HTTP to an OpenSage server, never imports server code."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from opensage.auth.schemas import WhoAmI
from opensage.client.auth import ApiKeys, AuditLog, Users, whoami
from opensage.client.datasets import Dataset, Datasets
from opensage.client.endpoints import Endpoint, Endpoints
from opensage.client.http import HTTPSession, default_url
from opensage.client.monitoring import (
    Baseline,
    Baselines,
    Execution,
    MonitoringSchedule,
    MonitoringSchedules,
)
from opensage.client.registry import Models, ModelVersion
from opensage.client.training import TrainingJob, TrainingJobs
from opensage.client.transform import TransformJob, TransformJobs
from opensage.client.tuning import TuningJob, TuningJobs, tune


class Client:
    """Entry point of the SDK.

    >>> client = Client()                      # OPENSAGE_URL, or http://127.0.0.1:8080
    >>> ds = client.datasets.create("students.csv", name="students", label="score")

    The API key comes from ``api_key``, else ``OPENSAGE_API_KEY``, else the file that
    ``opensage login`` wrote for this URL.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.session = HTTPSession(url, api_key=api_key, timeout=timeout, http=http)
        self.datasets = Datasets(self.session)
        self.training_jobs = TrainingJobs(self.session)
        self.tuning_jobs = TuningJobs(self.session)
        self.models = Models(self.session)
        self.endpoints = Endpoints(self.session)
        self.transform_jobs = TransformJobs(self.session)
        self.baselines = Baselines(self.session)
        self.monitoring_schedules = MonitoringSchedules(self.session)
        self.users = Users(self.session)
        self.keys = ApiKeys(self.session)
        self.audit = AuditLog(self.session)

    @property
    def url(self) -> str:
        return self.session.url

    def health(self) -> dict[str, Any]:
        """The server's health answer (raises ``ServerUnavailable`` if it is down)."""
        body: dict[str, Any] = self.session.json("GET", "/health")
        return body

    def whoami(self) -> WhoAmI:
        """Who the server thinks you are (your user and role)."""
        return whoami(self.session)

    def close(self) -> None:
        """Close the connection pool."""
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = [
    "Baseline",
    "Baselines",
    "Client",
    "Dataset",
    "Datasets",
    "Endpoint",
    "Endpoints",
    "Execution",
    "ModelVersion",
    "Models",
    "MonitoringSchedule",
    "MonitoringSchedules",
    "TrainingJob",
    "TrainingJobs",
    "TransformJob",
    "TransformJobs",
    "TuningJob",
    "TuningJobs",
    "default_url",
    "tune",
]
