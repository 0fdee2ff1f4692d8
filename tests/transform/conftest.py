"""One platform for the transform tests: an approved xgboost regressor over a small exam
dataset, and helpers for models with their own (slow, or wrong) inference code."""

from __future__ import annotations

import io
import tarfile
import textwrap
import time
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
class Transformer:
    client: opensage.Client
    platform: Platform
    http: TestClient
    root: Path
    frame: pd.DataFrame
    """The exam dataset's rows, in order."""

    def reference(self, group: str = "exam", version: int = 1) -> ServedModel:
        """The model version loaded in this process: the predictions to match."""
        target = self.root / "reference" / group / f"v{version}"
        if not target.exists():
            self.platform.registry.download(group, version, target)
        return ServedModel(target)


@pytest.fixture(scope="package")
def transformer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Transformer]:
    root = tmp_path_factory.mktemp("transform")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (600, 3))
    y = 30 * x[:, 0] + 20 * x[:, 1] + rng.normal(0, 5, 600)
    frame = pd.DataFrame(x, columns=FEATURES).assign(score=y)
    path = root / "exam.csv"
    frame.to_csv(path, index=False)
    platform = open_platform(
        Settings(data_dir=root / "data", cpu_slots=3, job_stop_grace_s=1.0, warm_workers=False)
    )
    with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
        client = opensage.Client("http://testserver", http=http)
        client.datasets.create(
            path, name="exam", label="score", splits={"train": 0.8, "validation": 0.2}
        )
        job = client.training_jobs.create(
            "exam-xgb",
            algorithm="xgboost",
            hyperparameters={"num_round": 20, "max_depth": 3},
            channels={"train": "exam:train"},
        ).wait(timeout=180)
        assert job.status.value == "Completed", job.failure_reason
        job.register("exam", approved=True)  # v1
        job.register("exam")  # v2, pending approval
        yield Transformer(client, platform, http, root, frame)
    platform.close()


def custom_model(
    client: opensage.Client, folder: Path, group: str, predict_body: str
) -> opensage.ModelVersion:
    """Register (approved) a model whose ``code/inference.py`` predicts with ``predict_body``
    (the body of ``predict_fn(data, model)``)."""
    source = (
        "import os, time\nimport numpy as np\n\n\ndef model_fn(model_dir):\n    return None\n\n\n"
    )
    source += "def predict_fn(data, model):\n" + textwrap.indent(
        textwrap.dedent(predict_body), "    "
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = source.encode()
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{group}.tar.gz"
    archive.write_bytes(buffer.getvalue())
    upload = client.datasets.upload(archive)
    return client.models.register(group, source=upload, approval_status="Approved")


def write_csv(path: Path, rows: np.ndarray) -> Path:
    """A headerless CSV of ``rows`` (SageMaker's text/csv)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, header=False, index=False)
    return path


def read_predictions(data: bytes) -> np.ndarray:
    """The last column of a headerless CSV output, as numbers."""
    frame = pd.read_csv(io.BytesIO(data), header=None)
    return frame.iloc[:, -1].to_numpy(dtype=np.float64)


def wait_for(condition: object, timeout: float = 60.0, what: str = "") -> None:
    """Poll ``condition()`` until it is true."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
