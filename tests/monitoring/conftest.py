"""One platform per test module: a regression dataset with train/validation splits,
helpers to train and register xgboost models on it and to serve them with data capture,
and helpers for the time windows of monitoring executions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.client.endpoints import Endpoint
from opensage.config import Settings
from opensage.platform import Platform, open_platform
from opensage.server.app import create_app

FEATURES = ["experience", "hours", "grade", "delta"]
LABEL = "score"


def make_frame(rows: int, seed: int) -> pd.DataFrame:
    """Rows of the monitored model's world: two non-negative fractional features, one
    categorical integer feature (1, 2 or 3) and one fractional feature of either sign."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "experience": rng.uniform(0, 10, rows),
            "hours": rng.uniform(0, 10, rows),
            "grade": rng.integers(1, 4, rows),
            "delta": rng.normal(0, 1, rows),
        }
    )
    frame[LABEL] = (
        30 * frame["experience"]
        + 20 * frame["hours"]
        + 10 * frame["grade"]
        + 5 * frame["delta"]
        + rng.normal(0, 5, rows)
    )
    return frame


def window_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Env:
    client: opensage.Client
    platform: Platform
    http: TestClient
    root: Path
    frame: pd.DataFrame
    models: dict[tuple[str, int], int] = field(default_factory=dict)

    def train(self, group: str, rounds: int, *, approved: bool = True) -> int:
        """Train xgboost on the train split of ``exam`` and register it; its version."""
        job = self.client.training_jobs.create(
            f"{group}-r{rounds}-{len(self.models)}",
            algorithm="xgboost",
            hyperparameters={"num_round": rounds, "max_depth": 4},
            channels={"train": {"dataset": "exam", "split": "train"}},
        ).wait(timeout=180)
        assert job.status.value == "Completed", job.failure_reason
        version = job.register(group, approved=approved).version
        self.models[(group, rounds)] = version
        return int(version)

    def deploy(self, name: str, group: str, version: int) -> Endpoint:
        return self.client.endpoints.create(
            name,
            variants=[{"name": "main", "model_group": group, "model_version": version}],
            data_capture={"enabled": True},
        ).wait(timeout=120)

    def send(
        self, endpoint: Endpoint, rows: pd.DataFrame, *, batch: int = 50, prefix: str | None = None
    ) -> tuple[datetime, datetime, list[tuple[str, list[float]]]]:
        """Send ``rows`` in requests of ``batch`` rows; the window that holds exactly
        those requests and, per request, (its inference id or event id, predictions)."""
        time.sleep(0.02)
        start = window_now()
        sent: list[tuple[str, list[float]]] = []
        values = rows[FEATURES].to_numpy()
        for i in range(0, len(values), batch):
            chunk = values[i : i + batch].tolist()
            if prefix is not None:
                inference_id = f"{prefix}-{i}"
                sent.append((inference_id, endpoint.predict(chunk, inference_id=inference_id)))
            else:
                answer = endpoint.invoke(
                    pd.DataFrame(chunk).to_csv(header=False, index=False).encode(),
                    "text/csv",
                    accept="application/json",
                )
                event = answer.headers["x-opensage-event-id"]
                sent.append((event, _predictions(answer.json())))
        end = window_now() + timedelta(milliseconds=5)
        time.sleep(0.02)
        return start, end, sent

    def ground_truth_files(self, endpoint: str) -> list[str]:
        return list(self.platform.store.list(f"endpoints/{endpoint}/ground-truth"))


def _predictions(body: Any) -> list[float]:
    values = body["predictions"] if isinstance(body, dict) else body
    return [float(v[0] if isinstance(v, list) else v) for v in values]


def error_of(response: Any) -> dict[str, Any]:
    """The error body of a 4xx answer."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] and error["message"]
    return error


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("monitoring")
    frame = make_frame(1000, seed=0)
    path = root / "exam.csv"
    frame.to_csv(path, index=False)
    platform = open_platform(
        Settings(data_dir=root / "data", cpu_slots=2, job_stop_grace_s=1.0, warm_workers=False)
    )
    with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
        client = opensage.Client("http://testserver", http=http)
        client.datasets.create(
            path, name="exam", label=LABEL, splits={"train": 0.8, "validation": 0.2}
        )
        yield Env(client, platform, http, root, frame)
    platform.close()
