"""Batch transform with the input files and the artifact store on S3 (a real S3 server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.config import Settings
from opensage.errors import InvalidInput
from opensage.platform import open_platform
from opensage.server.app import create_app
from opensage.transform.inputs import find_files
from tests.transform.conftest import custom_model, read_predictions


@pytest.fixture
def on_s3(s3_server: str, tmp_path: Path) -> Iterator[tuple[opensage.Client, str]]:
    bucket = f"transform-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    platform = open_platform(
        Settings(
            data_dir=tmp_path / "data",
            artifact_url=f"s3://{bucket}/store",
            s3_endpoint_url=s3_server,
            cpu_slots=2,
            warm_workers=False,
        )
    )
    try:
        with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
            yield opensage.Client("http://testserver", http=http), bucket
    finally:
        platform.close()


def test_s3_files_in_s3_store_out(
    on_s3: tuple[opensage.Client, str], s3_server: str, tmp_path: Path
) -> None:
    client, bucket = on_s3
    s3 = boto3.client("s3", endpoint_url=s3_server)
    rng = np.random.default_rng(3)
    inputs = {name: rng.uniform(0, 1, (2000, 4)) for name in ("day=1/x.csv", "day=2/x.csv")}
    for name, rows in inputs.items():
        body = pd.DataFrame(rows).to_csv(header=False, index=False).encode()
        s3.put_object(Bucket=bucket, Key=f"inputs/{name}", Body=body)
    custom_model(client, tmp_path, "summer", "return data.sum(axis=1)\n")

    job = client.transform_jobs.create(
        "from-s3",
        model_group="summer",
        uri=f"s3://{bucket}/inputs/",
        max_parallel=2,
        batch_size=500,
        output_path="scores/from-s3",
    ).wait(timeout=120)
    assert job.status.value == "Completed", job.failure_reason
    assert job.output_url == f"s3://{bucket}/store/scores/from-s3"
    assert [f.name for f in job.output_files()] == ["day=1/x.csv.out", "day=2/x.csv.out"]
    for name, rows in inputs.items():
        got = read_predictions(job.read_output(f"{name}.out"))
        np.testing.assert_allclose(got, rows.sum(axis=1), rtol=1e-15)

    job = client.transform_jobs.create(
        "to-dataset",
        model_group="summer",
        uri=f"s3://{bucket}/inputs/day=2/x.csv",
        join_source="input",
        output_dataset="summed",
    ).wait(timeout=120)
    assert job.status.value == "Completed", job.failure_reason
    frame = client.datasets.get("summed").to_pandas()
    assert list(frame.columns) == ["f0", "f1", "f2", "f3", "prediction"]
    np.testing.assert_array_equal(frame.iloc[:, :4].to_numpy(), inputs["day=2/x.csv"])

    with pytest.raises(InvalidInput, match="no files"):
        client.transform_jobs.create(
            "nothing-there", model_group="summer", uri=f"s3://{bucket}/nothing/"
        )


def test_local_paths_are_refused_when_auth_is_on(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("1,2\n")
    with pytest.raises(InvalidInput, match="auth is on"):
        find_files(str(tmp_path / "rows.csv"), s3_endpoint_url=None, allow_local_paths=False)
