"""One platform per test module with two approved versions of a small xgboost regressor."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.config import Settings
from opensage.platform import Platform, open_platform
from opensage.server.app import create_app
from opensage.serving.model import ServedModel

FEATURES = ["experience", "hours", "noise"]


@dataclass
class Served:
    client: opensage.Client
    platform: Platform
    rows: np.ndarray
    v1: opensage.ModelVersion
    v2: opensage.ModelVersion

    def local_model(self, version: int, folder: Path) -> ServedModel:
        """The version's model loaded in this process (the reference predictions)."""
        target = self.platform.registry.download("exam", version, folder / f"v{version}")
        return ServedModel(target)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serving")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (600, 3))
    y = 30 * x[:, 0] + 20 * x[:, 1] + rng.normal(0, 5, 600)
    path = root / "exam.csv"
    pd.DataFrame(x, columns=FEATURES).assign(score=y).to_csv(path, index=False)
    platform = open_platform(
        Settings(data_dir=root / "data", cpu_slots=2, job_stop_grace_s=1.0, warm_workers=False)
    )
    with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
        client = opensage.Client("http://testserver", http=http)
        client.datasets.create(path, name="exam", label="score")
        versions = []
        for name, rounds in (("exam-small", 5), ("exam-large", 40)):
            job = client.training_jobs.create(
                name,
                algorithm="xgboost",
                hyperparameters={"num_round": rounds, "max_depth": 3},
                channels={"train": "exam"},
            ).wait(timeout=120)
            assert job.status.value == "Completed", job.failure_reason
            versions.append(job.register("exam", approved=True))
        yield Served(client, platform, x[:20], versions[0], versions[1])
    platform.close()
