"""A platform whose scheduler runs jobs, with small grace periods; script helpers."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.config import Settings
from opensage.platform import Platform, open_platform
from opensage.server.app import create_app


@pytest.fixture
def trainer(tmp_path: Path) -> Iterator[opensage.Client]:
    """The SDK over an in-process app whose scheduler runs jobs (2 CPU slots)."""
    platform: Platform = open_platform(
        Settings(data_dir=tmp_path / "data", cpu_slots=2, job_stop_grace_s=1.0, warm_workers=False)
    )
    with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
        yield opensage.Client("http://testserver", http=http)
    platform.close()


@pytest.fixture
def regression_dataset(trainer: opensage.Client, tmp_path: Path) -> str:
    """A small regression dataset with train/validation splits, on the platform."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (400, 3))
    y = 3 * x[:, 0] - 2 * x[:, 1] + rng.normal(0, 0.5, 400)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y)
    path = tmp_path / "reg.csv"
    frame.to_csv(path, index=False)
    trainer.datasets.create(path, name="reg", label="y", splits={"train": 0.8, "validation": 0.2})
    return "reg"


def write_script(folder: Path, body: str, name: str = "train.py") -> Path:
    """Write a training script (dedented) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path
