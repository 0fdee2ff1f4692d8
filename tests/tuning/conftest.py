"""A platform whose scheduler and tuner run, and objective scripts for quick trials."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.config import Settings
from opensage.platform import Platform, open_platform
from opensage.server.app import create_app

LOSS_METRIC = [{"name": "loss", "regex": r"loss=([-0-9.eE+]+)"}]

# Reads its hyperparameters as SageMaker passes them (SM_HPS) and prints ``loss=`` once
# per step; LOSS is an expression of the hyperparameters and the step.
OBJECTIVE = """
import json, os, time


def number_or_text(value):
    try:
        return float(value)
    except ValueError:
        return value


hp = {{k: number_or_text(v) for k, v in json.loads(os.environ["SM_HPS"]).items()}}
globals().update(hp)
for step in range(1, {steps} + 1):
    value = {loss}
    print(f"loss={{value}}", flush=True)
    time.sleep({sleep})
"""


def objective_script(
    folder: Path, loss: str, *, steps: int = 1, sleep: float = 0.0, name: str = "objective.py"
) -> Path:
    """A training script whose ``loss`` metric is ``loss`` (a Python expression)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(OBJECTIVE.format(steps=steps, loss=loss, sleep=sleep)))
    return path


@pytest.fixture
def tuner_http(tmp_path: Path) -> Iterator[TestClient]:
    """An in-process app whose scheduler (2 CPU slots) and tuner run."""
    platform: Platform = open_platform(
        Settings(data_dir=tmp_path / "data", cpu_slots=2, job_stop_grace_s=1.0, warm_workers=False)
    )
    with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
        yield http
    platform.close()


@pytest.fixture
def tuner(tuner_http: TestClient) -> opensage.Client:
    """The SDK over that app."""
    return opensage.Client("http://testserver", http=tuner_http)
