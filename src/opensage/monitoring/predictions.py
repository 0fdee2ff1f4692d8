"""A registered model's predictions over a dataset, by batch transform: how a baseline
learns what the model's outputs look like and how retraining compares two models on a
holdout. The transform runs the model in its own worker process, never in the server."""

from __future__ import annotations

import io
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from opensage.datasets.service import DatasetService
from opensage.storage import ArtifactStore
from opensage.transform.schemas import (
    DatasetInput,
    ModelRef,
    TransformJobCreate,
    TransformOutput,
)
from opensage.transform.service import TransformService


def start_predictions(
    transform: TransformService,
    prefix: str,
    *,
    model_group: str,
    model_version: int,
    dataset: str,
    version: int,
    split: str | None,
) -> str:
    """Submit the transform job; its name (``<prefix>-<random>``)."""
    name = f"{prefix[:50]}-{uuid.uuid4().hex[:8]}"
    transform.create(
        TransformJobCreate(
            name=name,
            model=ModelRef(model_group=model_group, model_version=model_version),
            input=DatasetInput(dataset=dataset, version=version, split=split),
            output=TransformOutput(accept="text/csv"),
            force=True,
            tags={"opensage:purpose": "monitoring"},
        )
    )
    return name


def read_predictions(store: ArtifactStore, job: str) -> np.ndarray:
    """The predictions a completed job wrote, one row per input row."""
    parts = [store.read_bytes(key) for key in store.list(f"transform-jobs/{job}/output")]
    data = b"".join(parts)
    if not data.strip():
        return np.empty((0, 1))
    table = pacsv.read_csv(
        io.BytesIO(data), read_options=pacsv.ReadOptions(autogenerate_column_names=True)
    )
    return np.column_stack([np.asarray(c.to_numpy(), dtype=np.float64) for c in table.columns])


def read_labels(
    datasets: DatasetService, dataset: str, version: int, split: str | None, label: str
) -> np.ndarray:
    """The label column of a dataset version (or split), in row order."""
    with tempfile.TemporaryDirectory(prefix="opensage-labels-") as folder:
        path = Path(folder) / "data.parquet"
        datasets.materialize(dataset, version, split, path)
        column = pq.read_table(path, columns=[label]).column(0)
        return np.asarray(column.to_numpy(), dtype=np.float64)
