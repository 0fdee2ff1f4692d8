"""A real server holding a small trained XGBoost model, for the registry and endpoint
commands: started once per test module (tests there use their own group and endpoint
names), as a model takes a few seconds to train."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import opensage
from tests.conftest import ServerProcess

FEATURES = ["a", "b", "c"]
TRAINED_JOB = "reg-xgb"


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A started server with the completed 5-round XGBoost regression job ``reg-xgb``
    (y = 3a - 2b + noise, features a, b, c)."""
    folder = tmp_path_factory.mktemp("model-server")
    server = ServerProcess(data_dir=folder / "server-data").start()
    try:
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 10, (200, 3))
        y = 3 * x[:, 0] - 2 * x[:, 1] + rng.normal(0, 0.5, 200)
        path = folder / "reg.csv"
        pd.DataFrame(x, columns=FEATURES).assign(y=y).to_csv(path, index=False)
        with opensage.Client(server.url) as client:
            client.datasets.create(
                path, name="reg", label="y", splits={"train": 0.8, "validation": 0.2}
            )
            job = client.training_jobs.create(
                TRAINED_JOB,
                algorithm="xgboost",
                hyperparameters={"num_round": 5, "max_depth": 3},
                channels={"train": "reg:train", "validation": "reg:validation"},
            ).wait(timeout=120)
            assert job.status.value == "Completed", job.info.failure_reason
        yield server
    finally:
        server.stop()
