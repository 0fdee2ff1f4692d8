"""Datasets from each source format, through the SDK against the in-process app."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import opensage


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "hours": rng.uniform(0, 100, n).round(2),
            "tests": rng.integers(0, 20, n),
            "track": rng.choice(["cloud", "data", "ml"], n),
            "passed": rng.random(n) > 0.5,
        }
    )


def test_csv_becomes_versioned_parquet_with_inferred_schema(
    client: opensage.Client, tmp_path: Path
) -> None:
    frame = _frame()
    path = tmp_path / "students.csv"
    frame.to_csv(path, index=False)

    dataset = client.datasets.create(path, name="students", label="passed")

    assert dataset.version == 1
    assert dataset.num_rows == len(frame)
    assert dataset.label == "passed"
    types = {c.name: c.type for c in dataset.columns}
    assert types == {"hours": "float", "tests": "integer", "track": "string", "passed": "boolean"}
    assert dataset.latest.source == "upload:students.csv"
    assert dataset.latest.source_format == "csv"
    assert dataset.latest.artifact_url.endswith("/data.parquet")
    assert pq.read_table(dataset.latest.artifact_url).num_rows == len(frame)
    back = dataset.to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_only_columns_whose_values_repeat_are_dictionary_encoded(
    client: opensage.Client, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    n = 5000
    frame = pd.DataFrame(
        {
            "id": np.arange(n),  # all distinct
            "reading": rng.normal(0, 1, n),  # all distinct
            "grade": rng.integers(1, 6, n),
            "rounded": rng.normal(20, 3, n).round(0),
            "track": rng.choice(["cloud", "data", "ml"], n),
            "note": [f"note {i}" for i in range(n)],  # all distinct
        }
    )
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)

    dataset = client.datasets.create(path, name="mixed")

    metadata = pq.ParquetFile(dataset.latest.artifact_url).metadata
    assert metadata.num_row_groups >= 1
    for group in range(metadata.num_row_groups):
        encoded = {
            metadata.row_group(group).column(i).path_in_schema: "RLE_DICTIONARY"
            in metadata.row_group(group).column(i).encodings
            for i in range(metadata.num_columns)
        }
        assert encoded == {
            "id": False,
            "reading": False,
            "grade": True,
            "rounded": True,
            "track": True,
            "note": False,
        }
    pd.testing.assert_frame_equal(dataset.to_pandas(), frame, check_dtype=False)


def test_parquet_source_keeps_its_types(client: opensage.Client, tmp_path: Path) -> None:
    frame = _frame()
    path = tmp_path / "students.parquet"
    frame.to_parquet(path, index=False)

    dataset = client.datasets.create(path, name="students-pq")

    assert dataset.latest.source_format == "parquet"
    assert [c.type for c in dataset.columns] == ["float", "integer", "string", "boolean"]
    assert [c.arrow_type for c in dataset.columns][:2] == ["double", "int64"]
    pd.testing.assert_frame_equal(dataset.to_pandas(), frame, check_dtype=False)


def test_json_lines_source(client: opensage.Client, tmp_path: Path) -> None:
    frame = _frame(50)
    path = tmp_path / "students.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in frame.to_dict(orient="records")) + "\n")

    dataset = client.datasets.create(path, name="students-jsonl")

    assert dataset.latest.source_format == "jsonl"
    assert dataset.num_rows == 50
    pd.testing.assert_frame_equal(dataset.to_pandas(), frame, check_dtype=False)


def test_gzipped_csv_and_tab_separated(client: opensage.Client, tmp_path: Path) -> None:
    frame = _frame(30)
    gz = tmp_path / "students.csv.gz"
    with gzip.open(gz, "wt") as handle:
        frame.to_csv(handle, index=False)
    tsv = tmp_path / "students.tsv"
    frame.to_csv(tsv, index=False, sep="\t")

    assert client.datasets.create(gz, name="gz").num_rows == 30
    assert client.datasets.create(tsv, name="tsv").to_pandas()["track"].tolist() == list(
        frame["track"]
    )


def test_dataframe_source(client: opensage.Client) -> None:
    frame = _frame(10)
    dataset = client.datasets.create(frame, name="from-frame")
    pd.testing.assert_frame_equal(dataset.to_pandas(), frame, check_dtype=False)


def test_server_side_path_source(http: object, client: opensage.Client, tmp_path: Path) -> None:
    frame = _frame(20)
    path = tmp_path / "server-side.csv"
    frame.to_csv(path, index=False)
    response = client.session.request(
        "POST", "/api/v1/datasets", json={"name": "local", "source": str(path)}
    )
    assert response.status_code == 201
    assert response.json()["source"] == str(path)
    assert client.datasets.get("local").num_rows == 20


def test_column_that_changes_type_late_in_the_file_is_widened(
    client: opensage.Client, tmp_path: Path
) -> None:
    # More than one 16 MiB block, so the reader infers "integer" from the first block.
    rows = 2_000_000
    ints = np.arange(rows) % 1000
    path = tmp_path / "late.csv"
    with open(path, "w") as handle:
        handle.write("a,b\n")
        handle.write("\n".join(f"{v},{v}" for v in ints.tolist()))
        handle.write("\n3.5,x\n")

    dataset = client.datasets.create(path, name="late")

    types = {c.name: c.type for c in dataset.columns}
    assert types == {"a": "float", "b": "string"}
    assert dataset.num_rows == rows + 1


def test_column_types_override_inference(client: opensage.Client, tmp_path: Path) -> None:
    path = tmp_path / "zip.csv"
    path.write_text("zip,value\n01234,1\n98765,2\n")
    dataset = client.datasets.create(path, name="zips", column_types={"zip": "string"})
    assert dataset.to_pandas()["zip"].tolist() == ["01234", "98765"]


def test_versions_are_immutable_and_inherit_label_and_splits(
    client: opensage.Client, tmp_path: Path
) -> None:
    first = tmp_path / "v1.csv"
    _frame(100).to_csv(first, index=False)
    second = tmp_path / "v2.csv"
    _frame(150, seed=1).to_csv(second, index=False)
    dataset = client.datasets.create(
        first, name="grows", label="track", splits={"train": 0.5, "test": 0.5}, seed=3
    )
    v1_url = dataset.latest.artifact_url

    dataset.add_version(second)

    assert dataset.version == 2
    assert dataset.num_rows == 150
    assert dataset.label == "track"
    assert dataset.splits is not None and dataset.splits.seed == 3
    assert sum(dataset.splits.counts.values()) == 150
    assert [v.version for v in dataset.versions()] == [2, 1]
    assert pq.read_table(v1_url).num_rows == 100
    assert len(dataset.to_pandas(version=1)) == 100
    assert len(dataset.to_pandas()) == 150


def test_list_is_paginated_and_filtered(client: opensage.Client, tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text("x\n1\n")
    for index in range(5):
        client.datasets.create(path, name=f"set-{index}")
    client.datasets.create(path, name="other")

    page = client.session.json("GET", "/api/v1/datasets", params={"limit": 2})
    assert [d["name"] for d in page["items"]] == ["other", "set-0"]
    second = client.session.json(
        "GET", "/api/v1/datasets", params={"limit": 2, "page_token": page["next_page_token"]}
    )
    assert [d["name"] for d in second["items"]] == ["set-1", "set-2"]
    assert [d.name for d in client.datasets.list()] == [
        "other",
        *(f"set-{i}" for i in range(5)),
    ]
    assert [d.name for d in client.datasets.list(name_contains="set-", limit=3)] == [
        "set-0",
        "set-1",
        "set-2",
    ]


def test_delete_removes_rows_and_files(client: opensage.Client, tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text("x\n1\n2\n")
    dataset = client.datasets.create(path, name="doomed")
    data_file = Path(dataset.latest.artifact_url)
    assert data_file.exists()

    dataset.delete()

    assert not data_file.exists()
    with pytest.raises(opensage.NotFound):
        client.datasets.get("doomed")
    assert client.datasets.create(path, name="doomed").version == 1


def test_arrow_export_matches_parquet_schema(client: opensage.Client, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,x\n2,\n")
    table = client.datasets.create(path, name="nulls").to_arrow()
    assert table.schema.field("b").type == pa.string()
    assert table.column("b").to_pylist() == ["x", None]
