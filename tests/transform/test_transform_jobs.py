"""Batch transform output matches the model's own predictions, row for row, in input order."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opensage.errors import Conflict, NotFound
from tests.transform.conftest import FEATURES, Transformer, read_predictions, write_csv


def test_a_dataset_split_is_predicted_row_for_row(transformer: Transformer) -> None:
    client = transformer.client
    job = client.transform_jobs.create(
        "exam-validation",
        model_group="exam",
        dataset="exam",
        split="validation",
        batch_size=16,
        tags={"team": "grading"},
    )
    assert job.status.value == "InProgress"
    assert job.info.model.model_version == 1  # the newest approved version, not v2
    job.wait(timeout=120)
    assert job.status.value == "Completed", job.failure_reason
    rows = client.datasets.get("exam").to_pandas(split="validation")
    assert job.progress.rows_done == job.progress.rows_total == len(rows)
    assert job.info.started_at is not None and job.info.ended_at is not None
    assert job.info.tags == {"team": "grading"}

    files = job.output_files()
    assert [f.name for f in files] == ["exam-v1-validation.out"]
    assert files[0].url == job.output_url + "/exam-v1-validation.out"
    got = read_predictions(job.read_output())
    expected = transformer.reference().predict(rows[FEATURES].to_numpy(dtype=np.float64))
    assert len(got) == len(rows)
    np.testing.assert_array_equal(got.astype(np.float32), expected.astype(np.float32))


def test_join_source_input_into_a_new_dataset(transformer: Transformer) -> None:
    client = transformer.client
    job = client.transform_jobs.create(
        "exam-joined",
        model_group="exam",
        model_version=1,
        dataset="exam",
        join_source="input",
        output_dataset="exam-scored",
        batch_size=100,
        max_parallel=2,
    ).wait(timeout=120)
    assert job.status.value == "Completed", job.failure_reason
    assert job.output_dataset == "exam-scored"
    assert job.info.output["dataset_version"] == 1
    scored = client.datasets.get("exam-scored")
    assert scored.label == "score"
    frame = scored.to_pandas()
    assert list(frame.columns) == [*FEATURES, "score", "prediction"]
    pd.testing.assert_frame_equal(frame[[*FEATURES, "score"]], transformer.frame)
    expected = transformer.reference().predict(transformer.frame[FEATURES].to_numpy())
    np.testing.assert_array_equal(frame["prediction"].to_numpy(np.float32), expected)


@pytest.mark.slow
def test_csv_files_with_several_workers_keep_their_order(
    transformer: Transformer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    inputs = {name: rng.uniform(0, 10, (5000, 3)) for name in ("a.csv", "b.csv", "c.csv")}
    for name, rows in inputs.items():
        write_csv(tmp_path / "in" / name, rows)
    (tmp_path / "in" / ".hidden").write_text("not data")
    job = transformer.client.transform_jobs.create(
        "csv-parallel",
        model_group="exam",
        uri=str(tmp_path / "in"),
        content_type="text/csv",
        batch_size=37,
        max_parallel=3,
        output_path="batch/csv-parallel",
    ).wait(timeout=180)
    assert job.status.value == "Completed", job.failure_reason
    assert job.progress.rows_total == 15000
    assert job.info.input["files"] == 3
    names = [f.name for f in job.output_files()]
    assert names == ["a.csv.out", "b.csv.out", "c.csv.out"]
    model = transformer.reference()
    for name, rows in inputs.items():
        got = read_predictions(job.read_output(f"{name}.out"))
        np.testing.assert_array_equal(got.astype(np.float32), model.predict(rows))
    downloaded = job.download(tmp_path / "out")
    assert sorted(p.name for p in downloaded) == names


def test_csv_join_keeps_the_input_values(transformer: Transformer, tmp_path: Path) -> None:
    rows = np.array([[1.5, 2.0, 0.25], [9.0, 0.0, 1.0], [3.0, 4.0, 5.0]])
    path = tmp_path / "small.csv"
    # Blank lines are not records (and a last line without its newline is one).
    path.write_text("1.5,2,0.25\n\n9,0,1\r\n3,4,5")
    job = transformer.client.transform_jobs.create(
        "csv-join", model_group="exam", uri=str(path), join_source="input"
    ).wait(timeout=60)
    assert job.status.value == "Completed", job.failure_reason
    frame = pd.read_csv(io.BytesIO(job.read_output()), header=None)
    np.testing.assert_array_equal(frame.iloc[:, :3].to_numpy(), rows)
    np.testing.assert_array_equal(
        frame.iloc[:, 3].to_numpy(np.float32), transformer.reference().predict(rows)
    )


def test_json_lines_in_and_out(transformer: Transformer, tmp_path: Path) -> None:
    records = [
        {"id": "s1", "experience": 1.0, "hours": 2.0, "noise": 3.0},
        {"id": "s2", "hours": 5.0, "noise": 0.5, "experience": 7.5},
        {"id": "s3", "experience": 4, "hours": None, "noise": 1},
    ]
    path = tmp_path / "students.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    job = transformer.client.transform_jobs.create(
        "jsonl-join",
        model_group="exam",
        uri=str(path),
        content_type="application/jsonlines",
        join_source="input",
        accept="application/jsonlines",
    ).wait(timeout=60)
    assert job.status.value == "Completed", job.failure_reason
    lines = [json.loads(line) for line in job.read_output().splitlines()]
    assert [line["id"] for line in lines] == ["s1", "s2", "s3"]
    features = np.array([[r["experience"], r["hours"], r["noise"]] for r in records], dtype=float)
    expected = transformer.reference().predict(features)
    np.testing.assert_array_equal(np.float32([line["prediction"] for line in lines]), expected)
    assert lines[2]["hours"] is None  # missing values reach the model as NaN

    listed = tmp_path / "listed.jsonl"
    listed.write_text('{"features": [1.0, 2.0, 3.0]}\n{"features": [7.5, 5.0, 0.5]}\n')
    job = transformer.client.transform_jobs.create(
        "jsonl-lists", model_group="exam", uri=str(listed), content_type="application/jsonlines"
    ).wait(timeout=60)
    assert job.status.value == "Completed", job.failure_reason
    np.testing.assert_array_equal(
        read_predictions(job.read_output()).astype(np.float32), expected[:2]
    )


def test_list_filter_paginate_and_delete(transformer: Transformer) -> None:
    client, http = transformer.client, transformer.http
    for name in ("listing-one", "listing-two"):
        client.transform_jobs.create(
            name, model_group="exam", dataset="exam", split="validation"
        ).wait(timeout=60)
    found = client.transform_jobs.list(name_contains="listing-")
    assert [j.name for j in found] == ["listing-two", "listing-one"]  # newest first
    first = http.get("/api/v1/transform-jobs", params={"limit": 1, "name_contains": "listing"})
    assert first.status_code == 200
    body = first.json()
    assert [j["name"] for j in body["items"]] == ["listing-two"]
    second = http.get(
        "/api/v1/transform-jobs",
        params={"limit": 1, "name_contains": "listing", "page_token": body["next_page_token"]},
    ).json()
    assert [j["name"] for j in second["items"]] == ["listing-one"]
    assert second["next_page_token"] is None
    completed = client.transform_jobs.list(status="Completed")
    assert {"listing-one", "listing-two"} <= {j.name for j in completed}
    assert client.transform_jobs.list(status="Stopping") == []
    bad = http.get("/api/v1/transform-jobs", params={"status": "Running"})
    assert bad.status_code == 422

    job = client.transform_jobs.get("listing-one")
    url = job.output_url
    job.delete()
    with pytest.raises(NotFound):
        client.transform_jobs.get("listing-one")
    assert url is not None and not Path(url).exists()  # its default output path went too
    with pytest.raises(NotFound):
        client.transform_jobs.get("listing-one").delete()
    with pytest.raises(Conflict):
        client.transform_jobs.get("listing-two").stop()  # it has ended
