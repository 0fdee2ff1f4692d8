"""Datasets on an S3 artifact store (a real S3-protocol server), through the SDK."""

from __future__ import annotations

import gzip
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.config import Settings
from opensage.errors import InvalidInput, NotFound
from opensage.platform import Platform, open_platform
from opensage.server.app import create_app


@dataclass
class S3Platform:
    """A platform whose artifacts live in ``s3://bucket/prefix``, and an SDK client on it."""

    platform: Platform
    client: opensage.Client
    s3: Any
    bucket: str
    prefix: str

    def keys(self, under: str = "") -> list[str]:
        """Every object key in the bucket under ``under`` (read with boto3, not the store)."""
        found = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=under).get("Contents", [])
        return sorted(str(item["Key"]) for item in found)


@pytest.fixture
def on_s3(s3_server: str, tmp_path: Path) -> Iterator[S3Platform]:
    bucket = f"datasets-{uuid.uuid4().hex[:16]}"
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket=bucket)
    settings = Settings(
        data_dir=tmp_path / "data",
        artifact_url=f"s3://{bucket}/prefix",
        s3_endpoint_url=s3_server,
    )
    platform = open_platform(settings)
    try:
        with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
            client = opensage.Client("http://testserver", http=http)
            yield S3Platform(platform, client, s3, bucket, "prefix")
    finally:
        platform.close()


def scores_frame(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "hours": rng.uniform(0, 10, rows).round(3),
            "attempts": rng.integers(1, 6, rows),
            "passed": rng.choice(["yes", "no"], rows, p=[0.7, 0.3]),
        }
    )


def test_a_dataset_from_an_upload_is_stored_in_the_bucket(
    on_s3: S3Platform, tmp_path: Path
) -> None:
    frame = scores_frame()
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)

    dataset = on_s3.client.datasets.create(
        path, name="scores", label="passed", splits={"train": 0.75, "test": 0.25}, seed=3
    )

    prefix = "prefix/datasets/scores/"
    keys = on_s3.keys(prefix)
    assert [k.rsplit("/", 1)[1] for k in keys] == ["data.parquet", "splits.parquet"]
    data_key = keys[0]
    assert dataset.latest.artifact_url == f"s3://{on_s3.bucket}/{data_key}"
    assert on_s3.keys() == keys  # nothing else in the bucket: no temporary objects
    body = on_s3.s3.get_object(Bucket=on_s3.bucket, Key=data_key)["Body"].read()
    stored = pq.read_table(io.BytesIO(body)).to_pandas()
    pd.testing.assert_frame_equal(stored, frame)
    # The staged upload was used up.
    assert list(on_s3.platform.uploads.directory.iterdir()) == []

    assert dataset.num_rows == len(frame)
    assert dataset.splits is not None and dataset.splits.counts == {"train": 300, "test": 100}
    stats = {c.name: c for c in dataset.stats().columns}
    assert stats["hours"].mean == pytest.approx(frame["hours"].mean())
    assert stats["hours"].std == pytest.approx(frame["hours"].std())
    assert stats["attempts"].max == frame["attempts"].max()
    assert {v.value: v.count for v in stats["passed"].top_values} == dict(
        frame["passed"].value_counts()
    )

    train = dataset.to_pandas(split="train")
    test = dataset.to_pandas(split="test")
    assert (len(train), len(test)) == (300, 100)
    everything = ["hours", "attempts", "passed"]
    together = pd.concat([train, test]).sort_values(everything, ignore_index=True)
    pd.testing.assert_frame_equal(together, frame.sort_values(everything, ignore_index=True))
    # Stratified by the label: both splits keep the share of "yes" within one row.
    share = (frame["passed"] == "yes").mean()
    assert abs((test["passed"] == "yes").sum() - share * 100) <= 1
    pd.testing.assert_frame_equal(dataset.to_pandas(), frame)


def test_versions_and_delete_on_s3(on_s3: S3Platform, tmp_path: Path) -> None:
    first, second = scores_frame(100), scores_frame(150)
    first.to_csv(tmp_path / "v1.csv", index=False)
    second.to_parquet(tmp_path / "v2.parquet", index=False)
    dataset = on_s3.client.datasets.create(tmp_path / "v1.csv", name="exams")
    dataset.add_version(tmp_path / "v2.parquet")

    assert [v.version for v in dataset.versions()] == [2, 1]
    assert len(on_s3.keys("prefix/datasets/exams/")) == 2
    assert len(dataset.to_pandas(version=1)) == 100
    assert len(dataset.to_pandas()) == 150
    assert dataset.stats(version=1).num_rows == 100

    on_s3.client.datasets.delete("exams")

    assert on_s3.keys() == []
    with pytest.raises(NotFound):
        on_s3.client.datasets.get("exams")


@pytest.mark.parametrize("compressed", [False, True], ids=["csv", "csv.gz"])
def test_a_dataset_from_an_s3_uri(on_s3: S3Platform, compressed: bool) -> None:
    frame = scores_frame(250)
    body = frame.to_csv(index=False).encode()
    key = "incoming/scores.csv"
    if compressed:
        body, key = gzip.compress(body), key + ".gz"
    on_s3.s3.put_object(Bucket=on_s3.bucket, Key=key, Body=body)
    source = f"s3://{on_s3.bucket}/{key}"

    dataset = on_s3.client.datasets.create(source, name="from-s3", label="passed")

    assert dataset.latest.source == source
    assert dataset.num_rows == 250
    pd.testing.assert_frame_equal(dataset.to_pandas(), frame)
    assert dataset.stats().columns[0].mean == pytest.approx(frame["hours"].mean())
    # The source object is left as it was; the dataset got its own copy under the prefix.
    assert on_s3.keys("incoming/") == [key]
    assert len(on_s3.keys("prefix/datasets/from-s3/")) == 1


def test_a_missing_s3_object_is_a_clear_error(on_s3: S3Platform) -> None:
    with pytest.raises(InvalidInput) as caught:
        on_s3.client.datasets.create(f"s3://{on_s3.bucket}/nowhere/missing.csv", name="ghost")

    assert caught.value.field == "source"
    assert "missing.csv" in caught.value.message
    assert on_s3.client.datasets.list() == []
    assert on_s3.keys() == []
