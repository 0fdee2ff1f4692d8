"""SDK resources for training jobs: ``client.training_jobs`` and ``TrainingJob`` objects."""

from __future__ import annotations

import io
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opensage.client.datasets import upload_file
from opensage.client.http import HTTPSession, list_filtered
from opensage.client.resource import Resource
from opensage.errors import InvalidInput
from opensage.training.schemas import LogChunk, MetricPoint, TrainingJobOut
from opensage.training.states import ACTIVE, TrainingJobStatus

if TYPE_CHECKING:
    import pandas as pd

    from opensage.client.registry import ModelVersion


class TrainingJob(Resource[TrainingJobOut]):
    """A training job on the server."""

    info_type = TrainingJobOut

    @property
    def path(self) -> str:
        return f"/api/v1/training-jobs/{self.name}"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> TrainingJobStatus:
        return self.info.status

    @property
    def final_metrics(self) -> dict[str, float]:
        return self.info.final_metrics

    @property
    def failure_reason(self) -> str | None:
        return self.info.failure_reason

    @property
    def model_artifact_url(self) -> str | None:
        return self.info.model_artifact_url

    def __repr__(self) -> str:
        return f"TrainingJob(name={self.name!r}, status={self.status.value})"

    def wait(self, timeout: float | None = None, poll_s: float = 0.2) -> TrainingJob:
        """Block until the job has ended (or ``timeout`` seconds passed: TimeoutError)."""
        return self._wait_while(
            lambda: self.status in ACTIVE,
            timeout,
            poll_s,
            lambda: f"training job {self.name} still {self.status.value}",
        )

    def stop(self) -> TrainingJob:
        """Ask the job to stop (SIGTERM, then SIGKILL after a grace period)."""
        return self._send("POST", "/stop")

    def metrics(self, name: str | None = None) -> pd.DataFrame:
        """The metric time series as a DataFrame: name, step, value, at."""
        import pandas as pd

        params = {"metric": name} if name else None
        body = self._session.json("GET", f"{self.path}/metrics", params=params)
        points = [MetricPoint.model_validate(p).model_dump() for p in body]
        return pd.DataFrame(points, columns=["name", "step", "value", "at"])

    def logs(self, *, follow: bool = False, poll_s: float = 0.3) -> Iterator[str]:
        """The job's log, chunk by chunk; with ``follow``, until the job has ended."""
        offset = 0
        while True:
            body = self._session.json("GET", f"{self.path}/logs", params={"offset": offset})
            chunk = LogChunk.model_validate(body)
            if chunk.text:
                yield chunk.text
            offset = chunk.next_offset
            if chunk.complete or (not follow and not chunk.text):
                return
            if not chunk.text:
                time.sleep(poll_s)

    def register(
        self, model_group: str, *, description: str = "", approved: bool = False
    ) -> ModelVersion:
        """Register this (completed) job's model as the next version of ``model_group``."""
        from opensage.client.registry import Models

        return Models(self._session).register(
            model_group,
            training_job=self.name,
            description=description,
            approval_status="Approved" if approved else "PendingManualApproval",
        )

    def delete(self) -> None:
        """Delete the (ended) job with its metrics, logs and model files."""
        self._session.request("DELETE", self.path)


class TrainingJobs:
    """``client.training_jobs``: submit and find training jobs."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(
        self,
        name: str,
        *,
        algorithm: str | None = None,
        script: str | Path | None = None,
        source_dir: str | Path | None = None,
        entry_point: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        channels: dict[str, Any] | None = None,
        cpu_slots: int = 1,
        max_runtime_s: int | None = None,
        max_retry_attempts: int = 0,
        metric_definitions: list[dict[str, str]] | None = None,
        environment: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> TrainingJob:
        """Submit a job: a built-in ``algorithm``, or your ``script`` / ``source_dir``.

        ``channels`` maps a channel name to a dataset name (``"exam-scores"``), a dataset
        split (``"exam-scores:train"`` or ``{"dataset": ..., "split": ..., "version": ...}``)
        or an ``s3://`` URI.
        """
        body = definition_body(
            self._session,
            algorithm=algorithm,
            script=script,
            source_dir=source_dir,
            entry_point=entry_point,
            hyperparameters=hyperparameters,
            channels=channels,
            cpu_slots=cpu_slots,
            max_runtime_s=max_runtime_s,
            max_retry_attempts=max_retry_attempts,
            metric_definitions=metric_definitions,
            environment=environment,
        )
        body.update(name=name, tags=tags or {})
        info = self._session.json("POST", "/api/v1/training-jobs", json=body)
        return TrainingJob(self._session, TrainingJobOut.model_validate(info))

    def get(self, name: str) -> TrainingJob:
        """The job called ``name``."""
        body = self._session.json("GET", f"/api/v1/training-jobs/{name}")
        return TrainingJob(self._session, TrainingJobOut.model_validate(body))

    def list(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int | None = None,
    ) -> list[TrainingJob]:
        """Jobs, newest first."""
        return list_filtered(
            self._session,
            "/api/v1/training-jobs",
            TrainingJobOut,
            lambda info: TrainingJob(self._session, info),
            status=status,
            name_contains=name_contains,
            limit=limit,
        )


def definition_body(
    session: HTTPSession,
    *,
    algorithm: str | None,
    script: str | Path | None,
    source_dir: str | Path | None,
    entry_point: str | None,
    hyperparameters: dict[str, Any] | None,
    channels: dict[str, Any] | None,
    cpu_slots: int,
    max_runtime_s: int | None,
    max_retry_attempts: int,
    metric_definitions: list[dict[str, str]] | None,
    environment: dict[str, str] | None,
) -> dict[str, Any]:
    """The JSON of a training job definition (uploading the user's code, if any)."""
    body: dict[str, Any] = {
        "hyperparameters": hyperparameters or {},
        "channels": {k: _channel(v) for k, v in (channels or {}).items()},
        "cpu_slots": cpu_slots,
        "max_retry_attempts": max_retry_attempts,
        "metric_definitions": metric_definitions or [],
        "environment": environment or {},
    }
    if max_runtime_s is not None:
        body["max_runtime_s"] = max_runtime_s
    if algorithm is not None:
        body["algorithm"] = algorithm
    if script is not None or source_dir is not None:
        body["script"] = _upload_code(session, script, source_dir, entry_point)
    return body


def _channel(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    text = str(value)
    if text.startswith("s3://") or text.startswith("/"):
        return {"uri": text}
    dataset, _, split = text.partition(":")
    return {"dataset": dataset, "split": split or None}


def _upload_code(
    session: HTTPSession,
    script: str | Path | None,
    source_dir: str | Path | None,
    entry_point: str | None,
) -> dict[str, Any]:
    if source_dir is None:
        assert script is not None
        path = Path(script)
        if not path.is_file():
            raise InvalidInput(f"no such script: {path}", field="script")
        return {"source": upload_file(session, path), "entry_point": entry_point}
    folder = Path(source_dir)
    if not folder.is_dir():
        raise InvalidInput(f"no such folder: {folder}", field="source_dir")
    entry = entry_point or (Path(script).name if script is not None else None)
    if entry is None:
        raise InvalidInput("name the entry_point script inside source_dir", field="entry_point")
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "sourcedir.tar.gz"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(folder, arcname=".")
        archive.write_bytes(buffer.getvalue())
        return {"source": upload_file(session, archive), "entry_point": entry}
